"""BodyModel against the independent `smplx` package (its `lbs` function and `SMPL` class)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

smplx = pytest.importorskip("smplx")
from smplx.lbs import lbs as smplx_lbs  # noqa: E402
from smplx.utils import Struct  # noqa: E402

from staf.body import BodyModel, bundled_model_path, read_smpl_file  # noqa: E402
from staf.body.model_data import BodyModelData  # noqa: E402

from conftest import random_smpl_arrays  # noqa: E402


def smplx_reference(data: BodyModelData, pose: torch.Tensor, betas: torch.Tensor):
    """Vertices and joints from smplx's own `lbs` on the same arrays (float64)."""
    posedirs = data.posedirs if data.posedirs is not None else np.zeros((data.num_vertices, 3, 207))
    return smplx_lbs(
        betas,
        pose,
        torch.tensor(data.v_template),
        torch.tensor(data.shapedirs),
        torch.tensor(posedirs.reshape(-1, 207).T.copy()),
        torch.tensor(data.j_regressor),
        torch.tensor(data.parents),
        torch.tensor(data.weights),
        pose2rot=True,
    )


def random_inputs(batch: int, num_betas: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    pose = torch.randn(batch, 72, generator=generator, dtype=torch.float64) * 0.6
    betas = torch.randn(batch, num_betas, generator=generator, dtype=torch.float64) * 1.5
    return pose, betas


@pytest.fixture(scope="module")
def open_data() -> BodyModelData:
    return read_smpl_file(bundled_model_path(), name="open")


def test_open_model_lbs_matches_smplx(open_data):
    body = BodyModel(open_data, dtype=torch.float64)
    pose, betas = random_inputs(4, open_data.num_betas, seed=1)
    ours = body(pose, betas)
    vertices, joints = smplx_reference(open_data, pose, betas)
    assert (ours.vertices - vertices).abs().max() < 1e-5
    assert (ours.joints - joints[:, :24]).abs().max() < 1e-5
    # the comparison is not vacuous: a different pose gives a different mesh
    assert (body(pose.flip(0), betas).vertices - vertices).abs().max() > 1e-2


def test_random_6890_vertex_smpl_model_matches_smplx(tmp_path):
    arrays = random_smpl_arrays(seed=3)
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **arrays)
    data = read_smpl_file(tmp_path / "SMPL_NEUTRAL.npz")
    assert data.posedirs is not None and data.num_vertices == 6890
    body = BodyModel(data, dtype=torch.float64)
    pose, betas = random_inputs(3, 10, seed=4)
    translation = torch.randn(3, 3, dtype=torch.float64)
    ours = body(pose, betas, transl=translation)
    vertices, joints = smplx_reference(data, pose, betas)
    assert (ours.vertices - (vertices + translation[:, None])).abs().max() < 1e-5
    assert (ours.joints - (joints + translation[:, None])).abs().max() < 1e-5


def test_bundled_npz_is_an_smpl_file_for_smplx_itself(open_data):
    """smplx's SMPL class reads the bundled file's arrays as it reads SMPL's."""
    with np.load(bundled_model_path()) as raw:
        struct = Struct(**{key: raw[key] for key in raw.files})
    reference = smplx.SMPL(model_path="", data_struct=struct, num_betas=10, dtype=torch.float64)
    body = BodyModel(open_data, dtype=torch.float64)
    pose, betas = random_inputs(2, 10, seed=5)
    theirs = reference(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:])
    ours = body(pose, betas)
    assert (ours.vertices - theirs.vertices).abs().max() < 1e-5
    assert (ours.joints - theirs.joints[:, :24]).abs().max() < 1e-5


def test_pose_as_matrices_and_any_float_dtype(open_data):
    body = BodyModel(open_data, dtype=torch.float64)
    pose, betas = random_inputs(2, 10, seed=6)
    from staf.geometry.rotations import axis_angle_to_matrix

    matrices = axis_angle_to_matrix(pose.view(2, 24, 3))
    by_vector = body(pose, betas).vertices
    assert (body(matrices, betas).vertices - by_vector).abs().max() < 1e-10
    assert (body(pose.view(2, 24, 3), betas).vertices - by_vector).abs().max() < 1e-10
    single = body(pose.float(), betas.float()).vertices
    assert single.dtype == torch.float32
    assert (single.double() - by_vector).abs().max() < 1e-4
    # fewer betas than the model has = the rest set to zero
    padded = torch.cat([betas[:, :4], torch.zeros(2, 6, dtype=torch.float64)], dim=1)
    assert (body(pose, betas[:, :4]).vertices - body(pose, padded).vertices).abs().max() < 1e-12


def test_bad_shapes_are_reported(open_data):
    body = BodyModel(open_data)
    with pytest.raises(ValueError, match=r"pose has shape \(2, 70\)"):
        body(torch.zeros(2, 70))
    with pytest.raises(ValueError, match=r"K ≤ 10"):
        body(torch.zeros(2, 72), torch.zeros(2, 11))


def test_gradients_match_finite_differences():
    """Autograd through LBS (pose, shape, translation) against central differences (gradcheck)."""
    arrays = random_smpl_arrays(num_vertices=60, seed=8)
    data = BodyModelData(name="tiny", source="test", v_template=arrays["v_template"],
                         shapedirs=arrays["shapedirs"], posedirs=arrays["posedirs"],
                         j_regressor=arrays["J_regressor"], weights=arrays["weights"],
                         parents=np.array([-1, *arrays["kintree_table"][0, 1:]]), faces=arrays["f"] % 60)
    body = BodyModel(data, dtype=torch.float64)
    pose, betas = random_inputs(2, 10, seed=9)
    translation = torch.randn(2, 3, dtype=torch.float64)
    inputs = (pose.requires_grad_(), betas.requires_grad_(), translation.requires_grad_())
    assert torch.autograd.gradcheck(lambda p, b, t: body(p, b, t).vertices, inputs, eps=1e-6, atol=1e-5)
