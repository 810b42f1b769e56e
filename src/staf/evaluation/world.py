"""World-frame measures of people and cameras (issue 32), as WHAM and GVHMR report them.

- **W-MPJPE₁₀₀** and **WA-MPJPE₁₀₀** (WHAM, Shin et al., CVPR 2024, §4, after SLAHMR, Ye et al.,
  CVPR 2023; GVHMR, Shen et al., SIGGRAPH Asia 2024, reports the same): the sequence is cut into
  segments of 100 frames; in each, the predicted world joints are mapped onto the truth by the
  one similarity (Umeyama: scale, rotation, translation) that fits the segment's *first two
  frames* (W) or *all its frames* (WA), and the mean per-joint distance is taken over the segment.
  W says how far a trajectory drifts from a correct start; WA how well its shape fits.
- **Foot sliding** (WHAM's measure, on joints instead of vertices): over the frame pairs where a
  true foot joint moves less than ``contact_step`` (1 cm), how far the predicted one moves, mm
  per frame.
- **Camera rotation error**: the geodesic angle between the predicted and the true rotation of
  each frame's camera relative to the first's, and between their frame-to-frame steps.

Joints are (T, J, 3) metres; errors are millimetres or degrees.
"""

from __future__ import annotations

import numpy as np
import torch

from staf.geometry.alignment import similarity_transform

#: WHAM's segment length, frames
SEGMENT = 100
#: a last segment shorter than this is left out (too short to say anything about drift)
MIN_SEGMENT = 10


def segments(length: int, size: int = SEGMENT, shortest: int = MIN_SEGMENT) -> list[slice]:
    """Consecutive ``size``-frame segments of a ``length``-frame sequence; the remainder is a
    segment of its own when it has at least ``shortest`` frames (a sequence shorter than that,
    of two frames or more, is one segment)."""
    cuts = [slice(start, min(start + size, length)) for start in range(0, length, size)]
    kept = [cut for cut in cuts if cut.stop - cut.start >= min(shortest, size)]
    return kept or ([slice(0, length)] if length >= 2 else [])


def aligned(pred: np.ndarray, gt: np.ndarray, fit_frames: int | None) -> np.ndarray:
    """(T, J, 3) ``pred`` mapped by the similarity that best maps its first ``fit_frames``
    frames (None: all) onto ``gt``'s (float64)."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    count = len(pred) if fit_frames is None else fit_frames
    source = torch.as_tensor(pred[:count].reshape(1, -1, 3))
    target = torch.as_tensor(gt[:count].reshape(1, -1, 3))
    scale, rotation, shift = (value[0].numpy() for value in similarity_transform(source, target))
    return scale * pred @ rotation.T + shift


def world_mpjpe(pred: np.ndarray, gt: np.ndarray, fit_frames: int | None, size: int = SEGMENT) -> float:
    """Mean per-joint error (mm) over the segments of :func:`segments`, each aligned on its
    first ``fit_frames`` frames (2: W-MPJPE₁₀₀) or all of them (None: WA-MPJPE₁₀₀); the mean
    over all frames of all segments."""
    errors = [np.linalg.norm(aligned(pred[cut], gt[cut], fit_frames) - gt[cut], axis=-1).mean(axis=-1)
              for cut in segments(len(gt), size)]
    return float(1000.0 * np.concatenate(errors).mean())


def foot_sliding(pred_feet: np.ndarray, gt_feet: np.ndarray, contact_step: float = 0.01) -> float:
    """(T, F, 3) predicted and true foot joints → mean predicted step (mm/frame) over the frame
    pairs where the true foot moves less than ``contact_step`` metres; NaN without contacts."""
    gt_step = np.linalg.norm(np.diff(np.asarray(gt_feet, np.float64), axis=0), axis=-1)
    pred_step = np.linalg.norm(np.diff(np.asarray(pred_feet, np.float64), axis=0), axis=-1)
    contact = gt_step < contact_step
    return float(1000.0 * pred_step[contact].mean()) if contact.any() else float("nan")


def rotation_angle(rotations: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices → (...) their angles, degrees."""
    trace = np.trace(np.asarray(rotations, np.float64), axis1=-2, axis2=-1)
    return np.degrees(np.arccos(np.clip((trace - 1.0) / 2.0, -1.0, 1.0)))


def camera_rotation_error(pred: np.ndarray, gt: np.ndarray) -> dict[str, float]:
    """(T, 3, 3) predicted and true world → camera rotations → ``per_frame`` (mean angle between
    the frame-to-frame steps ``R_t R_{t−1}ᵀ``), ``accumulated`` (the angle between the last
    frame's rotations relative to the first, ``R_T R_0ᵀ``), ``mean_relative`` (that angle's mean
    over the frames), ``true_turn`` (the true camera's turn from first to last frame), degrees."""
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    relative_pred = pred @ pred[0].T
    relative_gt = gt @ gt[0].T
    off = rotation_angle(relative_pred @ np.swapaxes(relative_gt, -1, -2))
    step_pred = pred[1:] @ np.swapaxes(pred[:-1], -1, -2)
    step_gt = gt[1:] @ np.swapaxes(gt[:-1], -1, -2)
    steps = rotation_angle(step_pred @ np.swapaxes(step_gt, -1, -2))
    return {"per_frame": float(steps.mean()) if len(steps) else 0.0, "accumulated": float(off[-1]),
            "mean_relative": float(off.mean()), "true_turn": float(rotation_angle(relative_gt[-1]))}
