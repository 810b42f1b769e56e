"""The STAF network: official parameter count, variants, gradients, module equations."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch

from staf.body import BodyModel
from staf.errors import StafError
from staf.geometry.cameras import weak_perspective_project
from staf.geometry.rotations import rot6d_to_matrix
from staf.models import STAF, STAFConfig
from staf.models.staf.apm import average_pool_target
from staf.models.staf.safm import SAFM
from staf.models.staf.sampling import grid_points
from staf.models.staf.tcfm import TCFM

#: every key and shape of the official checkpoint's head (copied from shared/reference)
OFFICIAL_TSV = Path(__file__).resolve().parent / "data" / "official_staf_head_state_dict.tsv"
SMALL = dict(backbone="resnet18", image_size=64)


def official_entries() -> list[tuple[str, tuple[int, ...]]]:
    rows = [line.rstrip("\n").split("\t") for line in OFFICIAL_TSV.read_text().splitlines() if line.strip()]
    return [(key, tuple(ast.literal_eval(shape))) for key, shape in rows]


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load()


def test_head_has_exactly_the_official_parameter_count(body):
    buffers = ("running_mean", "running_var", "num_batches_tracked", "Dmap", "init_", "points_grid")
    official = sum(math.prod(shape) for key, shape in official_entries() if not any(b in key for b in buffers))
    assert official == 31_988_035
    model = STAF(STAFConfig(), body)
    assert sum(p.numel() for p in model.head_parameters()) == official
    assert sum(p.numel() for p in model.encoder.parameters()) == 23_508_032  # ResNet-50 without fc


@pytest.mark.parametrize("variant", ["base", "base+apm", "base+stf", "staf"])
def test_variants_run_forward_and_backward_and_every_parameter_learns(variant, body):
    torch.manual_seed(0)
    model = STAF(STAFConfig(variant=variant, **SMALL), body).train()
    images = torch.randn(2, 9, 3, 64, 64)
    out = model(images)
    assert out.stage1.vertices.shape == (2, 9, body.num_vertices, 3)
    assert out.final.pose.shape == (2, 72) and out.final.rotmat.shape == (2, 24, 3, 3)
    assert out.final.joints2d["lsp14"].shape == (2, 14, 2)
    loss = sum(stage.joints.square().mean() + stage.cam.square().mean() for stage in out.stages)
    loss.backward()
    silent = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert silent == []
    assert (model.tcfm is not None) == (variant in ("base+stf", "staf"))


def test_frozen_encoder_receives_no_gradient(body):
    model = STAF(STAFConfig(**SMALL), body).train()
    model.encoder.requires_grad_(False).eval()
    out = model(torch.randn(1, 9, 3, 64, 64))
    sum(stage.joints.square().mean() + stage.joints2d["smpl24"].square().mean() for stage in out.stages).backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.head_parameters())


def test_apm_replaces_only_the_target_frame():
    features = torch.randn(2, 9, 4, 3, 3)
    pooled = average_pool_target(features, 4)
    assert torch.allclose(pooled[:, 4], features.mean(1))
    assert torch.equal(pooled[:, [0, 1, 2, 3, 5, 6, 7, 8]], features[:, [0, 1, 2, 3, 5, 6, 7, 8]])


def official_tcfm(module: TCFM, x: torch.Tensor) -> torch.Tensor:
    """The official non-local block, written from its equations with its batch layout quirk."""
    x = x.permute(0, 2, 1)
    b, c, t = x.shape
    similarity = torch.softmax(x.permute(0, 2, 1) @ x, dim=-1)
    phi = torch.einsum("oc,bct->bot", module.key.weight, x)
    theta = torch.einsum("oc,bct->bot", module.query.weight, x).permute(0, 2, 1)
    g = torch.einsum("oc,bct->bot", module.value.weight, x).permute(0, 2, 1)
    content = torch.softmax(theta @ phi, dim=-1)
    stacked = torch.cat((similarity, content), dim=0).view(b, -1, t, t)  # pairs samples when b > 1
    fused = torch.softmax(module.fuse(stacked).reshape(b, t, t), dim=-1)
    mixed = (fused @ g).permute(0, 2, 1)
    return (torch.einsum("oc,bct->bot", module.output.weight, mixed) + x).permute(0, 2, 1)


def test_tcfm_equals_the_official_block_at_batch_size_one_and_is_per_sample():
    torch.manual_seed(1)
    module = TCFM(40).double()
    windows = torch.randn(3, 9, 40, dtype=torch.float64) * 0.3
    ours = module(windows)
    for index in range(3):
        assert torch.allclose(ours[index : index + 1], official_tcfm(module, windows[index : index + 1]), atol=1e-12)
    # per sample: a window's output does not depend on the others in the batch
    assert torch.allclose(module(windows[1:2]), ours[1:2], atol=1e-12)
    # the official batch layout mixes samples, which staf does not reproduce
    assert not torch.allclose(official_tcfm(module, windows), ours, atol=1e-6)


def test_safm_fuses_groups_of_three_hierarchically():
    torch.manual_seed(2)
    module = SAFM(12, 8).double()
    features = torch.randn(2, 9, 12, dtype=torch.float64)
    level1 = torch.stack([module.attention(features[:, 3 * g : 3 * g + 3]) for g in range(3)], dim=1)
    expected = module.attention(level1)
    assert torch.allclose(module(features), expected, atol=1e-12)
    # weights of one group sum to one: equal inputs pass through unchanged
    same = torch.randn(1, 1, 12, dtype=torch.float64).expand(1, 27, 12)
    assert torch.allclose(module(same), same[:, 0], atol=1e-12)
    for length in (1, 2, 6, 12):
        with pytest.raises(StafError, match="power of 3"):
            module(torch.randn(1, length, 12, dtype=torch.float64))


def test_seq_len_must_suit_safm():
    with pytest.raises(StafError, match="T = 8"):
        STAFConfig(seq_len=8)
    assert STAFConfig(variant="base", seq_len=8).target_index == 4


def test_grid_matches_the_official_layout():
    points = grid_points(21)
    assert points.shape == (441, 2)
    assert points[0].tolist() == [-1.0, -1.0] and points[1].tolist() == pytest.approx([-1.0, -0.9])
    assert points[21].tolist() == pytest.approx([-0.9, -1.0])


def _official_projection_float64(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """PyMAF's ``projection`` re-computed in float64: f = 5000 on a 224-px crop, tz = 2f/(224 s)."""
    points, cam = points.double(), cam.double()
    translation = torch.stack([cam[:, 1], cam[:, 2], 2 * 5000.0 / (224.0 * cam[:, 0] + 1e-9)], dim=-1)
    camera = points + translation[:, None]
    return 5000.0 * camera[..., :2] / camera[..., 2:] / 112.0


