"""TAR's modules against independent re-computations: ConvGRU (eqs. 1–4) and the bidirectional
LTE in float64 with separate W and U convolutions, the CLIFF camera (eqs. 5–6) against a float64
pinhole, the marker window (eq. 7), shapes of every module, gradients of every parameter in every
variant, streaming = naive with real geometry, the γ^(L−l) loss weights (eq. 14)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from staf.body import BodyModel
from staf.errors import StafError
from staf.geometry.cameras import cliff_bbox_info, cliff_crop_project, crop_to_image_points
from staf.models import MeshRecoveryModel, SequenceInput, build_model
from staf.models.tar import TARConfig
from staf.models.tar.gte import GlobalTemporalEncoder
from staf.models.tar.local_features import LocalFeatureHead
from staf.models.tar.lte import ConvGRUCell, LocalTemporalEncoder
from staf.models.tar.markers import marker_vertices
from staf.models.tar.regressor import ParameterRegressor
from staf.models.tar.rrm import MarkerFeedback, MultiGRU, disc_offsets
from staf.training import augment
from staf.training.config import LossWeights
from staf.training.losses import Targets, total_loss

SIZE = 64
SMALL = dict(backbone="resnet18", image_size=SIZE, seq_len=5, local_window=3, local_channels=8, gte_width=32, gte_heads=2,
             gte_feedforward=64, hidden=8, regressor_width=8, iterations=2, local_dim=16)


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load()


def small(body, seed=0, **changes):
    torch.manual_seed(seed)
    return build_model("tar", {**SMALL, **changes}, body)


def geometry(count: int, generator: torch.Generator, frames: int | None = None) -> SequenceInput:
    """Random but plausible boxes in a 640×360 image with the diagonal as focal length."""
    lead = (count,) if frames is None else (count, frames)
    centre = torch.rand(*lead, 2, generator=generator) * torch.tensor([400.0, 200.0]) + torch.tensor([120.0, 80.0])
    size = torch.rand(*lead, 1, generator=generator) * 150 + 100
    image = torch.tensor([640.0, 360.0]).expand(*lead, 2)
    return SequenceInput(crops=None, boxes=torch.cat([centre, size], -1), image_size=image,
                         focal_length=image.norm(dim=-1))


# ----------------------------------------------------------------------------- ConvGRU / LTE

def reference_step(cell: ConvGRUCell, m: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Eqs. 1–4 in float64 with W (input) and U (hidden) as separate convolutions."""
    d = m.shape[1]
    gates_w, gates_b = cell.gates.weight.double(), cell.gates.bias.double()
    cand_w, cand_b = cell.candidate.weight.double(), cell.candidate.bias.double()
    conv = lambda x, w: F.conv2d(x, w, padding=1)  # noqa: E731
    w_z, u_z, b_z = gates_w[:d, :d], gates_w[:d, d:], gates_b[:d]
    w_r, u_r, b_r = gates_w[d:, :d], gates_w[d:, d:], gates_b[d:]
    z = torch.sigmoid(conv(m, w_z) + conv(h, u_z) + b_z[None, :, None, None])                 # (1)
    r = torch.sigmoid(conv(m, w_r) + conv(h, u_r) + b_r[None, :, None, None])                 # (2)
    candidate = torch.tanh(conv(m, cand_w[:, :d]) + conv(r * h, cand_w[:, d:]) + cand_b[None, :, None, None])  # (3)
    return (1 - z) * h + z * candidate                                                        # (4)


def test_convgru_step_equals_the_float64_equations():
    torch.manual_seed(0)
    cell = ConvGRUCell(6)
    m, h = torch.randn(2, 6, 9, 7), torch.randn(2, 6, 9, 7)
    expected = reference_step(cell, m.double(), h.double())
    assert (cell(m, h).double() - expected).abs().max() < 1e-5
    assert (cell.double()(m.double(), h.double()) - expected).abs().max() < 1e-12


def test_lte_is_the_bidirectional_recurrence_from_zero_maps():
    torch.manual_seed(1)
    lte = LocalTemporalEncoder(4, 8).double()
    maps = torch.randn(2, 5, 4, 8, 8, dtype=torch.float64)
    past = future = torch.zeros(2, 4, 8, 8, dtype=torch.float64)
    for t in (0, 1, 2):                       # m_0 … m_τ forwards
        past = reference_step(lte.past, maps[:, t], past)
    for t in (4, 3, 2):                       # m_{L−1} … m_τ backwards
        future = reference_step(lte.future, maps[:, t], future)
    expected = lte.project(torch.cat([past, future], dim=1))
    assert (lte(maps) - expected).abs().max() < 1e-12
    assert lte(maps).shape == (2, 4, 8, 8)


