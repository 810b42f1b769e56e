"""Devices a user names (``--device cpu|cuda|cuda:1|mps``): refused with a message when unusable."""

from __future__ import annotations

from staf.errors import StafError


#: the device types staf runs on (torch knows more, e.g. ``meta``, which holds no numbers)
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu")


def check_device(device: str) -> None:
    """Refuse a device that is not one of :data:`DEVICE_TYPES` or that torch cannot allocate on here."""
    import torch

    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError, ValueError):
        kind = None
    if kind not in DEVICE_TYPES:
        raise StafError(f"--device {device}: not a device staf runs on; use cpu, cuda, cuda:N, mps or xpu")
    try:
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise StafError(f"--device {device} is not usable here ({str(exc).splitlines()[0]}); use --device cpu") from None
