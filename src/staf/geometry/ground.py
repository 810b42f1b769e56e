"""The ground under the people and a world with gravity along its y axis (issue 32, part 4).

The rule (docs/demo.md): a foot joint is *in contact* in a frame when it moves slower than
``max_speed`` and is within ``max_height`` of its own lowest height in the track (the 5th
percentile, measured along the first camera's up); the *ground* is the plane that most contact
foot joints (SMPL's feet, not the ankles, which stand higher) of all tracks lie on (RANSAC over triples, then a least-squares refit on the inliers), kept when its
normal is within ``max_tilt`` of the first camera's up; else the plane with the camera's up as
its normal through the lowest feet. The *world* has that normal as +y, the first camera's view
direction along the ground as +z, x = y × z, and its origin on the ground under the first
frame's pelvis of the first track: ``x_world = R_g (x_first_camera − origin)``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: SMPL's left and right ankles and feet (joints 7, 8, 10, 11)
SMPL_FEET = (7, 8, 10, 11)
#: of those, the ones whose contacts give the ground (the feet; the ankles stand ~6 cm higher)
FEET_ON_GROUND = [2, 3]
#: the first camera's up (OpenCV: y points down) and view direction
CAMERA_UP, CAMERA_FORWARD = np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])


@dataclasses.dataclass(frozen=True)
class GroundConfig:
    """max_speed m/s, max_height m: a foot in contact; tolerance m: a point on the plane;
    max_tilt degrees between the ground's normal and the camera's up; iterations, seed: RANSAC.

    ``max_speed`` 1 m/s lies between a planted foot's per-frame jitter in staf's bodies and a
    swinging foot (2–4 m/s walking): on sports2d_walk the four joints were in contact in 2–8 % of
    the frames with 0.3 m/s, 11–28 % with 0.6 and 29–40 % with 1 (docs/demo.md)."""

    max_speed: float = 1.0
    max_height: float = 0.06
    tolerance: float = 0.04
    max_tilt: float = 35.0
    iterations: int = 300
    seed: int = 0

    def __post_init__(self) -> None:
        from staf.config import check_number

        for name, high in (("max_speed", 100), ("max_height", 10), ("tolerance", 10)):
            check_number(name, getattr(self, name), 0, high, low_open=True)
        check_number("max_tilt", self.max_tilt, 0, 90)
        check_number("iterations", self.iterations, 1, 100_000, integer=True)


def foot_contacts(feet: np.ndarray, fps: float, config: GroundConfig = GroundConfig(),
                  up: np.ndarray = CAMERA_UP) -> np.ndarray:
    """(T, F, 3) foot joints of one track (metres, one frame) → (T, F) bool contacts (the rule
    of the module docstring; speed by central differences)."""
    feet = np.asarray(feet, np.float64)
    if len(feet) < 2:
        return np.zeros(feet.shape[:2], bool)
    speed = np.linalg.norm(np.gradient(feet, axis=0), axis=-1) * fps
    height = feet @ (up / np.linalg.norm(up))
    return (speed < config.max_speed) & (height - np.percentile(height, 5, axis=0) < config.max_height)


def fit_ground(points: np.ndarray, config: GroundConfig = GroundConfig(), up: np.ndarray = CAMERA_UP
               ) -> tuple[np.ndarray, float] | None:
    """(N, 3) contact feet → the ground (unit normal n towards ``up``, offset d: n · x = d), or
    None when fewer than 3 points or no plane within ``max_tilt`` of ``up`` holds a third of them."""
    points = np.asarray(points, np.float64)
    if len(points) < 3:
        return None
    rng = np.random.default_rng(config.seed)
    up = up / np.linalg.norm(up)
    best, best_count = None, 0
    for _ in range(config.iterations):
        a, b, c = points[rng.choice(len(points), 3, replace=False)]
        normal = np.cross(b - a, c - a)
        if np.linalg.norm(normal) < 1e-9:
            continue
        normal = normal / np.linalg.norm(normal) * np.sign(normal @ up or 1.0)
        if np.degrees(np.arccos(np.clip(normal @ up, -1, 1))) > config.max_tilt:
            continue
        inliers = np.abs(points @ normal - normal @ a) < config.tolerance
        if inliers.sum() > best_count:
            best, best_count = inliers, int(inliers.sum())
    if best is None or best_count < max(3, len(points) / 3):
        return None
    chosen = points[best]
    centre = chosen.mean(0)
    normal = np.linalg.svd(chosen - centre)[2][-1]
    normal = normal * np.sign(normal @ up or 1.0)
    return normal, float(normal @ centre)


def world_frame(normal: np.ndarray, offset: float, reference: np.ndarray,
                forward: np.ndarray = CAMERA_FORWARD) -> tuple[np.ndarray, np.ndarray]:
    """The ground (n, d) and a reference point (the first pelvis) → ``R_g`` (3, 3) and the
    origin (3,) on the ground under the reference (module docstring)."""
    y_axis = normal / np.linalg.norm(normal)
    z_axis = forward - (forward @ y_axis) * y_axis
    z_axis = z_axis / np.linalg.norm(z_axis)
    x_axis = np.cross(y_axis, z_axis)
    origin = reference - (reference @ y_axis - offset) * y_axis
    return np.stack([x_axis, y_axis, z_axis]), origin


def ground_and_world(feet_per_track: list[np.ndarray], fps: float, reference: np.ndarray,
                     config: GroundConfig = GroundConfig()) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, bool]:
    """Every track's (T, 4, 3) :data:`SMPL_FEET` in the first camera's frame → each track's contacts, ``R_g``,
    the origin, and whether the ground was fitted (False: the camera's up through the lowest
    feet, the fallback of the module docstring)."""
    contacts = [foot_contacts(feet, fps, config) for feet in feet_per_track]
    planted = np.concatenate([feet[:, FEET_ON_GROUND][touching[:, FEET_ON_GROUND]]
                              for feet, touching in zip(feet_per_track, contacts)] + [np.zeros((0, 3))])
    ground = fit_ground(planted, config)
    fitted = ground is not None
    if not fitted:
        every = np.concatenate([feet.reshape(-1, 3) for feet in feet_per_track] + [np.zeros((0, 3))])
        lowest = float(np.percentile(every @ CAMERA_UP, 5)) if len(every) else 0.0
        ground = (CAMERA_UP.copy(), lowest)
    rotation, origin = world_frame(*ground, reference)
    return contacts, rotation, origin, fitted
