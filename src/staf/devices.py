"""Devices a user names (``--device cpu|cuda|cuda:1|mps``): refused with a message when unusable."""

from __future__ import annotations

from staf.errors import StafError


def check_device(device: str) -> None:
    """Refuse a device torch cannot allocate on here."""
    import torch

    try:
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise StafError(f"--device {device} is not usable here ({str(exc).splitlines()[0]}); use --device cpu") from None
