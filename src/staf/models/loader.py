"""A model by what a user names: ``staf.models.load("default" | PATH | "mean-pose")``.

Returns one :class:`LoadedModel`: the model on its device, the crop rule it was trained with,
its typed camera (:class:`staf.geometry.cameras.CropCamera`: the one translation formula the
exporters and the overlay share), a description and the file's provenance. ``staf demo``,
``staf eval`` and scripts load models through it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch

from staf.body import BodyModel
from staf.data.crops import CropRule
from staf.errors import StafError
from staf.geometry.cameras import CropCamera
from staf.models.base import MeshRecoveryModel

DEFAULT = "default"
MEAN_POSE = "mean-pose"


@dataclasses.dataclass
class LoadedModel:
    """A ready model and what goes with it.

    Attributes:
        model: the network (or the mean-pose baseline) on its device, in eval mode.
        crop_rule: how person boxes become its crops.
        camera: how its crop camera places a body in the full image.
        name: a description for messages ("the default model (…)", the path, "mean-pose baseline").
        provenance: what the file says of its making (a packed file's provenance, a checkpoint's
            ``extra``; empty for the baseline).
        path: the file it came from (None for the baseline).
    """

    model: MeshRecoveryModel
    crop_rule: CropRule
    camera: CropCamera
    name: str
    provenance: dict[str, Any]
    path: Path | None = None


def load(spec: str | Path = DEFAULT, body_model: str | None = None, base_data: str | Path | None = None,
         device: torch.device | str = "cpu") -> LoadedModel:
    """The model ``spec`` names: ``"default"`` (the one shipped in the package), ``"mean-pose"``
    (the baseline) or the path of a staf checkpoint / packed ``.safetensors`` file.

    ``body_model`` overrides the body model the file was made with ('open', 'smpl' or an SMPL
    file; ``base_data`` is the SMPL folder); the baseline uses it, else the open body model.
    """
    from staf.models.checkpoint import checkpoint_crop_rule, load_checkpoint
    from staf.models.packed import default_model_path

    body = None if body_model is None else BodyModel.load(body_model, base_data, device=device)
    if str(spec) == MEAN_POSE:
        from staf.models.registry import build_model

        model = build_model(MEAN_POSE, {}, body or BodyModel.load("open", device=device))
        return LoadedModel(model.eval(), CropRule(), model.camera, "mean-pose baseline", {})
    path = default_model_path() if str(spec) == DEFAULT else Path(spec)
    if path is None:
        raise StafError("no model: this installation has no default model; give --checkpoint FILE (train one with "
                        "'staf train --preset train-synth-cpu --out RUN', or convert the authors' with "
                        "'staf convert official --head … --backbone … --out FILE'), or --mean-pose for the baseline")
    model, payload = load_checkpoint(path, body, device, base_data)
    name = f"the default model ({path.name})" if str(spec) == DEFAULT else str(spec)
    provenance = payload.get("provenance") or payload.get("extra") or {}
    return LoadedModel(model.eval(), checkpoint_crop_rule(payload), model.camera, name, dict(provenance), path)
