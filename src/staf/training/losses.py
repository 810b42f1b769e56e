"""Training losses, eq. 11 as the official STAF/VIBE code applies them.

- 2D keypoints: MSE × per-joint confidence over the 49 SPIN/VIBE joints in normalised crop
  coordinates, averaged over all joints and coordinates;
- 3D keypoints: MSE over the 14 LSP joints (SPIN-49 joints 25–38), each side centred at the
  mid-point of its two hips;
- SMPL: MSE between rotation matrices (24 × 3 × 3) plus MSE between β.

Each term is averaged over the samples that have the label and is 0 when none has it: missing
labels are masked, never filled with fake values.
"""

from __future__ import annotations

import dataclasses

import torch

from staf.body.joint_sets import LSP14_HIPS, SPIN49_LSP14
from staf.evaluation.metrics import centre
from staf.geometry.rotations import axis_angle_to_matrix
from staf.models.base import BodyPrediction
from staf.training.config import LossWeights



@dataclasses.dataclass
class Targets:
    """Per-sample targets (B leading) and which samples have them.

    joints2d (B, 49, 3) normalised crop x, y and confidence; joints3d (B, 49, 3) metres;
    pose (B, 72) axis-angle; betas (B, 10); has_2d / has_3d / has_smpl (B,) bool.
    """

    joints2d: torch.Tensor
    joints3d: torch.Tensor
    pose: torch.Tensor
    betas: torch.Tensor
    has_2d: torch.Tensor
    has_3d: torch.Tensor
    has_smpl: torch.Tensor

    def to(self, device) -> "Targets":
        return Targets(**{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)})


def _masked_mean(per_sample: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if not mask.any():
        return per_sample.sum() * 0.0  # keeps the graph, contributes nothing
    return per_sample[mask].mean()


def stage_losses(prediction: BodyPrediction, targets: Targets) -> dict[str, torch.Tensor]:
    """Unweighted loss terms for one stage's prediction (B leading)."""
    confidence = targets.joints2d[..., 2:]
    error_2d = (confidence * (prediction.joints2d["spin49"] - targets.joints2d[..., :2]) ** 2).mean(dim=(1, 2))
    predicted_3d = centre(prediction.joint_sets["spin49"][:, SPIN49_LSP14], LSP14_HIPS)
    target_3d = centre(targets.joints3d[:, SPIN49_LSP14], LSP14_HIPS)
    error_3d = ((predicted_3d - target_3d) ** 2).mean(dim=(1, 2))
    target_rotations = axis_angle_to_matrix(targets.pose.reshape(-1, 24, 3))
    error_pose = ((prediction.rotmat - target_rotations) ** 2).mean(dim=(1, 2, 3))
    error_shape = ((prediction.betas - targets.betas) ** 2).mean(dim=1)
    return {
        "keypoints_2d": _masked_mean(error_2d, targets.has_2d),
        "keypoints_3d": _masked_mean(error_3d, targets.has_3d),
        "pose": _masked_mean(error_pose, targets.has_smpl),
        "shape": _masked_mean(error_shape, targets.has_smpl),
    }


def total_loss(predictions: list[BodyPrediction], targets: Targets, weights: LossWeights,
               prediction_weights: list[float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum over the final stage (or every stage with ``weights.all_stages``), each
    prediction's terms times its ``prediction_weights`` entry (default 1; TAR's γ^(L−l), eq. 14)."""
    factors = [1.0] * len(predictions) if prediction_weights is None else list(prediction_weights)
    if len(factors) != len(predictions):
        raise ValueError(f"{len(factors)} prediction weights for {len(predictions)} predictions")
    used = list(zip(predictions, factors)) if weights.all_stages else list(zip(predictions, factors))[-1:]
    total = torch.zeros((), device=targets.pose.device)
    logged: dict[str, float] = {}
    for prediction, factor in used:
        for name, value in stage_losses(prediction, targets).items():
            total = total + factor * getattr(weights, name) * value
            logged[name] = logged.get(name, 0.0) + float(value.detach())
    logged["total"] = float(total.detach())
    return total, logged
