"""One-Euro smoothing: the manifold filter equals a float64 scalar One-Euro (written from the
paper's pseudocode) for rotations about one axis, keeps rotations valid, removes jitter, keeps a
still pose still, and refuses bad settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
import roma
import torch

from staf.errors import InvalidInputError
from staf.inference.smoothing import OneEuroConfig, smooth_rotations, smooth_vectors


def scalar_one_euro(values, fps, min_cutoff, beta, d_cutoff):
    """Casiez et al. 2012, Algorithm 1, in plain float64 Python."""
    def alpha(cutoff):
        return 1.0 / (1.0 + (1.0 / (2 * math.pi * cutoff)) * fps)

    out, speed = [values[0]], 0.0
    for x in values[1:]:
        raw_speed = (x - out[-1]) * fps
        speed = speed + alpha(d_cutoff) * (raw_speed - speed)
        cutoff = min_cutoff + beta * abs(speed)
        out.append(out[-1] + alpha(cutoff) * (x - out[-1]))
    return np.array(out)


CONFIG = OneEuroConfig(min_cutoff=0.8, beta=0.3, d_cutoff=1.2, fps=25.0)


def noisy_angles(length=80, seed=0):
    rng = np.random.default_rng(seed)
    time = np.arange(length) / CONFIG.fps
    return 0.6 * np.sin(2 * math.pi * 0.4 * time) + rng.normal(0, 0.03, length)


def test_rotation_about_one_axis_is_the_scalar_filter_on_the_angle():
    angles = noisy_angles()
    axis = torch.tensor([0.3, -0.5, 0.81], dtype=torch.float64)
    axis = axis / axis.norm()
    rotations = roma.rotvec_to_rotmat(torch.tensor(angles)[:, None] * axis)
    filtered = roma.rotmat_to_rotvec(smooth_rotations(rotations, CONFIG)) @ axis
    reference = scalar_one_euro(angles, CONFIG.fps, CONFIG.min_cutoff, CONFIG.beta, CONFIG.d_cutoff)
    assert np.abs(filtered.numpy() - reference).max() < 1e-9
    vectors = smooth_vectors(torch.tensor(angles)[:, None], CONFIG)[:, 0].numpy()
    assert np.abs(vectors - reference).max() < 1e-12


def test_rotations_stay_valid_and_jitter_falls():
    generator = torch.Generator().manual_seed(1)
    base = roma.rotvec_to_rotmat(torch.randn(24, 3, dtype=torch.float64, generator=generator) * 0.5)
    drift = torch.linspace(0, 0.4, 60, dtype=torch.float64)[:, None, None] * torch.tensor([1.0, 0.0, 0.0])
    noise = torch.randn(60, 24, 3, dtype=torch.float64, generator=generator) * 0.05
    rotations = roma.rotvec_to_rotmat(drift + noise) @ base          # (60, 24, 3, 3)
    filtered = smooth_rotations(rotations, CONFIG)
    identity = torch.eye(3, dtype=torch.float64)
    assert (filtered.transpose(-1, -2) @ filtered - identity).abs().max() < 1e-9
    assert (torch.linalg.det(filtered) - 1).abs().max() < 1e-9

    def jitter(sequence):      # mean angle of the second difference on the manifold
        steps = roma.rotmat_to_rotvec(sequence[:-1].transpose(-1, -2) @ sequence[1:])
        return (steps[1:] - steps[:-1]).norm(dim=-1).mean()

    assert jitter(filtered) < 0.3 * jitter(rotations)
    still = base.expand(10, -1, -1, -1)
    assert torch.allclose(smooth_rotations(still, CONFIG), still, atol=1e-12)


def test_fast_motion_lags_less_with_a_larger_beta():
    angles = np.linspace(0, 3.0, 40)                                   # 75°/s turn at 25 fps
    rotations = roma.rotvec_to_rotmat(torch.tensor(angles)[:, None] * torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    lag = {beta: (torch.tensor(angles) - roma.rotmat_to_rotvec(smooth_rotations(rotations, OneEuroConfig(beta=beta, fps=25.0)))[:, 1]).abs().max()
           for beta in (0.0, 2.0)}
    assert lag[2.0] < 0.5 * lag[0.0]


@pytest.mark.parametrize("field, value", [("min_cutoff", 0.0), ("fps", -1.0), ("beta", -0.1), ("d_cutoff", float("nan"))])
def test_bad_settings_are_refused(field, value):
    with pytest.raises(InvalidInputError, match=field):
        OneEuroConfig(**{field: value})


def test_a_turn_through_180_degrees_stays_close():
    """Axis-angle numbers jump at π (θ → θ − 2π with the axis flipped); a filter on those numbers
    swings the body round the other way. On the manifold the output follows the turn."""
    angles = torch.linspace(2.8, 3.5, 30, dtype=torch.float64)
    rotations = roma.rotvec_to_rotmat(angles[:, None] * torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    filtered = smooth_rotations(rotations, CONFIG)
    distance = roma.rotmat_geodesic_distance(filtered, rotations)
    assert distance.max() < 0.15
    naive = roma.rotvec_to_rotmat(smooth_vectors(roma.rotmat_to_rotvec(rotations), CONFIG))
    assert roma.rotmat_geodesic_distance(naive, rotations).max() > 1.0     # what the manifold avoids
