"""Metrics of 3D human mesh recovery, batched, in millimetres (STAF §IV-D).

Inputs are in metres; every per-frame function returns (N,) values in mm so that callers can
average over frames, sequences or datasets as they need.

- MPJPE: mean joint distance after centring both skeletons on their pelvis.
- PA-MPJPE: MPJPE after a similarity Procrustes alignment (scale, rotation with det +1, translation).
- PVE: mean vertex distance.
- Acceleration error: ‖(X̂[t+1] − 2X̂[t] + X̂[t−1]) − (X[t+1] − 2X[t] + X[t−1])‖ averaged over joints,
  for the T − 2 interior frames of *one* sequence (mm/frame², the papers' unit); multiply by
  fps² / 1000 for m/s² (the unit of WHAM and GVHMR).
"""

from __future__ import annotations

import torch

from staf.geometry.alignment import procrustes_align

MM = 1000.0


def centre(joints: torch.Tensor, pelvis: int | tuple[int, ...]) -> torch.Tensor:
    """Subtract the pelvis: a joint index, or the mean of several (the two hips for LSP-14)."""
    indices = (pelvis,) if isinstance(pelvis, int) else tuple(pelvis)
    return joints - joints[:, list(indices)].mean(dim=1, keepdim=True)


def mpjpe(pred: torch.Tensor, gt: torch.Tensor, pelvis: int | tuple[int, ...]) -> torch.Tensor:
    """(N, J, 3) each → (N,) mm, after pelvis centring."""
    return (centre(pred, pelvis) - centre(gt, pelvis)).norm(dim=-1).mean(dim=-1) * MM


def pa_mpjpe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """(N, J, 3) each → (N,) mm after the best similarity transform of ``pred`` onto ``gt``
    (reflections excluded). Centring is implied by the alignment."""
    return (procrustes_align(pred, gt) - gt).norm(dim=-1).mean(dim=-1) * MM


def pve(pred_vertices: torch.Tensor, gt_vertices: torch.Tensor) -> torch.Tensor:
    """(N, V, 3) each → (N,) mm mean vertex error (both in the body model's frame, no alignment)."""
    return (pred_vertices - gt_vertices).norm(dim=-1).mean(dim=-1) * MM


def second_difference(joints: torch.Tensor) -> torch.Tensor:
    """(T, J, 3) → (T−2, J, 3): X[t+1] − 2X[t] + X[t−1] for the interior frames."""
    return joints[2:] - 2 * joints[1:-1] + joints[:-2]


def interior_valid(valid: torch.Tensor | None, length: int) -> torch.Tensor:
    """Interior frames whose three-frame stencil is all valid (VIBE's visibility rule)."""
    if valid is None:
        return torch.ones(max(length - 2, 0), dtype=torch.bool)
    valid = valid.bool()
    return valid[:-2] & valid[1:-1] & valid[2:]


def interior_centre_valid(valid: torch.Tensor | None, length: int) -> torch.Tensor:
    """Interior frames whose centre frame is valid, whatever its neighbours (TCMR's rule: its
    ``evaluate.py`` computes the error at every interior frame and keeps those in ``valid_map``)."""
    if valid is None:
        return torch.ones(max(length - 2, 0), dtype=torch.bool)
    return valid.bool()[1:-1]


#: acceleration-error frame rules by name (``Match.accel_rule``)
ACCEL_RULES = {"stencil": interior_valid, "centre": interior_centre_valid}


def accel_error(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """One sequence: (T, J, 3) each → (T−2,) mm/frame² for the interior frames."""
    return (second_difference(pred) - second_difference(gt)).norm(dim=-1).mean(dim=-1) * MM


def mean_acceleration(joints: torch.Tensor) -> torch.Tensor:
    """One sequence's own acceleration (no ground truth): (T, J, 3) → (T−2,) mm/frame²."""
    return second_difference(joints).norm(dim=-1).mean(dim=-1) * MM


def to_metres_per_second_squared(mm_per_frame2: torch.Tensor | float, fps: float):
    """mm/frame² → m/s²."""
    return mm_per_frame2 * fps**2 / MM


def accel_error_by_sequence(pred: torch.Tensor, gt: torch.Tensor, lengths: list[int]) -> torch.Tensor:
    """Acceleration error of consecutive sequences stored end to end: (ΣT, J, 3) each and the
    sequences' lengths → the mean over all interior frames of all sequences (mm/frame²), no
    stencil spanning two sequences."""
    curves = [accel_error(p, g) for p, g in zip(pred.split(lengths), gt.split(lengths)) if len(p) >= 3]
    return torch.cat(curves).mean()
