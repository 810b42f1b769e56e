"""Linear blend skinning in the SMPL formulation (Loper et al., SIGGRAPH Asia 2015, eqs. 1–4).

Shapes: ``B`` batch, ``N`` vertices, ``J`` joints (24 for SMPL), ``K`` shape coefficients,
``P = 9·(J−1)`` pose-corrective features.
"""

from __future__ import annotations

import torch


def blend_shapes(betas: torch.Tensor, shapedirs: torch.Tensor) -> torch.Tensor:
    """Shape displacements ``Σ_k β_k S_k``.

    Args:
        betas: (B, K) shape coefficients, K ≤ the model's number of components.
        shapedirs: (N, 3, K_model) shape basis.

    Returns:
        (B, N, 3) displacements.
    """
    num = betas.shape[-1]
    return torch.einsum("bk,nck->bnc", betas, shapedirs[..., :num])


def rigid_transforms(
    rotations: torch.Tensor, joints: torch.Tensor, parents: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward kinematics along the kinematic tree.

    Args:
        rotations: (B, J, 3, 3) local joint rotations.
        joints: (B, J, 3) rest joint positions.
        parents: (J,) parent index of each joint, ``parents[0] = -1``, parents before children.

    Returns:
        posed_joints: (B, J, 3) joint positions after posing.
        transforms: (B, J, 4, 4) transforms that map a rest-pose point rigidly attached to
        each joint to its posed position (``G_j · G_j(0)^{-1}`` in the SMPL paper).
    """
    batch, num_joints = joints.shape[:2]
    offsets = joints.clone()
    offsets[:, 1:] = joints[:, 1:] - joints[:, parents[1:]]
    local = torch.zeros(batch, num_joints, 4, 4, dtype=joints.dtype, device=joints.device)
    local[..., :3, :3] = rotations
    local[..., :3, 3] = offsets
    local[..., 3, 3] = 1.0
    chain = [local[:, 0]]
    for index in range(1, num_joints):
        chain.append(chain[int(parents[index])] @ local[:, index])
    world = torch.stack(chain, dim=1)
    posed_joints = world[..., :3, 3]
    # Remove the rest position: T_j = G_j · [I | −j_rest].
    correction = torch.einsum("bjmn,bjn->bjm", world[..., :3, :3], joints)
    transforms = world.clone()
    transforms[..., :3, 3] = posed_joints - correction
    return posed_joints, transforms


def skin_vertices(
    vertices: torch.Tensor, weights: torch.Tensor, transforms: torch.Tensor
) -> torch.Tensor:
    """Blend per-joint rigid transforms: ``v' = Σ_j w_ij T_j v``.

    Args:
        vertices: (B, N, 3) rest-pose (shaped and pose-corrected) vertices.
        weights: (N, J) skinning weights.
        transforms: (B, J, 4, 4) from :func:`rigid_transforms`.

    Returns:
        (B, N, 3) posed vertices.
    """
    blended = torch.einsum("nj,bjmk->bnmk", weights, transforms[..., :3, :])
    return torch.einsum("bnmk,bnk->bnm", blended[..., :3], vertices) + blended[..., 3]


def pose_features(rotations: torch.Tensor) -> torch.Tensor:
    """SMPL pose-corrective features ``vec(R_j − I)`` for the non-root joints.

    Args:
        rotations: (B, J, 3, 3).

    Returns:
        (B, 9·(J−1)).
    """
    eye = torch.eye(3, dtype=rotations.dtype, device=rotations.device)
    return (rotations[:, 1:] - eye).reshape(rotations.shape[0], -1)


def lbs(
    betas: torch.Tensor,
    rotations: torch.Tensor,
    v_template: torch.Tensor,
    shapedirs: torch.Tensor,
    posedirs: torch.Tensor | None,
    j_regressor: torch.Tensor,
    parents: torch.Tensor,
    weights: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The SMPL function ``M(θ, β)``.

    Args:
        betas: (B, K).
        rotations: (B, J, 3, 3) local rotations (θ as matrices).
        v_template: (N, 3) mean template in the rest pose (θ = 0).
        shapedirs: (N, 3, K_model).
        posedirs: (P, N·3) pose-corrective basis (as ``smplx`` stores it), or None when the
            model has none (the bundled open model).
        j_regressor: (J, N) rest-joint regressor.
        parents: (J,) kinematic tree.
        weights: (N, J) skinning weights.

    Returns:
        vertices (B, N, 3) and joints (B, J, 3), both posed, without global translation.
    """
    shaped = v_template + blend_shapes(betas, shapedirs)
    rest_joints = torch.einsum("jn,bnc->bjc", j_regressor, shaped)
    if posedirs is not None:
        offsets = (pose_features(rotations) @ posedirs).view_as(shaped)
        shaped = shaped + offsets
    joints, transforms = rigid_transforms(rotations, rest_joints, parents)
    return skin_vertices(shaped, weights, transforms), joints
