"""Rotation conversions: round trips (incl. angles near 0 and π) and a float64 Gram–Schmidt reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from staf.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_rot6d,
    pose_to_matrices,
    rot6d_to_matrix,
)


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """Float64 Rodrigues formula, written out (independent of roma)."""
    angle = np.linalg.norm(rotvec)
    if angle < 1e-12:
        return np.eye(3)
    k = rotvec / angle
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross


def gram_schmidt_reference(six: np.ndarray) -> np.ndarray:
    """SPIN's rot6d_to_rotmat in float64 numpy: columns a1 = six[0::2], a2 = six[1::2]."""
    a1, a2 = six.reshape(3, 2)[:, 0], six.reshape(3, 2)[:, 1]
    b1 = a1 / np.linalg.norm(a1)
    b2 = a2 - (b1 @ a2) * b1
    b2 /= np.linalg.norm(b2)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=1)


def test_axis_angle_to_matrix_matches_rodrigues():
    rotvecs = torch.randn(50, 3, dtype=torch.float64) * 2
    ours = axis_angle_to_matrix(rotvecs).numpy()
    for rotvec, matrix in zip(rotvecs.numpy(), ours):
        np.testing.assert_allclose(matrix, rodrigues(rotvec), atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-9, 1e-5, 0.3, 2.0, math.pi - 1e-6, math.pi - 1e-9])
def test_axis_angle_round_trip(angle):
    axes = torch.nn.functional.normalize(torch.randn(20, 3, dtype=torch.float64), dim=-1)
    rotvecs = axes * angle
    back = matrix_to_axis_angle(axis_angle_to_matrix(rotvecs))
    if angle < math.pi - 1e-3:
        assert (back - rotvecs).abs().max() < 1e-7
    # near π the axis sign is ambiguous; the rotation itself must survive
    assert (axis_angle_to_matrix(back) - axis_angle_to_matrix(rotvecs)).abs().max() < 1e-7


def test_rotation_by_pi_round_trips_as_a_rotation():
    rotvecs = torch.tensor([[math.pi, 0, 0], [0, math.pi, 0], [0, 0, -math.pi]], dtype=torch.float64)
    back = matrix_to_axis_angle(axis_angle_to_matrix(rotvecs))
    assert torch.allclose(back.norm(dim=-1), torch.full((3,), math.pi, dtype=torch.float64))
    assert (axis_angle_to_matrix(back) - axis_angle_to_matrix(rotvecs)).abs().max() < 1e-12


def test_rot6d_to_matrix_matches_float64_gram_schmidt():
    six = torch.randn(200, 6, dtype=torch.float64)
    ours = rot6d_to_matrix(six).numpy()
    for vector, matrix in zip(six.numpy(), ours):
        np.testing.assert_allclose(matrix, gram_schmidt_reference(vector), atol=1e-12)
    # float32 agrees with the float64 reference too
    assert np.abs(rot6d_to_matrix(six.float()).numpy() - ours).max() < 1e-5


def test_rot6d_layout_is_spins_first_two_columns():
    assert matrix_to_rot6d(torch.eye(3)).tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    matrices = axis_angle_to_matrix(torch.randn(30, 3, dtype=torch.float64))
    six = matrix_to_rot6d(matrices)
    assert torch.equal(six[:, 0::2], matrices[:, :, 0]) and torch.equal(six[:, 1::2], matrices[:, :, 1])
    assert (rot6d_to_matrix(six) - matrices).abs().max() < 1e-12


def test_pose_to_matrices_accepts_the_three_layouts_and_names_them_otherwise():
    pose = torch.randn(2, 72, dtype=torch.float64)
    matrices = pose_to_matrices(pose)
    assert matrices.shape == (2, 24, 3, 3)
    assert torch.equal(pose_to_matrices(pose.view(2, 24, 3)), matrices)
    assert pose_to_matrices(matrices) is matrices
    with pytest.raises(ValueError, match=r"expected \(B, 72\) or \(B, 24, 3\)"):
        pose_to_matrices(torch.zeros(2, 23, 3))
