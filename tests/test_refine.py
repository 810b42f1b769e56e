"""The refine stage's fit (staf.inference.refine) and the BlazePose landmark map (staf.body.landmarks)."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from staf.body.joint_sets import ALL54_NAMES
from staf.body.landmarks import BLAZEPOSE_NAMES, CANDIDATES, LandmarkMap, fit_landmark_map
from staf.errors import MalformedFileError, StafError
from staf.geometry.cameras import cliff_cam_from_translation, cliff_translation
from staf.geometry.rotations import axis_angle_to_matrix
from staf.inference.formats import REFINE_WEIGHTS
from staf.inference.refine import (BodyState, LandmarkBody, Observations, RefineConfig, geman_mcclure, joint_limit_term,
                                   project, ray_rotation, refine_loss, refine_track, reprojection_term,
                                   smoothness_term, turned_round, world_term)

FOCAL, SIZE = 1000.0, (1280, 720)


def scene(body, frames: int = 12, seed: int = 0):
    """A moving person 5 m in front of the camera, facing it: truth, its landmarks and observations."""
    generator = torch.Generator().manual_seed(seed)
    time = torch.linspace(0, 1, frames)[:, None]
    pose = torch.zeros(frames, 24, 3)
    pose[:, 0] = torch.tensor([np.pi, 0.0, 0.0])
    pose[:, 1:] = 0.25 * torch.randn(1, 23, 3, generator=generator) * torch.cos(3 * time)[:, :, None]
    rotmat = axis_angle_to_matrix(pose)
    betas = 0.5 * torch.randn(1, 10, generator=generator)
    transl = torch.tensor([0.2, 0.1, 5.0]).repeat(frames, 1)
    transl[:, 0] += 0.4 * time[:, 0]
    landmark_map = LandmarkMap.shipped()
    landmarks, joints = LandmarkBody(body, landmark_map)(rotmat, betas, transl)
    pixels = project(landmarks, FOCAL, torch.tensor([SIZE[0] / 2, SIZE[1] / 2]))
    keypoints = torch.cat([pixels, torch.full((frames, 33, 1), 0.9)], dim=-1)
    world = landmarks - landmarks[:, [23, 24]].mean(dim=1, keepdim=True)
    observed = Observations(keypoints, world, torch.full((frames,), 300.0), SIZE, FOCAL)
    return BodyState(rotmat, betas.expand(frames, -1), transl), landmarks, joints, observed, landmark_map


def joint_error_mm(body, landmark_map, state: BodyState, truth_joints: torch.Tensor) -> float:
    _, joints = LandmarkBody(body, landmark_map)(state.rotmat, state.betas[:1], state.transl)
    return float((joints - truth_joints).norm(dim=-1).mean()) * 1000


# ------------------------------------------------------------------------------- landmark map

def test_shipped_map_rows_are_affine_and_use_only_their_candidates():
    landmark_map = LandmarkMap.shipped()
    np.testing.assert_allclose(landmark_map.weights.sum(axis=1), 1.0, atol=1e-5)
    for row, name in enumerate(BLAZEPOSE_NAMES):
        allowed = {ALL54_NAMES.index(joint) for joint in CANDIDATES[name]}
        assert set(np.flatnonzero(landmark_map.weights[row])) <= allowed, name
    # the fit's own record: a held-out error below the semantic map's
    errors = landmark_map.notes["held_out_mean_distance_box_sides"]
    assert errors["fitted"]["mean_33"] < errors["semantic"]["mean_33"]


def test_map_of_points_equals_a_float64_weighted_sum(body):
    joints54 = torch.randn(3, 54, 3, dtype=torch.float64)
    landmark_map = LandmarkMap.shipped()
    expected = np.einsum("kj,bjd->bkd", landmark_map.weights, joints54.numpy())
    np.testing.assert_allclose(landmark_map(joints54).numpy(), expected, rtol=1e-12)


def test_fit_recovers_known_weights_and_trims_gross_errors():
    rng = np.random.default_rng(0)
    projected = rng.normal(size=(400, 54, 2)) * 50 + 200
    truth = LandmarkMap.semantic().weights.copy()
    row, columns = BLAZEPOSE_NAMES.index("left_hip"), [ALL54_NAMES.index(j) for j in CANDIDATES["left_hip"]]
    truth[row, columns] = [0.8, 0.3, -0.2, 0.1]
    keypoints = np.einsum("kj,njd->nkd", truth, projected)
    keypoints[:20] += 500.0                              # gross detector errors on 5 % of frames
    fitted = fit_landmark_map(projected, keypoints, np.ones((400, 33), bool), np.full(400, 100.0), ridge=0.0,
                              trim=0.9, rounds=3)
    np.testing.assert_allclose(fitted.weights[row, columns], [0.8, 0.3, -0.2, 0.1], atol=1e-6)


def test_map_file_round_trip_and_bad_files(tmp_path):
    path = tmp_path / "map.json"
    LandmarkMap.shipped().save(path)
    np.testing.assert_allclose(LandmarkMap.load(path).weights, LandmarkMap.shipped().weights, atol=1e-6)
    path.write_text(json.dumps({"landmarks": {"nose": {"not_a_joint": 1.0}}}))
    with pytest.raises(MalformedFileError, match="not a landmark map"):
        LandmarkMap.load(path)
    with pytest.raises(MalformedFileError, match="sum to 1"):
        LandmarkMap(np.zeros((33, 54)))


def test_landmark_body_equals_the_body_models_full_forward(body):
    state, *_ = scene(body, frames=3)
    landmark_map = LandmarkMap.shipped()
    fast, joints = LandmarkBody(body, landmark_map)(state.rotmat, state.betas[:1], state.transl)
    output = body(state.rotmat, state.betas, state.transl)
    full = landmark_map(body.joints54(output.vertices, output.joints))
    np.testing.assert_allclose(fast.numpy(), full.numpy(), atol=1e-5)
    np.testing.assert_allclose(joints.numpy(), output.joints.numpy(), atol=1e-5)


# ------------------------------------------------------------------------------- terms

def test_reprojection_term_against_float64(body):
    _, landmarks, _, observed, _ = scene(body, frames=4)
    moved = landmarks + 0.03 * torch.randn_like(landmarks)
    observed.keypoints[0] = float("nan")                                 # a frame without keypoints
    observed.keypoints[1, :, 2] = torch.linspace(0, 1, 33)
    config = RefineConfig()
    value = reprojection_term(moved, observed, config)
    points, keypoints = moved.double().numpy(), observed.keypoints.double().numpy()
    pixels = FOCAL * points[..., :2] / points[..., 2:] + np.array([SIZE[0] / 2, SIZE[1] / 2])
    squared = ((pixels - np.nan_to_num(keypoints[..., :2])) ** 2).sum(-1) / 300.0**2
    visibility = np.nan_to_num(keypoints[..., 2])
    weights = np.where(visibility >= config.min_visibility, visibility, 0.0)
    expected = (squared / (squared + config.sigma**2) * weights).sum() / weights.sum()
    np.testing.assert_allclose(float(value), expected, rtol=1e-5)


def test_world_term_against_float64_for_a_centred_person(body):
    _, landmarks, _, observed, _ = scene(body, frames=3)
    observed = dataclasses.replace(observed, keypoints=observed.keypoints.clone())
    observed.keypoints[..., :2] = torch.tensor([SIZE[0] / 2, SIZE[1] / 2])   # on the axis: no ray turn
    moved = landmarks + 0.05 * torch.randn_like(landmarks)
    config = RefineConfig()
    chosen = list(range(11, 33))
    body_points, world = moved[:, chosen].double().numpy(), observed.world_landmarks[:, chosen].double().numpy()
    world_centred = world - world.mean(1, keepdims=True)
    body_centred = body_points - body_points.mean(1, keepdims=True)
    scale = (body_centred * world_centred).sum((1, 2)) / (world_centred**2).sum((1, 2))
    target = scale[:, None, None] * world_centred + body_points.mean(1, keepdims=True)
    squared = ((body_points - target) ** 2).sum(-1)
    expected = (squared / (squared + config.sigma_world**2)).mean()
    np.testing.assert_allclose(float(world_term(moved, observed, config)), expected, rtol=1e-4)


def test_ray_rotation_turns_the_optical_axis_onto_the_ray():
    centres = torch.tensor([[900.0, 100.0], [640.0, 360.0]])
    rotation = ray_rotation(centres, torch.tensor([FOCAL, FOCAL]), torch.tensor([640.0, 360.0]))
    rays = rotation @ torch.tensor([0.0, 0.0, 1.0])
    np.testing.assert_allclose((rays[:, :2] / rays[:, 2:] * FOCAL + torch.tensor([640.0, 360.0])).numpy(),
                               centres.numpy(), atol=1e-3)
    np.testing.assert_allclose(rotation[1].numpy(), np.eye(3), atol=1e-6)


def test_joint_limit_and_smoothness_terms_against_float64():
    from staf.data.synthetic.joint_limits import limits_array

    vectors = 0.5 * torch.randn(5, 24, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert float(vectors.norm(dim=-1).max()) < 3.0          # inside (-π, π]: the rotation vector round-trips
    limits = limits_array()[1:]
    excess = np.maximum(vectors[:, 1:].numpy() - limits[..., 1], 0) + np.maximum(limits[..., 0] - vectors[:, 1:].numpy(), 0)
    np.testing.assert_allclose(float(joint_limit_term(axis_angle_to_matrix(vectors))), (excess**2).sum(-1).mean(),
                               rtol=1e-6)
    joints = torch.randn(6, 24, 3, dtype=torch.float64)
    second = joints.numpy()[2:] - 2 * joints.numpy()[1:-1] + joints.numpy()[:-2]
    np.testing.assert_allclose(float(smoothness_term(joints)), (second**2).sum(-1).mean(), rtol=1e-12)
    assert float(smoothness_term(joints[:2])) == 0.0


def test_geman_mcclure_and_loss_terms_are_weighted(body):
    assert float(geman_mcclure(torch.tensor(0.04), 0.2)) == pytest.approx(0.5)
    start, _, _, observed, landmark_map = scene(body, frames=4)
    residual = 0.1 * torch.ones(4, 24, 3)
    betas, transl = start.betas[:1] + 0.3, start.transl.clone()
    unit = refine_loss(LandmarkBody(body, landmark_map), start, residual, betas, transl, observed, RefineConfig())
    doubled = RefineConfig(**{name: 2 * getattr(RefineConfig(), name) for name in REFINE_WEIGHTS})
    twice = refine_loss(LandmarkBody(body, landmark_map), start, residual, betas, transl, observed, doubled)
    for name in REFINE_WEIGHTS:
        assert float(twice[name]) == pytest.approx(2 * float(unit[name]), rel=1e-5, abs=1e-9)
    assert float(unit["pose_prior"]) == pytest.approx(RefineConfig().pose_prior * 0.03, rel=1e-5)


# ------------------------------------------------------------------------------- the fit

def test_fit_recovers_a_known_pose_from_noisy_keypoints_better_than_the_start(body):
    truth, _, truth_joints, observed, landmark_map = scene(body, frames=12)
    generator = torch.Generator().manual_seed(1)
    noisy = dataclasses.replace(observed, keypoints=observed.keypoints.clone())
    noisy.keypoints[..., :2] += 3.0 * torch.randn(noisy.keypoints[..., :2].shape, generator=generator)
    start = BodyState(truth.rotmat @ axis_angle_to_matrix(0.2 * torch.randn(12, 24, 3, generator=generator)),
                      torch.zeros(12, 10), truth.transl * torch.tensor([1.0, 1.0, 1.1]))
    refined, report = refine_track(body, landmark_map, start, noisy, RefineConfig(iterations=100))
    before = joint_error_mm(body, landmark_map, start, truth_joints)
    after = joint_error_mm(body, landmark_map, refined, truth_joints)
    assert after < 0.5 * before, (before, after)
    assert report["after"]["total"] < report["before"]["total"]
    assert report["turned_round"] == 0


def test_frames_without_keypoints_stay_smooth(body):
    truth, _, truth_joints, observed, landmark_map = scene(body, frames=12)
    gap = dataclasses.replace(observed, keypoints=observed.keypoints.clone(),
                              world_landmarks=observed.world_landmarks.clone())
    gap.keypoints[5:8] = float("nan")
    gap.world_landmarks[5:8] = float("nan")
    jumpy = truth.transl.clone()
    jumpy[5:8, 2] += torch.tensor([0.8, -0.6, 0.7])                   # the network's jitter in the gap
    start = BodyState(truth.rotmat, truth.betas, jumpy)
    refined, _ = refine_track(body, landmark_map, start, gap, RefineConfig(iterations=100))
    _, joints = LandmarkBody(body, landmark_map)(refined.rotmat, refined.betas[:1], refined.transl)
    acceleration = (joints[2:] - 2 * joints[1:-1] + joints[:-2]).norm(dim=-1).mean(dim=-1)
    _, start_joints = LandmarkBody(body, landmark_map)(start.rotmat, start.betas[:1], start.transl)
    start_acceleration = (start_joints[2:] - 2 * start_joints[1:-1] + start_joints[:-2]).norm(dim=-1).mean(dim=-1)
    assert float(acceleration[3:8].max()) < 0.1 * float(start_acceleration[3:8].max())
    assert float((refined.transl[5:8] - truth.transl[5:8]).norm(dim=-1).max()) < 0.1


def test_world_landmarks_remove_a_depth_flip_that_2d_allows(body):
    """A forearm bent toward the camera and one bent away project alike; the world term picks."""
    truth, _, _, observed, landmark_map = scene(body, frames=1)
    truth.rotmat[:, 1:] = torch.eye(3)                   # arms out sideways, facing the camera
    elbow = 18                                                               # left elbow
    toward = truth.rotmat.clone()
    toward[:, elbow] = axis_angle_to_matrix(torch.tensor([[0.0, -1.2, 0.0]]))
    away = truth.rotmat.clone()
    away[:, elbow] = axis_angle_to_matrix(torch.tensor([[0.0, 1.2, 0.0]]))
    landmark_body = LandmarkBody(body, landmark_map)
    landmarks, _ = landmark_body(toward, truth.betas[:1], truth.transl)
    pixels = project(landmarks, FOCAL, torch.tensor([SIZE[0] / 2, SIZE[1] / 2]))
    observed = Observations(torch.cat([pixels, torch.ones(1, 33, 1)], -1),
                            landmarks - landmarks[:, [23, 24]].mean(1, keepdim=True), observed.box_sides, SIZE, FOCAL)
    wrist = 15                                                               # BlazePose left wrist
    away_landmarks, _ = landmark_body(away, truth.betas[:1], truth.transl)
    depth_gap = float((away_landmarks[0, wrist, 2] - landmarks[0, wrist, 2]).abs())
    assert depth_gap > 0.15                                                  # the two really differ in depth
    start = BodyState(away, truth.betas, truth.transl)
    only_2d, _ = refine_track(body, landmark_map, start, observed,
                              RefineConfig(iterations=60, world=0.0, turn_round=False))
    with_world, _ = refine_track(body, landmark_map, start, observed, RefineConfig(iterations=60, turn_round=False))

    def wrist_depth_error(state):
        points, _ = landmark_body(state.rotmat, state.betas[:1], state.transl)
        return float((points[0, wrist, 2] - landmarks[0, wrist, 2]).abs())

    assert wrist_depth_error(with_world) < 0.3 * depth_gap
    assert wrist_depth_error(only_2d) > 0.5 * depth_gap


def test_turned_round_keeps_the_silhouette_and_the_fit_turns_a_back_view_round(body):
    truth, landmarks, truth_joints, observed, landmark_map = scene(body, frames=6)
    turned = turned_round(truth.rotmat)
    np.testing.assert_allclose(turned_round(turned).numpy(), truth.rotmat.numpy(), atol=1e-5)
    _, joints = LandmarkBody(body, landmark_map)(truth.rotmat, truth.betas[:1], truth.transl)
    _, turned_joints = LandmarkBody(body, landmark_map)(turned, truth.betas[:1], truth.transl)
    centre = torch.tensor([SIZE[0] / 2, SIZE[1] / 2])
    silhouette = project(joints, FOCAL, centre)
    swap = [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22]
    moved = (project(turned_joints, FOCAL, centre)[:, swap] - silhouette).norm(dim=-1)
    unswapped = (project(turned_joints, FOCAL, centre) - silhouette).norm(dim=-1)
    assert float(moved.mean()) < 10.0 < 3 * float(moved.mean()) < float(unswapped.mean())  # px; perspective alone
    start = BodyState(turned, truth.betas, truth.transl)                      # facing away, labels swapped
    # six frames span the whole movement (far faster than video): a lighter smoothness than the default
    settings = RefineConfig(iterations=60, smoothness=50.0)
    refined, report = refine_track(body, landmark_map, start, observed, settings)
    assert report["turned_round"] == 6
    kept, _ = refine_track(body, landmark_map, start, observed, dataclasses.replace(settings, turn_round=False))
    turned_error = joint_error_mm(body, landmark_map, refined, truth_joints)
    assert turned_error < 70.0 and turned_error < 0.5 * joint_error_mm(body, landmark_map, kept, truth_joints)


def test_settings_are_checked():
    with pytest.raises(StafError, match="refine iterations"):
        RefineConfig(iterations=-1)
    with pytest.raises(StafError, match="refine world"):
        RefineConfig(world=float("nan"))
    with pytest.raises(StafError, match="refine sigma"):
        RefineConfig(sigma=0.0)
    assert set(REFINE_WEIGHTS) <= {field.name for field in dataclasses.fields(RefineConfig)}


def test_cliff_camera_inverse_round_trips():
    translation = torch.tensor([[0.3, -0.2, 6.0], [-1.0, 0.5, 3.0]])
    boxes = torch.tensor([[700.0, 300.0, 250.0], [200.0, 500.0, 120.0]])
    size, focal = torch.tensor([[1280.0, 720.0]]).expand(2, 2), torch.tensor([1000.0, 1000.0])
    cam = cliff_cam_from_translation(translation, boxes, size, focal)
    np.testing.assert_allclose(cliff_translation(cam, boxes, size, focal).numpy(), translation.numpy(), rtol=1e-5)
