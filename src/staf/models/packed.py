"""Packed models: safetensors files with int8 weights, for shipping (the default model).

A packed file holds no pickle. Its tensors:

- ``q/NAME`` (int8) and ``scale/NAME`` (float32, one per output channel): weights of two or more
  dimensions with at least :data:`MIN_QUANTISED` elements, quantised symmetrically per output
  channel (axis 0; axis 1 for transposed convolutions, whose weights are ``(in, out, k, k)``):
  ``scale = max |w| / 127`` over the channel, ``q = round(w / scale)``, de-quantised as
  ``q · scale`` when loaded (at most half a step, ``scale / 2``, from the original);
- ``f/NAME``: every other tensor as it was (biases, normalisation statistics, small tensors).

Its string metadata: ``format`` (``staf-packed``), ``version``, ``staf_version``, ``model`` (the
registry name), ``config``, ``body_model``, ``crop`` and ``provenance`` (JSON texts).
:func:`staf.models.checkpoint.load_checkpoint` reads these files as it reads checkpoints.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

import staf
from staf.data.crops import CropRule
from staf.errors import MalformedFileError, MissingAssetError
from staf.models.base import MeshRecoveryModel

FORMAT = "staf-packed"
#: smallest weight that is quantised (smaller ones stay float32: they cost nothing)
MIN_QUANTISED = 1024


def channel_axes(model: nn.Module) -> dict[str, int]:
    """State-dict names of weights → their output-channel axis (1 for transposed convolutions)."""
    return {f"{name}.weight" if name else "weight": 1 for name, module in model.named_modules()
            if isinstance(module, nn.modules.conv._ConvTransposeNd)}


def quantise(weight: torch.Tensor, axis: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-channel int8: (…) float → int8 of the same shape, float32 scales (C,)."""
    moved = weight.detach().float().movedim(axis, 0)
    scale = moved.abs().flatten(1).amax(dim=1).clamp_min(1e-12) / 127.0
    values = torch.round(moved / scale.view(-1, *[1] * (moved.dim() - 1))).clamp(-127, 127).to(torch.int8)
    return values.movedim(0, axis).contiguous(), scale


def dequantise(values: torch.Tensor, scale: torch.Tensor, axis: int) -> torch.Tensor:
    shape = [1] * values.dim()
    shape[axis] = -1
    return values.float() * scale.view(shape)


def pack_model(path: str | Path, model: MeshRecoveryModel, crop: CropRule, provenance: dict[str, Any]) -> Path:
    """Write ``model`` as a packed safetensors file (atomically)."""
    from safetensors.torch import save

    from staf.io import atomic_write

    axes = channel_axes(model)
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and tensor.dim() >= 2 and tensor.numel() >= MIN_QUANTISED:
            tensors[f"q/{name}"], tensors[f"scale/{name}"] = quantise(tensor, axes.get(name, 0))
        else:
            tensors[f"f/{name}"] = tensor.detach().cpu().contiguous()
    metadata = {
        "format": FORMAT, "version": "1", "staf_version": staf.__version__, "model": model.name,
        "config": json.dumps(dataclasses.asdict(model.config)),
        "body_model": json.dumps({"name": model.body.name, "num_vertices": model.body.num_vertices}),
        "crop": json.dumps(dataclasses.asdict(crop)), "provenance": json.dumps(provenance),
    }
    return atomic_write(path, lambda handle: handle.write(save(tensors, metadata=metadata)))


def read_packed(path: str | Path, tensors: bool = True) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """(payload, packed tensors) of a packed file: the payload has the keys of a staf checkpoint
    (``model``, ``config``, ``body_model``, ``crop``, ``extra``) plus ``provenance``; with
    ``tensors=False`` only the metadata is read (the dict of tensors is empty)."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"packed model {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            values = {key: handle.get_tensor(key) for key in handle.keys()} if tensors else {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise MalformedFileError(f"{path}: not a readable safetensors file ({exc})") from exc
    if metadata.get("format") != FORMAT:
        raise MalformedFileError(f"{path}: a safetensors file but not a staf packed model (format "
                                 f"{metadata.get('format')!r}); make one with scripts/pack_default_model.py")
    try:
        payload = {"format": FORMAT, "model": metadata["model"], "config": json.loads(metadata["config"]),
                   "body_model": json.loads(metadata["body_model"]), "crop": json.loads(metadata["crop"]),
                   "provenance": json.loads(metadata.get("provenance", "{}")), "extra": {},
                   "staf_version": metadata.get("staf_version")}
    except (KeyError, ValueError) as exc:
        raise MalformedFileError(f"{path}: packed-model metadata is incomplete or not JSON ({exc})") from exc
    return payload, values


def unpack_state(tensors: dict[str, torch.Tensor], axes: dict[str, int]) -> dict[str, torch.Tensor]:
    """De-quantise a packed file's tensors into a state dict (``axes`` from :func:`channel_axes`)."""
    state = {key[2:]: value for key, value in tensors.items() if key.startswith("f/")}
    for key, value in tensors.items():
        if key.startswith("q/"):
            name = key[2:]
            state[name] = dequantise(value, tensors[f"scale/{name}"], axes.get(name, 0))
    return state


#: the default model shipped in the package (``staf demo`` / ``staf eval`` without --checkpoint)
DEFAULT_MODEL = "staf_synth_cpu.safetensors"


def default_model_path() -> Path | None:
    """Path of the shipped default model, or None when this installation has none."""
    import importlib.resources

    path = Path(str(importlib.resources.files("staf.models") / "weights" / DEFAULT_MODEL))
    return path if path.is_file() else None
