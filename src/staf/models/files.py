"""Reading model files safely: torch files only with ``weights_only=True`` (never code from a
file), state dicts only strictly (every missing, unexpected or mis-shaped key named).

Used by staf checkpoints (:mod:`staf.models.checkpoint`), the authors' files
(:mod:`staf.models.staf.official`) and training; it knows no model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from staf.errors import MalformedFileError, MissingAssetError, StafError


def read_torch_file(path: str | Path, what: str) -> Any:
    """``torch.load(..., weights_only=True)`` with clear errors for missing, damaged or unsafe files."""
    import pickle
    import warnings
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"{what} {path} does not exist")
    if path.stat().st_size == 0:
        raise MalformedFileError(f"{path}: empty file (0 bytes), not a {what}")
    with open(path, "rb") as handle:
        magic = handle.read(2)
    if magic != b"PK" and magic[:1] != b"\x80":       # torch zip archive, or a legacy pickle
        raise MalformedFileError(f"{path}: not a torch file (neither a torch zip archive nor a pickle); give the "
                                 f"{what} written by 'staf train' or 'staf convert'")
    try:
        with warnings.catch_warnings():       # torch's advice to "file an issue" is not for staf's users
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = str(exc).split("Unsupported global:", 1)[-1].split(".", 1)[0].strip() if "Unsupported global" in str(exc) else ""
        asks = f" (it asks for {found.split()[-1]})" if found else ""
        raise MalformedFileError(
            f"{path}: refused: it holds Python objects other than tensors and plain data{asks}, which no {what} "
            "needs. staf loads files with weights_only=True and never runs code from a file; re-save the file's "
            "tensors with torch.save(state_dict) if you trust it") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        reason = "truncated or damaged" if any(word in str(exc) for word in ("central directory", "EOF", "truncated",
                                                                              "failed finding")) else "not a torch file"
        raise MalformedFileError(f"{path}: cannot be read as a {what} ({reason}); give the file written by "
                                 "'staf train' or 'staf convert'") from None


def load_state_dict_strict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` that names every missing, unexpected or mis-shaped key, and
    refuses a state dict that is not a mapping of names to tensors, weights of another kind
    (integer or complex where the model has real numbers) and NaN or infinite weights."""
    if not isinstance(state_dict, dict):
        raise StafError(f"{source}: the weights are a {type(state_dict).__name__}, not a mapping of names to tensors "
                        "(hand-edited or damaged)")
    odd = [repr(k) for k, v in state_dict.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if odd:
        raise StafError(f"{source}: weights {', '.join(odd[:5])} are not named tensors (hand-edited or damaged)")
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    common = sorted(set(own) & set(state_dict))
    shapes = [f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
              for k in common if own[k].shape != state_dict[k].shape]
    kinds = [f"{k}: {state_dict[k].dtype} vs {own[k].dtype}" for k in common
             if state_dict[k].is_complex() or state_dict[k].is_floating_point() != own[k].is_floating_point()]
    not_finite = [k for k in common if state_dict[k].is_floating_point() and not torch.isfinite(state_dict[k]).all()]
    if missing or unexpected or shapes or kinds or not_finite:
        lines = [f"{source} does not fit this model:"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", shapes),
                             ("wrong kind of number", kinds), ("NaN or infinite values", not_finite)):
            if items:
                shown = ", ".join(items[:12]) + (f", … ({len(items)} in all)" if len(items) > 12 else "")
                lines.append(f"  {title}: {shown}")
        raise StafError("\n".join(lines))
    model.load_state_dict(state_dict, strict=True)