@pytest.mark.parametrize("hidden", [16, 8, 4])
def test_down_sampled_lte_keeps_the_map_size(hidden):
    lte = LocalTemporalEncoder(4, 16, hidden)
    recorded = []
    lte.past.register_forward_hook(lambda module, args, out: recorded.append(out.shape) and None)
    assert lte(torch.randn(1, 3, 4, 16, 16)).shape == (1, 4, 16, 16)
    assert recorded[0] == (1, 4, hidden, hidden)           # the ConvGRU runs at S × S


def test_lte_refuses_a_hidden_size_that_is_not_a_power_of_two_division():
    with pytest.raises(ValueError, match="power of 2"):
        LocalTemporalEncoder(4, 16, 6)
    with pytest.raises(StafError, match="lte_hidden_size"):
        TARConfig(image_size=128, lte_hidden_size=24)


# ----------------------------------------------------------------------------- CLIFF camera

def test_cliff_projection_equals_a_float64_pinhole():
    generator = torch.Generator().manual_seed(2)
    points = torch.randn(3, 20, 3, generator=generator, dtype=torch.float64) * 0.5
    cam = torch.tensor([[0.9, 0.1, -0.2], [1.2, 0.0, 0.3], [0.6, -0.1, 0.0]], dtype=torch.float64)
    geo = geometry(3, generator)
    boxes, size, focal = geo.boxes.double(), geo.image_size.double(), geo.focal_length.double()
    projected = cliff_crop_project(points, cam, boxes, size, focal)
    for b in range(3):
        s, tx, ty = cam[b].tolist()
        cx, cy, side = boxes[b].tolist()
        width, height = size[b].tolist()
        f = focal[b].item()
        t = np.array([tx + 2 * (cx - width / 2) / (s * side), ty + 2 * (cy - height / 2) / (s * side), 2 * f / (s * side)])
        shifted = points[b].numpy() + t
        pixels = f * shifted[:, :2] / shifted[:, 2:] + np.array([width / 2, height / 2])
        expected = (pixels - np.array([cx, cy])) / (side / 2)
        assert np.abs(projected[b].numpy() - expected).max() < 1e-12
    as_float = cliff_crop_project(points.float(), cam.float(), boxes.float(), size.float(), focal.float())
    assert (as_float.double() - projected).abs().max() < 1e-5


def test_cliff_projection_is_weak_perspective_on_the_body_plane():
    """Points at Z = 0 land at s·(X + t) in the crop, wherever the box is in the image."""
    generator = torch.Generator().manual_seed(3)
    points = torch.randn(4, 10, 3, generator=generator, dtype=torch.float64)
    points[..., 2] = 0
    cam = torch.tensor([[0.9, 0.1, -0.2]] * 4, dtype=torch.float64)
    geo = geometry(4, generator)
    projected = cliff_crop_project(points, cam, geo.boxes.double(), geo.image_size.double(), geo.focal_length.double())
    assert (projected - cam[:, None, :1] * (points[..., :2] + cam[:, None, 1:])).abs().max() < 1e-12


def test_bbox_info_follows_cliff():
    info = cliff_bbox_info(torch.tensor([[420.0, 180.0, 200.0]]), torch.tensor([[640.0, 360.0]]), torch.tensor([1000.0]))
    assert torch.allclose(info, torch.tensor([[100 / 1000 * 2.8, 0.0, (200 - 240) / 60]]))


def test_augmented_boxes_keep_the_keypoints_on_the_image():
    """A keypoint moved by the augmentation is the same image pixel seen from the moved box."""
    generator = torch.Generator().manual_seed(4)
    boxes = geometry(3, generator, frames=2).boxes
    parameters = torch.tensor([[1.1, 0.05, -0.03, 1, 1, 1], [0.9, -0.02, 0.0, 1, 1, 1], [1.0, 0.0, 0.04, 1, 1, 1]])
    joints = torch.rand(6, 5, 3, generator=generator) * 2 - 1
    _, moved = augment.apply(torch.zeros(3, 2, 3, 8, 8), joints, parameters)
    new_boxes = augment.move_boxes(boxes, parameters).reshape(6, 3)
    before = crop_to_image_points(joints[..., :2], boxes.reshape(6, 3))
    after = crop_to_image_points(moved[..., :2], new_boxes)
    assert (before - after).abs().max() < 1e-3


