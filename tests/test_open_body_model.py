"""The bundled open body model: size, SMPL conventions, and the claims in docs/open_body_model.md."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from staf.body import BodyModel, bundled_model_path
from staf.body.joint_sets import SMPL_JOINT_NAMES, SMPL_PARENTS
from staf.geometry.rotations import rot6d_to_matrix

JOINT = {name: index for index, name in enumerate(SMPL_JOINT_NAMES)}


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load(dtype=torch.float64)


@pytest.fixture(scope="module")
def rest(body):
    return body(torch.zeros(1, 72, dtype=torch.float64))


def test_file_is_small_and_in_smpl_layout():
    path = bundled_model_path()
    assert path.stat().st_size <= 5 * 2**20
    with np.load(path) as raw:
        assert raw["v_template"].shape == (13718, 3) and raw["shapedirs"].shape == (13718, 3, 10)
        assert raw["posedirs"].shape == (13718, 3, 207) and not raw["posedirs"].any()
        assert raw["kintree_table"][0, 1:].tolist() == list(SMPL_PARENTS[1:])


def test_axes_and_rest_pose_follow_smpl(rest):
    joints = rest.joints[0]
    vertices = rest.vertices[0]
    height = float(vertices[:, 1].max() - vertices[:, 1].min())
    assert 1.5 < height < 1.9  # metres, y up
    assert joints[JOINT["head"], 1] > joints[JOINT["pelvis"], 1] > joints[JOINT["left_ankle"], 1]
    assert joints[JOINT["left_shoulder"], 0] > 0 > joints[JOINT["right_shoulder"], 0]  # +x = body's left
    nose = rest.joint_sets["spin49"][0, 0]
    assert nose[2] > joints[JOINT["head"], 2] + 0.05  # facing +z
    # θ = 0 is a T-pose: upper arms, forearms and hands horizontal along ±x
    for side, sign in (("left", 1.0), ("right", -1.0)):
        chain = [JOINT[f"{side}_{name}"] for name in ("shoulder", "elbow", "wrist", "hand")]
        segments = joints[chain[1:]] - joints[chain[:-1]]
        directions = segments / segments.norm(dim=-1, keepdim=True)
        assert torch.allclose(directions, torch.tensor([sign, 0.0, 0.0], dtype=torch.float64), atol=1e-5)


def test_weights_regressors_and_extras_are_well_formed(body):
    assert torch.allclose(body.weights.sum(1), torch.ones(body.num_vertices, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(body.j_regressor.sum(1), torch.ones(24, dtype=torch.float64), atol=1e-5)
    assert body.downsampling.shape == (431, body.num_vertices)
    assert set(body.part_segmentation.unique().tolist()) == set(range(24))
    assert body.vertex_keypoint_ids.shape == (21,)
    assert body.mean_cam.tolist() == pytest.approx([0.9, 0.0, 0.0])
    assert body.mean_shape.abs().max() == 0


def test_mean_pose_is_a_standing_body_facing_the_camera(body):
    rotations = rot6d_to_matrix(body.mean_pose_6d.view(24, 6))
    root = torch.tensor([[1, 0, 0], [0, -1, 0], [0, 0, -1]], dtype=torch.float64)  # π about x
    assert torch.allclose(rotations[0], root, atol=1e-6)
    out = body(rotations[None])
    joints = out.joints[0]
    # in camera coordinates (y down) the head is above the feet, and the arms hang down
    assert joints[JOINT["head"], 1] < joints[JOINT["left_ankle"], 1]
    assert joints[JOINT["left_wrist"], 1] > joints[JOINT["left_shoulder"], 1]


def test_pose_exact_regressor_rows_follow_the_skeleton(body):
    """Rows marked pose-exact give the skeleton joint on any posed mesh, as the docs claim."""
    exact = [note["row"] for note in body.metadata["regressor_rows"] if note["pose_exact"]]
    assert len(exact) >= 10
    generator = torch.Generator().manual_seed(0)
    pose = torch.randn(8, 72, generator=generator, dtype=torch.float64) * 0.5
    betas = torch.randn(8, 10, generator=generator, dtype=torch.float64)
    out = body(pose, betas)
    regressed = torch.einsum("jn,bnc->bjc", body.j_regressor, out.vertices)
    assert (regressed[:, exact] - out.joints[:, exact]).norm(dim=-1).max() < 1e-4  # float32 storage
    others = [j for j in range(24) if j not in exact]
    assert (regressed[:, others] - out.joints[:, others]).norm(dim=-1).mean() < 0.03


def test_lsp14_and_h36m17_are_consistent_with_the_skeleton(body):
    out = body(torch.randn(3, 72, dtype=torch.float64) * 0.3)
    h36m, lsp = out.joint_sets["h36m17"], out.joint_sets["lsp14"]
    assert torch.equal(lsp, h36m[:, [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]])  # SPIN's H36M_TO_J14
    # H36M knees/ankles/elbows/wrists are the skeleton's own joints; the field's regressor has
    # the left leg in rows 1-3 and the right leg in rows 4-6 (SPIN's H36M_TO_J17 sends row 6 to
    # the "Right Ankle" slot)
    pairs = {2: "left_knee", 3: "left_ankle", 5: "right_knee", 6: "right_ankle", 12: "left_elbow",
             13: "left_wrist", 15: "right_elbow", 16: "right_wrist"}
    for h36m_index, name in pairs.items():
        assert (h36m[:, h36m_index] - out.joints[:, JOINT[name]]).norm(dim=-1).max() < 1e-5


def test_lsp14_from_the_h36m_regressor_agrees_with_spin49_left_with_left(body):
    """The two ways the field reads LSP-14 (H36M regressor + H36M_TO_J14 for 3DPW/H36M
    evaluation; SPIN-49 joints 25-38 for training and the synthetic protocol) name the same
    body joints. With the legs swapped, the six leg joints differ by 0.2-0.4 m."""
    generator = torch.Generator().manual_seed(3)
    pose = torch.randn(16, 72, generator=generator, dtype=torch.float64) * 0.3
    betas = torch.randn(16, 10, generator=generator, dtype=torch.float64)
    out = body(pose, betas)
    from_h36m, from_spin = out.joint_sets["lsp14"], out.joint_sets["spin49"][:, 25:39]
    distance = (from_h36m - from_spin).norm(dim=-1)           # (16, 14) metres
    # knees, ankles, elbows and wrists are the same skeleton joints in both sets (shoulders are
    # built differently and differ by ~7 mm)
    limbs = [0, 1, 4, 5, 6, 7, 10, 11]
    assert distance[:, limbs].max() < 1e-5
    assert distance.max() < 0.05
    # and each joint is nearer its own name than the other side's
    mirrored = from_spin[:, [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13]]
    assert ((from_h36m - mirrored).norm(dim=-1)[:, :12] > distance[:, :12]).all()


def test_documented_accuracy_is_in_the_file(body):
    accuracy = body.metadata["accuracy"]
    assert accuracy["reduction_a_pose_vs_anny"]["max_mm"] < 1e-6
    assert accuracy["pca"]["explained_variance_10"] > 0.999
    assert math.isfinite(accuracy["bundled_t_pose_vs_anny"]["mean_mm"])
