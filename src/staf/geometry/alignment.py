"""Similarity (Procrustes) alignment, batched.

Umeyama (PAMI 1991): the scale s, rotation R (det +1: reflections are excluded) and
translation t minimising ``Σ_i ‖s R x_i + t − y_i‖²``. PA-MPJPE aligns predictions to the
ground truth this way before measuring.
"""

from __future__ import annotations

import torch


def similarity_transform(source: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Best similarity from (B, N, 3) ``source`` to (B, N, 3) ``target``.

    Returns:
        scale (B,), rotation (B, 3, 3), translation (B, 3), with
        ``aligned = scale · source @ rotationᵀ + translation``.
    """
    mean_source = source.mean(dim=1, keepdim=True)
    mean_target = target.mean(dim=1, keepdim=True)
    centred_source = source - mean_source
    centred_target = target - mean_target
    covariance = centred_target.transpose(1, 2) @ centred_source  # (B, 3, 3) Σ y xᵀ
    u, singular, vh = torch.linalg.svd(covariance)
    sign = torch.sign(torch.linalg.det(u @ vh))
    fix = torch.ones_like(singular)
    fix[:, -1] = torch.where(sign == 0, torch.ones_like(sign), sign)
    rotation = u @ torch.diag_embed(fix) @ vh
    variance = centred_source.pow(2).sum(dim=(1, 2))
    scale = (singular * fix).sum(-1) / variance
    translation = mean_target[:, 0] - scale[:, None] * torch.einsum("bij,bj->bi", rotation, mean_source[:, 0])
    return scale, rotation, translation


def procrustes_align(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B, N, 3) ``source`` mapped by its best similarity onto (B, N, 3) ``target``."""
    scale, rotation, translation = similarity_transform(source, target)
    return scale[:, None, None] * source @ rotation.transpose(1, 2) + translation[:, None]
