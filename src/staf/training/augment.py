"""Stage-1 image augmentation: crop zoom and shift, per-channel colour scaling (as SPIN's
training, without rotation and flipping).

One draw per window, shared by its T frames. The parameters of a global batch come from a
generator seeded by ``(seed, stage, epoch, step)`` and are sharded like the windows, so resuming
and data-parallel ranks see the same augmentation as an uninterrupted single process. Zoom and
shift move the 2D keypoints with the image; 3D joints, pose and β do not change (the crop
camera is predicted, not supervised).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from staf.data.crops import IMAGENET_MEAN, IMAGENET_STD
from staf.training.config import AugmentConfig


def draw_parameters(config: AugmentConfig, count: int, generator: np.random.Generator) -> np.ndarray:
    """(count, 6) float32: zoom s, shift (tx, ty), colour scales (r, g, b).

    s ∈ [1 − scale, 1 + scale] is the sampled region's half-size relative to the crop's; shifts are
    in [−shift, shift] of the crop's half-size; colour scales in [1 − color, 1 + color]."""
    zoom = generator.uniform(1 - config.scale, 1 + config.scale, (count, 1))
    shift = generator.uniform(-config.shift, config.shift, (count, 2))
    colour = generator.uniform(1 - config.color, 1 + config.color, (count, 3))
    return np.concatenate([zoom, shift, colour], axis=1).astype(np.float32)


def apply(images: torch.Tensor, joints2d: torch.Tensor, parameters: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment normalised crops and their keypoints.

    Args:
        images: (B, T, 3, S, S) ImageNet-normalised crops.
        joints2d: (B·T, J, 3) normalised crop x, y ∈ [−1, 1] and confidence.
        parameters: (B, 6) from :func:`draw_parameters`.

    Returns:
        images (B, T, 3, S, S) and joints2d (B·T, J, 3): an output pixel at u samples the input at
        s·u + t, so keypoints move to (x − t) / s; regions outside the crop are black.
    """
    batch, length = images.shape[:2]
    parameters = parameters.to(images)
    zoom, shift, colour = parameters[:, :1], parameters[:, 1:3], parameters[:, 3:6]
    theta = torch.zeros(batch, 2, 3, dtype=images.dtype, device=images.device)
    theta[:, 0, 0] = theta[:, 1, 1] = zoom[:, 0]
    theta[:, :, 2] = shift
    mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype, device=images.device).view(1, 1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=images.dtype, device=images.device).view(1, 1, 3, 1, 1)
    pixels = (images * std + mean) * colour.view(batch, 1, 3, 1, 1)
    pixels = pixels.clamp(0.0, 1.0).flatten(0, 1)
    grid = F.affine_grid(theta.repeat_interleave(length, 0), list(pixels.shape), align_corners=False)
    warped = F.grid_sample(pixels, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out_images = ((warped.unflatten(0, (batch, length)) - mean) / std)
    frame_zoom = zoom.repeat_interleave(length, 0).unsqueeze(1)
    frame_shift = shift.repeat_interleave(length, 0).unsqueeze(1)
    moved = torch.cat([(joints2d[..., :2] - frame_shift) / frame_zoom, joints2d[..., 2:]], dim=-1)
    return out_images, moved


def move_boxes(boxes: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
    """The squares (B, T, 3) ``[cx, cy, size]`` the augmented crops show, for parameters (B, 6):
    the region sampled is centred at ``c + t · size / 2`` with size ``s · size`` (models with a
    full-image camera, TAR's CLIFF, need the crop's true box)."""
    parameters = parameters.to(boxes)
    zoom, shift = parameters[:, None, :1], parameters[:, None, 1:3]
    return torch.cat([boxes[..., :2] + shift * boxes[..., 2:3] / 2, boxes[..., 2:3] * zoom], dim=-1)