def test_sampling_points_and_keypoints_use_the_official_projection(body):
    """Stages 2-3 sample at, and every stage reports 2D keypoints at, the official perspective
    projection; weak perspective would be off by ~1e-2 here (cameras of scale ~1, depths ±0.3 m)."""
    torch.manual_seed(1)
    model = STAF(STAFConfig(**SMALL), body).eval()
    pose_6d = model.init_pose.expand(3, -1) + 0.1 * torch.randn(3, 144)
    betas, cam = torch.randn(3, 10), torch.tensor([[0.9, 0.05, 0.1], [1.3, -0.1, 0.0], [0.7, 0.2, -0.2]])
    points = model.mesh_points((pose_6d, betas, cam))
    rotmat = rot6d_to_matrix(pose_6d.reshape(-1, 24, 6))
    reference = _official_projection_float64(body.downsampled_vertices(rotmat, betas), cam)
    assert (points.double() - reference).abs().max() < 1e-5
    prediction = model.predict_body(pose_6d, betas, cam)
    for name, joints in [("smpl24", prediction.joints), *prediction.joint_sets.items()]:
        assert (prediction.joints2d[name].double() - _official_projection_float64(joints, cam)).abs().max() < 1e-5
    weak = weak_perspective_project(prediction.joints, cam)
    assert (weak - prediction.joints2d["smpl24"]).abs().max() > 1e-3
