"""Issue 32, part 1: the camera's rotation from the background (staf.geometry.camera_motion)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from staf.geometry.camera_motion import (CameraMotionConfig, background_mask, bearings, estimate_camera_rotations,
                                         rotation_between)

WIDTH, HEIGHT, FOCAL = 640, 360, 600.0
K = np.array([[FOCAL, 0, (WIDTH - 1) / 2], [0, FOCAL, (HEIGHT - 1) / 2], [0, 0, 1.0]])


def textured_scene(seed: int = 0) -> np.ndarray:
    """A wide backdrop with shapes and fine texture, as a distant background."""
    from staf.data.synthetic.appearance import procedural_background

    rng = np.random.default_rng(seed)
    image = procedural_background(rng, WIDTH * 2, HEIGHT * 2).astype(np.float64)
    image += rng.normal(0, 18, image.shape[:2])[..., None]
    return np.clip(image, 0, 255).astype(np.uint8)


def view(scene: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """The frame a camera turned by ``rotation`` (first camera → this one) sees of a distant
    backdrop: the backdrop is the first camera's wider view, its pixels mapped by K R K⁻¹."""
    import cv2

    wide = np.array([[FOCAL, 0, WIDTH - 0.5], [0, FOCAL, HEIGHT - 0.5], [0, 0, 1.0]])     # the backdrop's camera
    homography = K @ rotation @ np.linalg.inv(wide)
    return cv2.warpPerspective(scene, homography, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)


def angle_degrees(first: np.ndarray, second: np.ndarray) -> float:
    return math.degrees(Rotation.from_matrix(first @ second.T).magnitude())


def panning(frames: int, yaw: float, pitch: float, roll: float) -> list[np.ndarray]:
    return [Rotation.from_euler("yxz", [yaw * t, pitch * t, roll * t], degrees=True).as_matrix() for t in range(frames)]


def test_rotation_between_recovers_a_rotation_among_outliers():
    """Bearings turned by a known rotation, a third of them replaced by random directions: the
    RANSAC rotation is the truth to 1e-9 rad and the outliers are found."""
    rng = np.random.default_rng(3)
    truth = Rotation.from_rotvec([0.02, -0.05, 0.01]).as_matrix()
    before = rng.normal(size=(300, 3)) + [0, 0, 4]
    before /= np.linalg.norm(before, axis=1, keepdims=True)
    after = before @ truth.T
    outliers = rng.choice(300, 100, replace=False)
    after[outliers] = rng.normal(size=(100, 3))
    after /= np.linalg.norm(after, axis=1, keepdims=True)
    rotation, inliers = rotation_between(before, after, 1e-4, 100, rng)
    assert angle_degrees(rotation, truth) < 1e-7
    assert set(np.flatnonzero(~inliers)) == set(outliers)


def test_a_panning_camera_is_recovered_frame_by_frame_and_over_the_clip():
    """20 frames of a camera turning 0.6°/frame left, 0.25° down and 0.1° of roll: each step
    within 0.05° of the truth, the whole turn (about 13°) within 0.3°."""
    scene = textured_scene()
    truth = panning(20, 0.6, 0.25, 0.1)
    found = estimate_camera_rotations([view(scene, rotation) for rotation in truth], K)
    assert found.known.all() and (found.inliers[1:] >= 100).all()
    steps = [angle_degrees(found.rotations[t] @ found.rotations[t - 1].T, truth[t] @ truth[t - 1].T)
             for t in range(1, 20)]
    assert max(steps) < 0.05, steps
    assert angle_degrees(found.rotations[-1], truth[-1]) < 0.3
    assert found.angles_degrees()[1:] == pytest.approx([angle_degrees(truth[t], truth[t - 1]) for t in range(1, 20)],
                                                      abs=0.05)