# ----------------------------------------------------------------------------- modules

def test_marker_window_is_the_disc_of_eq_7():
    offsets = disc_offsets(3)
    assert len(offsets) == 29 and (offsets.norm(dim=1) <= 3).all()
    assert len(disc_offsets(0)) == 1


def test_marker_feedback_reads_each_markers_own_map_around_it():
    feedback = MarkerFeedback(channels=2, markers=3, radius=1, per_marker=2, local_dim=4)
    maps = torch.arange(3 * 9 * 9, dtype=torch.float32).reshape(1, 3, 9, 9)
    # marker k at feature pixel (x, y) = (2 + k, 4): normalised (x / 8) * 2 − 1 with align_corners
    pixels = torch.tensor([[2.0, 4.0], [3.0, 4.0], [4.0, 4.0]])
    markers = (pixels / 8 * 2 - 1)[None]
    captured = {}
    feedback.per_marker.register_forward_hook(lambda module, args, out: captured.update(samples=args[0]))
    feedback(maps, markers)
    samples = captured["samples"][0]                               # (3, 5): the window of each marker
    for k, (x, y) in enumerate(pixels.long().tolist()):
        expected = [maps[0, k, y + dy, x + dx] for dx, dy in disc_offsets(1).long().tolist()]
        assert torch.allclose(samples[k], torch.stack(expected), atol=1e-4)


