"""Cameras for synthetic sequences: plausible intrinsics and static / pan / dolly paths.

World frame: y up, floor at y = 0, metres. Camera frame: OpenCV's (x right, y down, z forward).
``extrinsics[t]`` maps world points to camera points: ``x_cam = R x_world + t``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

CAMERA_PATHS = ("static", "pan", "dolly")
#: paths drawn only when a preset asks for them (``camera_paths``): ``track``, a camera that walks
#: beside the subject, keeping its offset, so that the subject stays at one place in the image
EXTRA_CAMERA_PATHS = ("track",)


@dataclasses.dataclass
class CameraPath:
    """intrinsics (3, 3) (constant), extrinsics (T, 4, 4) world → camera, path name."""

    intrinsics: np.ndarray
    extrinsics: np.ndarray
    path: str

    @property
    def rotations(self) -> np.ndarray:
        return self.extrinsics[:, :3, :3]

    @property
    def translations(self) -> np.ndarray:
        return self.extrinsics[:, :3, 3]


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(4, 4) world → OpenCV camera transform for a camera at ``eye`` looking at ``target`` (y up)."""
    forward = target - eye
    forward = forward / np.linalg.norm(forward)
    right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    right = right / np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.stack([right, down, forward])  # rows: camera axes in world coordinates
    transform = np.eye(4)
    transform[:3, :3] = rotation
    transform[:3, 3] = -rotation @ eye
    return transform


def intrinsics_for(size: int, fov_degrees: float) -> np.ndarray:
    """Square image of ``size`` pixels with a vertical field of view; centre at (size − 1) / 2."""
    focal = size / 2 / math.tan(math.radians(fov_degrees) / 2)
    centre = (size - 1) / 2
    return np.array([[focal, 0, centre], [0, focal, centre], [0, 0, 1.0]])


def smooth_follow(points: np.ndarray, strength: float) -> np.ndarray:
    """Exponential smoothing forward and backward (no lag, continuous velocity)."""
    def one_way(values: np.ndarray) -> np.ndarray:
        out = values.copy()
        for index in range(1, len(out)):
            out[index] = strength * out[index - 1] + (1 - strength) * values[index]
        return out

    return one_way(one_way(points)[::-1])[::-1]


def camera_path(rng: np.random.Generator, size: int, subject: np.ndarray, fps: float,
                path: str | None = None, allowed: tuple[str, ...] = CAMERA_PATHS) -> CameraPath:
    """A camera filming a subject whose pelvis follows ``subject`` (T, 3) (world).

    Field of view 40–65°, height 0.8–1.8 m, distance chosen so a 2.2 m tall region fits the
    frame (3–9 m). ``static`` looks at the start; ``pan`` turns to follow the subject; ``dolly``
    also moves slowly along its viewing direction (±0.25 m/s); ``track`` moves with the
    subject's (smoothed) path, keeping its offset. Without ``path``, one of ``allowed`` is drawn
    (a subject that travels is never filmed by a static camera unless only ``static`` is allowed).
    """
    frames = len(subject)
    travels = np.linalg.norm(subject[-1, [0, 2]] - subject[0, [0, 2]]) > 0.5
    choices = [name for name in CAMERA_PATHS + EXTRA_CAMERA_PATHS
               if name in allowed and not (travels and name == "static")]
    path = path or str(rng.choice(choices or list(allowed)))
    fov = rng.uniform(40.0, 65.0)
    distance = max(1.25 / math.tan(math.radians(fov) / 2), 3.0) * rng.uniform(1.0, 1.25)
    azimuth = rng.uniform(-math.pi, math.pi)
    height = rng.uniform(0.8, 1.8)
    start = subject[0]
    eye = np.array([start[0] + distance * math.sin(azimuth), height, start[2] + distance * math.cos(azimuth)])
    targets = subject.copy()
    targets[:, 1] = start[1]
    if path == "static":
        targets[:] = start
    else:
        targets = smooth_follow(targets, 0.9)
    eyes = np.repeat(eye[None], frames, axis=0)
    if path == "dolly":
        speed = rng.uniform(-0.25, 0.25)
        direction = (start - eye) / np.linalg.norm(start - eye)
        direction[1] = 0.0
        eyes = eyes + np.arange(frames)[:, None] / fps * speed * direction
    if path == "track":
        eyes = eyes + (targets - targets[0]) * [1.0, 0.0, 1.0]
    extrinsics = np.stack([look_at(e, t) for e, t in zip(eyes, targets)])
    return CameraPath(intrinsics_for(size, fov), extrinsics, path)