def test_a_person_moving_across_the_view_is_left_out():
    """A still camera and a large textured 'person' (two thirds of the frame) walking 12 px a
    frame: with the person's box left out the camera stays still (< 0.02° a frame); without it
    the person's motion passes for turns of over 1°. The mask is zero over the grown
    box and only there."""
    scene = view(textured_scene(1), np.eye(3))
    patch = textured_scene(2)[:340, :420]
    frames, boxes = [], []
    for t in range(10):
        frame = scene.copy()
        x = 20 + 12 * t
        frame[10:350, x:x + 420] = patch
        frames.append(frame)
        boxes.append(np.array([[x, 10, x + 420, 350]], np.float64))
    found = estimate_camera_rotations(frames, K, boxes)
    assert found.known.all() and found.angles_degrees().max() < 0.02
    assert estimate_camera_rotations(frames, K).angles_degrees().max() > 1.0
    mask = background_mask(HEIGHT, WIDTH, np.array([[100.0, 100, 190, 300]]), 0.1)
    assert mask[80:320, 91:199].max() == 0                               # grown by 20 and 9 px
    assert mask[:80].min() == 255 and mask[320:].min() == 255 and mask[:, 199:].min() == 255 and mask[:, :91].min() == 255


def test_a_featureless_background_is_unknown_and_taken_as_still():
    """A flat wall: no corners to follow, so each step is unknown and the camera is taken as still."""
    frames = [np.full((HEIGHT, WIDTH, 3), 128, np.uint8) for _ in range(4)]
    found = estimate_camera_rotations(frames, K)
    assert not found.known[1:].any() and found.known[0]
    assert np.allclose(found.rotations, np.eye(3)) and (found.inliers == 0).all()


def test_bearings_are_unit_rays_through_the_pixels():
    points = np.array([[(WIDTH - 1) / 2, (HEIGHT - 1) / 2], [(WIDTH - 1) / 2 + FOCAL, (HEIGHT - 1) / 2]])
    assert bearings(points, K) == pytest.approx(np.array([[0, 0, 1.0], [math.sqrt(0.5), 0, math.sqrt(0.5)]]))


def test_camera_motion_settings_are_checked():
    from staf.errors import StafError

    for bad in ({"max_side": 10}, {"min_points": 2}, {"inlier_pixels": 0}, {"iterations": 0}, {"parallax_gain": 0.5},
                {"key_frames": 0}, {"corner_quality": 0}):
        with pytest.raises(StafError):
            CameraMotionConfig(**bad)


def plane_view(texture: np.ndarray, rotation: np.ndarray, shift: np.ndarray, normal: np.ndarray, distance: float):
    """What a camera at ``x_t = R x_0 + shift`` sees of a textured plane ``normal · x_0 = distance``
    (first-camera coordinates) that the backdrop's camera saw as ``texture``: the plane-induced
    homography K (R + shift nᵀ / d) K_wide⁻¹. Returns the image and where the plane is."""
    import cv2

    wide = np.array([[FOCAL, 0, WIDTH - 0.5], [0, FOCAL, HEIGHT - 0.5], [0, 0, 1.0]])
    homography = K @ (rotation + np.outer(shift, normal) / distance) @ np.linalg.inv(wide)
    covered = cv2.warpPerspective(np.full(texture.shape[:2], 255, np.uint8), homography, (WIDTH, HEIGHT))
    return cv2.warpPerspective(texture, homography, (WIDTH, HEIGHT)), covered > 0