def test_module_shapes(body):
    assert LocalFeatureHead((64, 128, 256, 512), 8)([torch.randn(2, c, 16 // 2**i, 16 // 2**i)
                                                      for i, c in enumerate((64, 128, 256, 512))]).shape == (2, 8, 16, 16)
    gte = GlobalTemporalEncoder(512, 32, 5, layers=2, heads=2, feedforward=64)
    assert gte(torch.randn(3, 5, 512)).shape == (3, 32)
    assert GlobalTemporalEncoder(512, 32, 1, temporal=False)(torch.randn(3, 1, 512)).shape == (3, 32)
    pose, shape, cam = ParameterRegressor(8, 16, body.num_betas)(torch.randn(3, 26, 8), torch.randn(3, 3))
    assert pose.shape == (3, 144) and shape.shape == (3, body.num_betas) and cam.shape == (3, 3)
    assert MultiGRU(8, 20)(torch.randn(3, 26, 8), torch.randn(3, 20)).shape == (3, 26, 8)
    assert MarkerFeedback(8, 26)(torch.randn(3, 26, 16, 16), torch.rand(3, 26, 2) * 2 - 1).shape == (3, 256)
    markers = marker_vertices(body)
    assert markers.shape == (26,) and len(set(markers.tolist())) == 26
    model = small(body)
    features = model.frame_features(torch.randn(4, 3, SIZE, SIZE))
    global_, local = model.split_features(features)
    assert global_.shape == (4, 512) and local.shape == (4, 8, 16, 16)
    out = model(torch.randn(2, 5, 3, SIZE, SIZE))
    assert len(out.targets) == 3 and out.frames == []
    assert out.final.vertices.shape == (2, body.num_vertices, 3) and out.final.joints2d["spin49"].shape == (2, 49, 2)


def test_loss_weights_are_gamma_to_the_remaining_iterations(body):
    model = small(body, iterations=3, gamma=0.5)
    out = model(torch.randn(2, 5, 3, SIZE, SIZE), meshes=False)
    assert out.target_weights == [0.125, 0.25, 0.5, 1.0]
    targets = Targets(joints2d=torch.rand(2, 49, 3), joints3d=torch.randn(2, 49, 3), pose=torch.randn(2, 72) * 0.2,
                      betas=torch.randn(2, 10), has_2d=torch.ones(2, dtype=bool), has_3d=torch.ones(2, dtype=bool),
                      has_smpl=torch.ones(2, dtype=bool))
    weighted, _ = total_loss(out.targets, targets, LossWeights(), out.target_weights)
    each = [total_loss([p], targets, LossWeights())[0] for p in out.targets]
    assert torch.allclose(weighted, sum(w * e for w, e in zip(out.target_weights, each)))


@pytest.mark.parametrize("changes", [{}, {"variant": "no-lte"}, {"variant": "no-gte"}, {"variant": "single", "seq_len": 1,
                                     "local_window": 1}, {"lte_hidden_size": 4}, {"local_window": 5}])
def test_every_parameter_gets_a_gradient(body, changes):
    model = small(body, **changes)
    length = model.config.seq_len
    out = model(SequenceInput(crops=torch.randn(2, length, 3, SIZE, SIZE), **{
        k: v for k, v in dataclasses.asdict(geometry(2, torch.Generator().manual_seed(5), frames=length)).items()
        if k != "crops"}), meshes=False)
    loss = sum(w * (p.joints2d["spin49"].square().mean() + p.pose_6d.square().mean() + p.betas.square().mean())
               for w, p in zip(out.target_weights, out.targets))
    loss.backward()
    missing = [name for name, parameter in model.named_parameters() if parameter.grad is None or
               not parameter.grad.abs().sum() > 0]
    assert missing == []
    assert (model.lte is None) == (not model.config.use_lte)
    assert hasattr(model.gte, "transformer") == model.config.use_gte


def test_streaming_equals_the_naive_per_window_run_with_geometry(body):
    model = small(body).eval()
    generator = torch.Generator().manual_seed(6)
    track = dataclasses.replace(geometry(11, generator), crops=torch.randn(11, 3, SIZE, SIZE, generator=generator))
    fast = model.predict_sequence(track, window_batch=4)
    naive = MeshRecoveryModel.predict_sequence(model, track)
    assert (fast.vertices - naive.vertices).abs().max() < 1e-5
    assert (fast.joints2d["spin49"] - naive.joints2d["spin49"]).abs().max() < 1e-5
    plain = model.predict_sequence(dataclasses.replace(track, boxes=None, image_size=None, focal_length=None))
    assert (plain.joints2d["spin49"] - fast.joints2d["spin49"]).abs().max() > 1e-3   # the geometry is used


def test_camera_points_put_the_mesh_where_the_cliff_camera_does(body):
    model = small(body).eval()
    generator = torch.Generator().manual_seed(7)
    geo = geometry(3, generator)
    geo = dataclasses.replace(geo, image_size=torch.tensor([640.0, 360.0]).expand(3, 2),
                              focal_length=torch.full((3,), 700.0))
    points = torch.randn(3, 15, 3, generator=generator) * 0.4
    cam = torch.tensor([[0.9, 0.1, -0.2], [1.1, 0.0, 0.1], [0.7, 0.05, 0.0]])
    principal = torch.tensor([319.5, 179.5])
    shared = model.camera.camera_points(points, cam, geo.boxes, 700.0, (640, 360), principal)
    pixels = 700.0 * shared[..., :2] / shared[..., 2:] + principal
    expected = crop_to_image_points(cliff_crop_project(points, cam, geo.boxes, geo.image_size, geo.focal_length), geo.boxes)
    assert (pixels - expected).abs().max() < 1e-3


def test_config_refusals():
    with pytest.raises(StafError, match="odd"):
        TARConfig(local_window=4)
    with pytest.raises(StafError, match="local_window"):
        TARConfig(seq_len=3, local_window=5)
    with pytest.raises(StafError, match="unknown TAR variant"):
        TARConfig(variant="both")
    with pytest.raises(StafError, match="multiple of 32"):
        TARConfig(image_size=100)


@pytest.mark.parametrize("preset", ["tar-paper", "tar-synth-gpu", "tar-synth-cpu", "tar-synth-cpu-imagenet"])
def test_tar_presets_load_and_name_their_model(preset):
    from staf.config import load_config
    from staf.training import TrainConfig
    from staf.training.trainer import stage_recipe

    config = load_config(TrainConfig, preset)
    assert config.model_name == "tar" and config.model.seq_len == 9 and config.model.local_window == 5
    first, second = stage_recipe(config, 1), stage_recipe(config, 2)
    assert first.config.variant == "single" and first.config.seq_len == 1 and second.config == config.model
    assert second.frozen == ("encoder.", "local_head.")
    if preset == "tar-paper":
        assert (config.model.backbone, config.model.image_size, config.model.local_channels) == ("resnet50", 256, 256)
    if preset == "tar-synth-cpu-imagenet":
        assert (config.model.backbone, config.model.pretrained, config.model.image_size) == ("efficientnet-lite0", "imagenet", 160)
        assert config.freeze_encoder_batchnorm and config.stage1.encoder_lr == config.stage1.lr / 4


def test_boxes_without_an_image_size_are_refused(body):
    model = small(body)
    boxes = torch.tensor([[100.0, 80.0, 120.0]]).expand(5, 3)[None]
    with pytest.raises(ValueError, match="needs the image size"):
        model(SequenceInput(crops=torch.randn(1, 5, 3, SIZE, SIZE), boxes=boxes))
