"""Issue 32, part 4: foot contacts, the ground plane and a world with gravity (staf.geometry.ground)."""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial.transform import Rotation

from staf.geometry.ground import CAMERA_UP, GroundConfig, fit_ground, foot_contacts, ground_and_world, world_frame


def tilted_camera(degrees: float) -> np.ndarray:
    """First camera → a camera pitched down by ``degrees`` (points map x_cam = R x)."""
    return Rotation.from_euler("x", -degrees, degrees=True).as_matrix()


def walking_feet(frames: int = 90, fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 4, 3) ankles and feet of a walker on a floor 1.6 m below a level camera (OpenCV axes:
    y down), 4 m away, walking across at 1.2 m/s; each foot planted for half a 1 s stride and
    swinging 10 cm high for the other half (the two feet out of phase). Returns the feet and the
    true (T, 4) contacts."""
    t = np.arange(frames) / fps
    feet, contacts = np.zeros((frames, 4, 3)), np.zeros((frames, 4), bool)
    for index, (side, joint_height) in enumerate(((0, 0.08), (1, 0.08), (0, 0.02), (1, 0.02))):
        phase = (t + 0.5 * side) % 1.0
        planted = phase < 0.5
        strides = np.floor(t + 0.5 * side)
        x = -1.0 + 1.2 * np.where(planted, strides, strides + (phase - 0.5) * 2)          # still, then moving
        lift = np.where(planted, 0.0, 0.1 * np.sin(np.pi * (phase - 0.5) * 2))
        feet[:, index] = np.stack([x + 0.1 * side, 1.6 - joint_height - lift, np.full(frames, 4.0 + 0.15 * side)], 1)
        contacts[:, index] = planted
    return feet, contacts


def test_foot_contacts_of_a_walker():
    """Planted feet (still, at floor height) are in contact, swinging ones not: ≥ 90 % of the
    frames right for each foot (the frames where a foot lands or lifts off are the misses)."""
    feet, truth = walking_feet()
    found = foot_contacts(feet, 30.0)
    assert ((found == truth).mean(0) >= 0.9).all(), (found == truth).mean(0)


def test_the_ground_is_found_under_a_tilted_camera_among_outliers():
    """Contact points on a floor 1.6 m below a camera pitched down 20°, 2 cm noise, a quarter of
    them outliers (a foot on a step, a bad frame): the normal within 1° of the truth, pointing up,
    the offset within 2 cm; a wall (a plane tilted 90°) is refused."""
    rng = np.random.default_rng(4)
    camera = tilted_camera(20.0)
    floor = np.stack([rng.uniform(-2, 2, 200), np.full(200, 1.6), rng.uniform(2, 8, 200)], 1)
    floor[:, 1] += rng.normal(0, 0.02, 200)
    floor[:50] += rng.uniform(-0.5, 0.5, (50, 3))
    points = floor @ camera.T
    normal, offset = fit_ground(points)
    truth = camera @ CAMERA_UP
    assert math.degrees(math.acos(np.clip(normal @ truth, -1, 1))) < 1.0
    assert abs(offset - (-1.6)) < 0.02
    wall = np.stack([np.full(100, 3.0), rng.uniform(-1, 1, 100), rng.uniform(2, 6, 100)], 1)
    assert fit_ground(wall) is None
    assert fit_ground(points[:2]) is None


def test_the_world_has_gravity_along_y_and_its_origin_on_the_ground():
    """World axes are orthonormal and right-handed, y along the ground's normal, z along the
    camera's view over the ground; the origin lies on the ground under the reference point; the
    walker's planted feet of a pitched camera are at height ≈ 0 in the world (2 cm)."""
    camera = tilted_camera(15.0)
    feet, truth = walking_feet()
    feet_in_camera = feet @ camera.T
    contacts, gravity, origin, fitted = ground_and_world([feet_in_camera], 30.0, feet_in_camera[0, 0] + [0, -0.9, 0])
    assert fitted
    assert np.allclose(gravity @ gravity.T, np.eye(3), atol=1e-9) and np.linalg.det(gravity) > 0
    assert np.allclose(gravity[1], camera @ CAMERA_UP, atol=0.02)
    world = (feet_in_camera - origin) @ gravity.T
    heights = world[..., 1] - np.array([0.08, 0.08, 0.02, 0.02])
    assert np.abs(heights[truth]).max() < 0.02
    rotation, centre = world_frame(np.array([0.0, -1.0, 0.0]), -1.6, np.array([0.5, 0.3, 4.0]))
    assert np.allclose(centre, [0.5, 1.6, 4.0]) and np.allclose(rotation, np.diag([-1.0, -1.0, 1.0]))


def test_no_contacts_fall_back_to_the_cameras_up():
    """Feet that never stand still (a person carried along, or one frame): the camera's up through
    the lowest feet, reported as not fitted."""
    feet = np.cumsum(np.full((20, 4, 3), 0.05), axis=0) * [1, 0, 0] + [0, 1.5, 4]
    contacts, gravity, origin, fitted = ground_and_world([feet], 30.0, np.array([0.0, 0.6, 4.0]),
                                                         GroundConfig(max_speed=0.3))
    assert not fitted and not contacts[0].any()
    assert np.allclose(gravity[1], CAMERA_UP) and np.isclose(origin[1], 1.5)


def test_ground_settings_are_checked():
    import pytest

    from staf.errors import StafError

    for bad in ({"max_speed": 0}, {"max_height": float("nan")}, {"tolerance": -1}, {"max_tilt": 120},
                {"iterations": 0}, {"max_speed": float("inf")}):
        with pytest.raises(StafError):
            GroundConfig(**bad)
