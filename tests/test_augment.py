"""Stage-1 augmentation: keypoints follow the image, colour scales, determinism."""

from __future__ import annotations

import numpy as np
import torch

from staf.data.crops import normalise
from staf.training import AugmentConfig
from staf.training.augment import apply, draw_parameters


def dot_image(size: int, x: float, y: float) -> np.ndarray:
    """(size, size, 3) uint8 black image with a 3×3 white dot at pixel (x, y)."""
    image = np.zeros((size, size, 3), np.uint8)
    image[int(y) - 1 : int(y) + 2, int(x) - 1 : int(x) + 2] = 255
    return image


def test_keypoints_move_with_the_image():
    size = 64
    pixels = [(20.5, 30.5), (40.5, 12.5), (31.5, 50.5)]
    images = normalise(np.stack([dot_image(size, x, y) for x, y in pixels]))[:, None]  # (3, 1, 3, S, S)
    joints = torch.tensor([[[x / (size / 2) - 1, y / (size / 2) - 1, 1.0]] for x, y in pixels])  # pixel centres
    parameters = torch.tensor([[0.8, 0.05, -0.1, 1, 1, 1], [1.2, -0.1, 0.1, 1, 1, 1], [0.9, 0.0, 0.08, 1, 1, 1]])
    warped, moved = apply(images, joints, parameters)
    for index in range(3):
        brightness = (warped[index, 0] - warped[index, 0].amin(dim=(1, 2), keepdim=True)).sum(0)
        centres = torch.arange(size) + 0.5  # continuous coordinates of pixel centres
        centroid_x = float((brightness.sum(0) * centres).sum() / brightness.sum())
        centroid_y = float((brightness.sum(1) * centres).sum() / brightness.sum())
        expected = (moved[index, 0, :2] + 1) * size / 2
        assert abs(centroid_x - float(expected[0])) < 0.1 and abs(centroid_y - float(expected[1])) < 0.1
    assert torch.equal(moved[..., 2], joints[..., 2])


def test_identity_and_colour_scaling():
    rng = np.random.default_rng(0)
    crops = rng.integers(40, 200, (2, 32, 32, 3), dtype=np.uint8)
    images = normalise(crops).reshape(1, 2, 3, 32, 32)
    joints = torch.rand(2, 49, 3)
    same, unmoved = apply(images, joints, torch.tensor([[1.0, 0, 0, 1, 1, 1]]))
    assert torch.allclose(same, images, atol=1e-5) and torch.allclose(unmoved, joints)
    tinted, _ = apply(images, joints, torch.tensor([[1.0, 0, 0, 0.5, 1, 1.2]]))
    expected = normalise(np.clip(crops * np.array([0.5, 1.0, 1.2]), 0, 255).astype(np.float64).round().astype(np.uint8))
    assert float((tinted[0] - expected).abs().max()) < 0.03  # within uint8 rounding


def test_parameters_are_in_range_and_seeded():
    config = AugmentConfig(enabled=True, scale=0.2, shift=0.1, color=0.3)
    first = draw_parameters(config, 500, np.random.default_rng([0, 1, 2, 3]))
    again = draw_parameters(config, 500, np.random.default_rng([0, 1, 2, 3]))
    assert np.array_equal(first, again)
    assert first[:, 0].min() >= 0.8 and first[:, 0].max() <= 1.2
    assert np.abs(first[:, 1:3]).max() <= 0.1 and first[:, 3:].min() >= 0.7 and first[:, 3:].max() <= 1.3


def test_out_of_range_settings_are_refused():
    import pytest

    from staf.errors import StafError

    with pytest.raises(StafError, match="need 0 ≤ scale < 1"):
        AugmentConfig(enabled=True, scale=1.2)
