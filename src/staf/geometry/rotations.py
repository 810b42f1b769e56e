"""Rotation conversions used by staf, built on ``roma``.

Conventions:

- axis-angle (rotation vector) ``(…, 3)``: direction = axis, norm = angle in radians;
- rotation matrices ``(…, 3, 3)`` act on column vectors;
- the continuous 6D representation (Zhou et al., CVPR 2019) as HMR/SPIN/VIBE/STAF use it:
  the first two *columns* of the matrix, laid out row-major as a 3×2 matrix,
  ``[R00, R01, R10, R11, R20, R21]``; decoding orthonormalises the two columns
  (Gram–Schmidt) and completes with their cross product (SPIN's ``rot6d_to_rotmat``).
"""

from __future__ import annotations

import roma
import torch

from staf.errors import InvalidInputError


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """(…, 3) rotation vectors → (…, 3, 3) matrices."""
    return roma.rotvec_to_rotmat(axis_angle)


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) rotation matrices → (…, 3) rotation vectors with angle in [0, π]."""
    return roma.rotmat_to_rotvec(matrix)


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """(…, 6) 6D rotations (SPIN layout) → (…, 3, 3) rotation matrices.

    Also accepts (…, 24·6)-style flat vectors reshaped by the caller to (…, 6).
    """
    columns = rot6d.reshape(*rot6d.shape[:-1], 3, 2)
    return roma.special_gramschmidt(columns)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """(…, 3, 3) rotation matrices → (…, 6) 6D rotations (SPIN layout)."""
    return matrix[..., :2].reshape(*matrix.shape[:-2], 6)


def rot6d_to_axis_angle(rot6d: torch.Tensor) -> torch.Tensor:
    """(…, 6) → (…, 3)."""
    return matrix_to_axis_angle(rot6d_to_matrix(rot6d))


def axis_angle_to_rot6d(axis_angle: torch.Tensor) -> torch.Tensor:
    """(…, 3) → (…, 6)."""
    return matrix_to_rot6d(axis_angle_to_matrix(axis_angle))


def pose_to_matrices(pose: torch.Tensor, num_joints: int = 24) -> torch.Tensor:
    """Normalise a body pose to (B, J, 3, 3) rotation matrices.

    Args:
        pose: (B, J·3) or (B, J, 3) axis-angle, or (B, J, 3, 3) matrices.
        num_joints: J.

    Raises:
        InvalidInputError (a ValueError): for any other shape, naming the shapes accepted.
    """
    shape = tuple(pose.shape)
    if pose.dim() == 2 and shape[1] == num_joints * 3:
        return axis_angle_to_matrix(pose.reshape(shape[0], num_joints, 3))
    if pose.dim() == 3 and shape[1:] == (num_joints, 3):
        return axis_angle_to_matrix(pose)
    if pose.dim() == 4 and shape[1:] == (num_joints, 3, 3):
        return pose
    raise InvalidInputError(
        f"pose has shape {shape}; expected (B, {num_joints * 3}) or (B, {num_joints}, 3) "
        f"axis-angle, or (B, {num_joints}, 3, 3) rotation matrices"
    )
