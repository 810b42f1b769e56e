"""staf checkpoints of any registered model.

A staf checkpoint is a ``torch.save`` dict of plain data and tensors (read back with
``weights_only=True``)::

    {"format": "staf-checkpoint", "version": 1, "staf_version": "...", "model": "staf",
     "config": {...the model's config...}, "body_model": {"name": ..., "num_vertices": ...},
     "crop": {"rule": "square", "scale": 1.3}, "state_dict": {...}, "extra": {...}}

``model`` is the registry name (checkpoints written before the registry say ``"STAF"``, read as
``staf``); ``crop`` the crop rule the model was trained with (:mod:`staf.data.crops`). The
authors' STAF files are converted by :mod:`staf.models.staf.official`; reading torch files safely
and strict state-dict loading live in :mod:`staf.models.files`, models are built by name through
:mod:`staf.models.registry`, and :func:`staf.models.load` turns a user's model choice into a
ready model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

import staf
from staf.body import BodyModel
from staf.config import from_dict
from staf.data.crops import CropRule
from staf.errors import MalformedFileError, StafError
from staf.io import atomic_write
from staf.models.base import MeshRecoveryModel
from staf.models.files import load_state_dict_strict, read_torch_file
from staf.models.registry import model_class

FORMAT = "staf-checkpoint"


def save_checkpoint(path: str | Path, model: MeshRecoveryModel, extra: dict[str, Any] | None = None,
                    crop: CropRule | None = None) -> None:
    """Write a staf checkpoint (model name and config, body model identity, crop rule, weights,
    ``extra`` plain data)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "version": 1,
        "staf_version": staf.__version__,
        "model": model.name,
        "config": dataclasses.asdict(model.config),
        "body_model": {"name": model.body.name, "num_vertices": model.body.num_vertices},
        "crop": dataclasses.asdict(crop or CropRule()),
        "state_dict": model.state_dict(),
        "extra": extra or {},
    }
    atomic_write(path, lambda handle: torch.save(payload, handle))   # never a half-written checkpoint


def load_checkpoint(path: str | Path, body: BodyModel | None = None, device: torch.device | str = "cpu",
                    base_data: str | Path | None = None) -> tuple[MeshRecoveryModel, dict]:
    """Read a staf checkpoint (or a packed ``.safetensors`` model, :mod:`staf.models.packed`)
    into a new model of the class it names, on ``device``; returns (model, payload).

    Without ``body``, the body model the checkpoint was made with is loaded ("open", or SMPL of
    the recorded gender from ``base_data``).
    """
    packed = Path(path).suffix == ".safetensors"
    if packed:
        from staf.models.packed import read_packed

        payload, tensors = read_packed(path)
    else:
        payload = read_torch_file(path, "staf checkpoint")
    if not isinstance(payload, dict) or payload.get("format") not in (FORMAT, "staf-packed"):
        raise StafError(f"{path} is not a staf checkpoint; convert official STAF files with "
                        "'staf convert official --head … --backbone … --out …'")
    missing = [key for key in ("model", "config", "state_dict") if not packed and key not in payload]
    if missing or not isinstance(payload.get("config"), dict) or not (packed or isinstance(payload.get("state_dict"), dict)):
        raise MalformedFileError(f"{path}: a staf checkpoint without {', '.join(missing) or 'a valid config or state_dict'}"
                                 " (hand-edited or damaged); use the file 'staf train' or 'staf convert' wrote")
    cls = model_class(str(payload.get("model")))
    expected = payload.get("body_model", {})
    if body is None:
        name = str(expected.get("name", "open"))
        spec, gender = ("smpl", name.split("-", 1)[1]) if name.startswith("smpl-") else ("open", "neutral")
        body = BodyModel.load(spec, base_data, gender, device=device)
    if expected.get("num_vertices") not in (None, body.num_vertices):
        raise StafError(f"{path} was made with body model '{expected.get('name')}' "
                        f"({expected.get('num_vertices')} vertices); this is '{body.name}' "
                        f"({body.num_vertices}): pass the same --body-model")
    config = from_dict(cls.config_class, payload["config"], f"{path}: config")
    model = cls(config, body)
    if packed:
        from staf.models.packed import channel_axes, unpack_state

        payload["state_dict"] = unpack_state(tensors, channel_axes(model))
    load_state_dict_strict(model, payload["state_dict"], str(path))
    return model.to(device), payload


def checkpoint_crop_rule(payload: dict) -> CropRule:
    """The crop rule a checkpoint's model was trained with (older checkpoints: the default)."""
    return from_dict(CropRule, payload.get("crop", {}), "checkpoint crop rule")
