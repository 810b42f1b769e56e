"""Conversion of the authors' official STAF checkpoint to staf's module names.

The official release has two files: the head (``gen_state_dict`` of the STAF checkpoint, keys
as in ``official_staf_head_state_dict.tsv``) and the PyMAF backbone (``base_model.pt``, key
``model``, ResNet-50 under ``feature_extractor.``). :func:`convert_official` maps both onto
staf's names with strict key checking; both are read with ``weights_only=True``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from staf.body import BodyModel
from staf.errors import MalformedFileError, StafError
from staf.models.files import load_state_dict_strict, read_torch_file
from staf.models.staf.network import STAF, STAFConfig
from staf.models.staf.sampling import grid_points

#: official head key pattern → staf key template (groups substituted in order)
_HEAD_RULES: list[tuple[str, str]] = [
    (r"deconv_layers\.(\d+)\.(.+)", "decoder.deconv_layers.{0}.{1}"),
    (r"maf_extractor\.(\d)\.conv(\d)\.(weight|bias)", "point_mlps.{0}.layers.{1}.{2}"),
    (r"regressor\.(\d)\.(fc1|fc2|decpose|decshape|deccam)\.(weight|bias)", "regressors.{0}.{1}.{2}"),
    (r"safm\.nonlocalblock\.attention\.fc\.(weight|bias)", "safm.attention.fc.{0}"),
    (r"safm\.nonlocalblock\.attention\.attention\.(\d)\.(weight|bias)", "safm.attention.layers.{0}.{1}"),
    (r"tcfm\.nonlocalblock\.conv_theta\.weight", "tcfm.query.weight"),
    (r"tcfm\.nonlocalblock\.conv_phi\.weight", "tcfm.key.weight"),
    (r"tcfm\.nonlocalblock\.conv_g\.weight", "tcfm.value.weight"),
    (r"tcfm\.nonlocalblock\.conv_mask\.weight", "tcfm.output.weight"),
    (r"tcfm\.nonlocalblock\.conv_mask_forR\.weight", "tcfm.fuse.weight"),
    (r"regressor\.0\.init_(pose|shape|cam)", "init_{0}"),
]
#: official keys that have no staf counterpart: checked, then dropped
_CHECKED_ONLY = (r"maf_extractor\.\d\.Dmap", r"points_grid", r"regressor\.[12]\.init_(pose|shape|cam)")


def map_official_head(head: dict[str, torch.Tensor], body: BodyModel) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Official ``gen_state_dict`` → staf keys; returns (state dict, notes on dropped keys)."""
    mapped: dict[str, torch.Tensor] = {}
    notes: list[str] = []
    unknown: list[str] = []
    for key, value in head.items():
        key = key.removeprefix("module.")
        target = _map_key(key)
        if target is not None:
            if target.startswith("tcfm.") and target != "tcfm.fuse.weight":
                value = value[..., 0]  # 1×1 Conv1d (out, in, 1) → Linear (out, in)
            if target.startswith("init_"):
                value = value.reshape(-1)
            mapped[target] = value
        elif any(re.fullmatch(pattern, key) for pattern in _CHECKED_ONLY):
            notes.append(_check_dropped(key, value, body, head))
        else:
            unknown.append(key)
    if unknown:
        raise MalformedFileError(f"official head has keys staf does not know: {', '.join(unknown)}")
    return mapped, sorted(set(notes))


def _map_key(key: str) -> str | None:
    for pattern, template in _HEAD_RULES:
        match = re.fullmatch(pattern, key)
        if match:
            return template.format(*match.groups())
    return None


def _check_dropped(key: str, value: torch.Tensor, body: BodyModel, head: dict[str, torch.Tensor]) -> str:
    if key == "points_grid":
        grid = grid_points(int(round(value.shape[-1] ** 0.5)))
        if value.shape[-1] != grid.shape[0] or not torch.allclose(value.reshape(2, -1).T.float(), grid, atol=1e-6):
            raise StafError("points_grid: the checkpoint's sampling grid differs from staf's 21×21 grid")
        return "points_grid: matches staf's grid"
    if "init_" in key:
        first = head.get(re.sub(r"regressor\.\d", "regressor.0", key))
        if first is None or not torch.equal(first, value):
            raise StafError(f"{key}: differs from regressor.0's; staf keeps one set of initial parameters")
        return "regressor.1/2 initial parameters: equal to regressor.0's"
    if key.endswith("Dmap"):
        if body.num_vertices == value.shape[1]:
            if not torch.allclose(body.downsampling.to_dense().to(value.dtype), value, atol=1e-6):
                raise StafError(f"{key}: the checkpoint's down-sampling differs from body model '{body.name}'s")
            return "Dmap: matches the body model's down-sampling"
        return (f"Dmap ({tuple(value.shape)}) is SMPL-topology specific and not used with body model "
                f"'{body.name}' ({body.num_vertices} vertices); its own down-sampling is used")
    return f"{key.split('.')[0]}: checked and dropped (staf derives it)"


def map_official_backbone(backbone: dict[str, Any]) -> dict[str, torch.Tensor]:
    """PyMAF ``base_model.pt`` (``{"model": {...}}``) → ``encoder.*`` keys."""
    weights = backbone.get("model", backbone) if isinstance(backbone, dict) else None
    if not isinstance(weights, dict):
        raise MalformedFileError("backbone file: expected a dict with key 'model'")
    encoder = {f"encoder.{k.split('feature_extractor.', 1)[1]}": v for k, v in weights.items()
               if k.removeprefix("module.").startswith("feature_extractor.")}
    encoder = {k: v for k, v in encoder.items() if not k.startswith(("encoder.fc.", "encoder.avgpool"))}
    if not encoder:
        raise MalformedFileError("backbone file: no 'feature_extractor.*' keys (is it PyMAF's base_model.pt?)")
    return encoder


def convert_official(head_path: str | Path, backbone_path: str | Path | None, body: BodyModel,
                     config: STAFConfig | None = None) -> tuple[STAF, list[str]]:
    """Build a :class:`STAF` holding the official weights; returns it and conversion notes."""
    raw = read_torch_file(head_path, "official STAF checkpoint")
    head = raw.get("gen_state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(head, dict):
        raise MalformedFileError(f"{head_path}: expected a dict with 'gen_state_dict'")
    mapped, notes = map_official_head(head, body)
    if backbone_path is not None:
        mapped.update(map_official_backbone(read_torch_file(backbone_path, "PyMAF backbone file")))
    model = STAF(config or STAFConfig(), body)
    if backbone_path is None:
        notes.append("no --backbone: the encoder keeps its random initialisation")
        mapped.update({k: v for k, v in model.state_dict().items() if k.startswith("encoder.")})
    load_state_dict_strict(model, mapped, str(head_path))
    return model, notes