def walking_frames(walk: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """60 frames of a camera turning 0.1°/frame and walking ``walk`` m/frame sideways, a wall 20 m
    away and a floor 1.5 m below it, so that the floor's points move apart from the wall's."""
    wall, floor = textured_scene(4), textured_scene(5)
    truth, frames = [], []
    lower = np.arange(HEIGHT)[:, None] > HEIGHT * 0.55
    for t in range(60):
        rotation = Rotation.from_euler("y", 0.1 * t, degrees=True).as_matrix()
        shift = -rotation @ np.array([walk * t, 0, 0])
        far, _ = plane_view(wall, rotation, shift, np.array([0, 0, 1.0]), 20.0)
        near, covered = plane_view(floor, rotation, shift, np.array([0, 1.0, 0]), 1.5)
        frames.append(np.where((lower & covered)[..., None], near, far))
        truth.append(rotation)
    return frames, truth


def test_a_standing_camera_over_a_near_floor_turns_as_it_should():
    """The floor and the wall move by one rotation when the camera only turns: the 5.9° turn
    within 0.05°, with and without the essential-matrix model."""
    frames, truth = walking_frames(0.0)
    for config in (CameraMotionConfig(), CameraMotionConfig(parallax_gain=1.1)):
        found = estimate_camera_rotations(frames, K, config=config)
        assert found.known.all() and angle_degrees(found.rotations[-1], truth[-1]) < 0.05
        assert not found.moved.any() and not found.travels.any()          # a turn, no travel


@pytest.mark.parametrize("walk", [pytest.param(0.02, marks=pytest.mark.slow), 0.05])
def test_a_camera_that_walks_while_it_turns(walk):
    """A camera walking 0.6 or 1.5 m/s while it turns. Rotation only, the fit misses the 5.9°
    turn by degrees (the floor's parallax pulls it), and with the essential-matrix model
    (``parallax_gain``) by under 1°. Over the ground (the default: the floor's homography
    refined together with the wall's) the turn is within 0.2°, over the floor's alone
    (``far_points=False``) within 1°; the
    camera's position in every frame (its travel times the true height, 1.5 m) within 12 cm of
    the truth, and the ground's normal within 1° of the camera's down."""
    frames, truth = walking_frames(walk)
    rotation_only = estimate_camera_rotations(frames, K, config=CameraMotionConfig(travel=False))
    assert angle_degrees(rotation_only.rotations[-1], truth[-1]) > 2.0 and not rotation_only.moved.any()
    found = estimate_camera_rotations(frames, K, config=CameraMotionConfig(parallax_gain=1.1, travel=False))
    assert found.known.all() and angle_degrees(found.rotations[-1], truth[-1]) < 1.0
    found = estimate_camera_rotations(frames, K, config=CameraMotionConfig(far_points=False))
    assert found.known.all() and angle_degrees(found.rotations[-1], truth[-1]) < 1.0
    found = estimate_camera_rotations(frames, K)
    assert found.known.all() and angle_degrees(found.rotations[-1], truth[-1]) < 0.2
    assert found.moved[1:].mean() > 0.6          # a key frame's next frames show too little parallax
    true_travels = np.array([-rotation @ np.array([walk * t, 0, 0]) for t, rotation in enumerate(truth)])
    assert np.linalg.norm(found.travels * 1.5 - true_travels, axis=1).max() < 0.12
    assert math.degrees(math.acos(found.ground_normal @ [0, 1.0, 0])) < 1.0


@pytest.mark.slow
def test_a_camera_that_follows_a_walker_over_a_floor(tmp_path):
    """``staf synth``'s tracking shot (camera path ``track``, a textured floor, 90 frames of
    320 px): the walker stays put in the image while the camera walks 2.5 m beside them, at
    0.83 m over the floor. The camera's position in every frame (its travel times the true
    height) is within 20 cm of the truth (8 % of the walk), the ground's normal within 2° of the
    truth's, no turn is found (0.5°; over the ground's homography alone, turns of 2.7°); rotation
    only, the camera would stand still."""
    from staf.data.db import read_db
    from staf.data.synthetic.generator import SynthConfig, synthesize

    config = SynthConfig(sequences=1, frames=90, size=320, crop_size=64, seed=3, families=("walk",),
                         camera_paths=("track",), floor_probability=1.0, background_clutter_probability=1.0,
                         occluder_probability=0.0)
    database = read_db(synthesize(config, tmp_path, progress=False))
    import cv2

    frames = [cv2.imread(str(tmp_path / name))[..., ::-1].copy() for name in database["img_name"]]
    boxes = [np.array([[x - w / 2, y - h / 2, x + w / 2, y + h / 2]]) for x, y, w, h in database["bbox"]]
    extrinsics = database["cam_extrinsics"]
    first_rotation, first_shift = extrinsics[0, :3, :3], extrinsics[0, :3, 3]
    height = float((-first_rotation.T @ first_shift)[1])
    truth = extrinsics[:, :3, 3] - np.einsum("tij,jk,k->ti", extrinsics[:, :3, :3], first_rotation.T, first_shift)
    assert np.linalg.norm(truth[-1]) > 2.4 and abs(height - 0.83) < 0.01
    found = estimate_camera_rotations(frames, database["cam_intrinsics"][0], boxes)
    assert np.linalg.norm(found.travels * height - truth, axis=1).max() < 0.20
    assert math.degrees(math.acos(found.ground_normal @ first_rotation @ [0, -1.0, 0])) < 2.0
    assert max(angle_degrees(found.rotations[t], extrinsics[t, :3, :3] @ first_rotation.T) for t in range(90)) < 0.5
    still = estimate_camera_rotations(frames, database["cam_intrinsics"][0], boxes, CameraMotionConfig(travel=False))
    assert not still.travels.any()
