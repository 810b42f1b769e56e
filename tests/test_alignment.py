"""Similarity Procrustes alignment against known transforms and a float64 numpy reference."""

from __future__ import annotations

import numpy as np
import torch

from staf.geometry.alignment import procrustes_align, similarity_transform
from staf.geometry.rotations import axis_angle_to_matrix


def umeyama_reference(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Umeyama 1991, eqs. 40–42, float64, one pair of (N, 3) point sets."""
    mu_x, mu_y = source.mean(0), target.mean(0)
    x, y = source - mu_x, target - mu_y
    sigma = y.T @ x / len(source)
    u, d, vt = np.linalg.svd(sigma)
    s = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        s[2, 2] = -1
    rotation = u @ s @ vt
    scale = np.trace(np.diag(d) @ s) / (x**2).sum() * len(source)
    return scale * source @ rotation.T + (mu_y - scale * rotation @ mu_x)


def test_similarity_transformed_copy_is_recovered_exactly():
    generator = torch.Generator().manual_seed(0)
    source = torch.randn(6, 17, 3, generator=generator, dtype=torch.float64)
    rotation = axis_angle_to_matrix(torch.randn(6, 3, generator=generator, dtype=torch.float64))
    scale = torch.rand(6, generator=generator, dtype=torch.float64) + 0.5
    shift = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    target = scale[:, None, None] * source @ rotation.transpose(1, 2) + shift[:, None]
    found_scale, found_rotation, found_shift = similarity_transform(source, target)
    assert torch.allclose(found_scale, scale) and torch.allclose(found_rotation, rotation, atol=1e-10)
    assert torch.allclose(found_shift, shift)
    assert (procrustes_align(source, target) - target).abs().max() < 1e-10
    assert (source - target).abs().max() > 0.1  # the case is not trivial


def test_a_mirror_image_is_not_aligned_by_a_reflection():
    source = torch.randn(1, 20, 3, dtype=torch.float64)
    mirrored = source * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    _, rotation, _ = similarity_transform(source, mirrored)
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(1, dtype=torch.float64))
    assert (procrustes_align(source, mirrored) - mirrored).norm(dim=-1).mean() > 0.05
    reference = umeyama_reference(source[0].numpy(), mirrored[0].numpy())
    np.testing.assert_allclose(procrustes_align(source, mirrored)[0].numpy(), reference, atol=1e-10)


def test_matches_float64_reference_on_random_data():
    generator = torch.Generator().manual_seed(3)
    source = torch.randn(20, 14, 3, generator=generator, dtype=torch.float64)
    target = torch.randn(20, 14, 3, generator=generator, dtype=torch.float64)
    ours = procrustes_align(source.float(), target.float()).double()
    for index in range(20):
        reference = umeyama_reference(source[index].numpy(), target[index].numpy())
        np.testing.assert_allclose(ours[index].numpy(), reference, atol=1e-4)
