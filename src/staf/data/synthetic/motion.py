"""Procedural human motion: sequences of SMPL poses that look like people moving.

Every family produces smooth joint trajectories (continuous velocity: sinusoids, or keyframes
joined by monotone cubic (PCHIP) interpolation, which never overshoots its keyframes) that stay
inside :mod:`staf.data.synthetic.joint_limits`, plus a heading (yaw) and a ground-plane path.

Families: ``walk`` (in place or travelling, with turns), ``gesture`` (arm gestures and reaching),
``squat`` (squats and bends), ``swing`` (sports-like swings), ``explore`` (random poses within
the limits).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.spatial.transform import Rotation

from staf.body.joint_sets import SMPL_JOINT_NAMES
from staf.data.synthetic.joint_limits import limits_array

FAMILIES = ("walk", "gesture", "squat", "swing", "explore")
J = {name: index for index, name in enumerate(SMPL_JOINT_NAMES)}


@dataclasses.dataclass
class Motion:
    """One sequence's motion in the world frame (y up, metres).

    Attributes:
        pose: (T, 24, 3) rotation vectors; joint 0 is the global orientation (heading included).
        translation: (T, 3) offset added to the posed body (before lifting onto the floor).
        family: which generator made it.
        fps: frames per second.
    """

    pose: np.ndarray
    translation: np.ndarray
    family: str
    fps: float


def keyframe_curve(rng: np.random.Generator, frames: int, fps: float, low: np.ndarray, high: np.ndarray,
                   interval: tuple[float, float] = (0.6, 1.2)) -> np.ndarray:
    """(frames, D) smooth curves through random keyframes in [low, high] (PCHIP: C¹, no overshoot)."""
    duration = (frames - 1) / fps
    times = [0.0]
    while times[-1] < duration:
        times.append(times[-1] + rng.uniform(*interval))
    values = rng.uniform(low, high, size=(len(times), len(low)))
    return PchipInterpolator(np.array(times), values, axis=0)(np.arange(frames) / fps)


def _neutral(frames: int) -> np.ndarray:
    """A relaxed standing pose: arms down along the body, elbows slightly bent."""
    pose = np.zeros((frames, 24, 3))
    pose[:, J["left_shoulder"], 2] = -1.2
    pose[:, J["right_shoulder"], 2] = 1.2
    pose[:, J["left_elbow"], 1] = -0.25
    pose[:, J["right_elbow"], 1] = 0.25
    return pose


def _heading(rng: np.random.Generator, frames: int, fps: float, turning: bool) -> np.ndarray:
    """(frames,) yaw angle: a random start, and smooth turning when asked."""
    yaw = np.full(frames, rng.uniform(-math.pi, math.pi))
    if turning:
        rate = keyframe_curve(rng, frames, fps, np.array([-0.6]), np.array([0.6]), (1.0, 2.5))[:, 0]
        yaw = yaw + np.cumsum(rate) / fps
    return yaw


def walk(rng: np.random.Generator, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gait: hips and arms swing in antiphase, knees flex in swing, optional travel and turns."""
    t = np.arange(frames) / fps
    cadence = rng.uniform(0.75, 1.05)  # gait cycles per second
    phase = 2 * math.pi * cadence * t + rng.uniform(0, 2 * math.pi)
    hip, knee, arm = rng.uniform(0.3, 0.5), rng.uniform(0.6, 1.0), rng.uniform(0.15, 0.35)
    pose = _neutral(frames)
    for side, shift in (("left", 0.0), ("right", math.pi)):
        wave = np.sin(phase + shift)
        pose[:, J[f"{side}_hip"], 0] = -0.1 - hip * wave
        pose[:, J[f"{side}_knee"], 0] = 0.1 + knee * 0.5 * (1 + np.sin(phase + shift + 1.2))
        pose[:, J[f"{side}_ankle"], 0] = 0.1 * np.sin(phase + shift - 0.8)
        pose[:, J[f"{side}_shoulder"], 0] = arm * wave  # opposite arm swings with each leg
    pose[:, J["spine1"], 1] = 0.06 * np.sin(phase)
    pose[:, J["spine3"], 1] = -0.06 * np.sin(phase)
    travelling = rng.random() < 0.7
    yaw = _heading(rng, frames, fps, turning=travelling and rng.random() < 0.7)
    speed = 1.1 * cadence * hip / 0.4 if travelling else 0.0
    step = np.stack([np.sin(yaw), np.zeros(frames), np.cos(yaw)], axis=1) * speed / fps
    translation = np.cumsum(step, axis=0) - step[0]
    translation[:, 1] = 0.015 * np.sin(2 * phase)
    return pose, yaw, translation


def gesture(rng: np.random.Generator, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arm gestures and reaching: arms, spine and head through random keyframes; legs stand."""
    pose = _neutral(frames)
    limits = limits_array()
    for name in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
                 "spine2", "spine3", "neck", "head", "left_collar", "right_collar"):
        low, high = limits[J[name], :, 0], limits[J[name], :, 1]
        centre = np.clip(pose[0, J[name]], low, high)
        span = 0.7 if "shoulder" in name or "elbow" in name else 0.4
        pose[:, J[name]] = keyframe_curve(rng, frames, fps, centre + span * (low - centre),
                                          centre + span * (high - centre), (0.7, 1.4))
    yaw = _heading(rng, frames, fps, turning=False)
    return pose, yaw, np.zeros((frames, 3))


def squat(rng: np.random.Generator, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squats (hips, knees, ankles) or bends (spine, hips), smoothly repeated."""
    t = np.arange(frames) / fps
    period = rng.uniform(2.0, 4.0)
    depth = rng.uniform(0.5, 1.0) * 0.5 * (1 - np.cos(2 * math.pi * t / period + rng.uniform(0, 2 * math.pi)))
    pose = _neutral(frames)
    if rng.random() < 0.6:  # squat
        for side in ("left", "right"):
            pose[:, J[f"{side}_hip"], 0] = -1.5 * depth
            pose[:, J[f"{side}_knee"], 0] = 1.9 * depth
            pose[:, J[f"{side}_ankle"], 0] = -0.3 * depth
        pose[:, J["spine1"], 0] = 0.3 * depth
        pose[:, J["left_shoulder"], 1] = -1.2 * depth  # arms forward for balance
        pose[:, J["right_shoulder"], 1] = 1.2 * depth
        drop = -0.4 * depth
    else:  # bend forward
        for spine in ("spine1", "spine2", "spine3"):
            pose[:, J[spine], 0] = 0.45 * depth
        for side in ("left", "right"):
            pose[:, J[f"{side}_hip"], 0] = -0.9 * depth
            pose[:, J[f"{side}_knee"], 0] = 0.2 * depth
        drop = -0.05 * depth
    translation = np.zeros((frames, 3))
    translation[:, 1] = drop
    return pose, _heading(rng, frames, fps, turning=False), translation


def swing(rng: np.random.Generator, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sports-like swings: wind-up and follow-through of trunk and arms, repeated."""
    t = np.arange(frames) / fps
    period = rng.uniform(1.6, 3.0)
    # a smooth, asymmetric swing phase in [-1, 1]: slow wind-up, quicker follow-through
    angle = 2 * math.pi * t / period + rng.uniform(0, 2 * math.pi)
    stroke = np.sin(angle + 0.35 * np.sin(angle))
    side = rng.choice([-1.0, 1.0])
    pose = _neutral(frames)
    for spine in ("spine1", "spine2", "spine3"):
        pose[:, J[spine], 1] = side * 0.22 * stroke
    pose[:, J["left_shoulder"], 1] = -0.5 + side * 0.9 * stroke  # within [-100°, 45°]
    pose[:, J["right_shoulder"], 1] = 0.5 + side * 0.9 * stroke
    pose[:, J["left_shoulder"], 2] = -0.9 + 0.3 * stroke
    pose[:, J["right_shoulder"], 2] = 0.9 + 0.3 * stroke
    for leg, sign in (("left", 1.0), ("right", -1.0)):
        pose[:, J[f"{leg}_hip"], 0] = -0.25
        pose[:, J[f"{leg}_knee"], 0] = 0.35
        pose[:, J[f"{leg}_hip"], 1] = sign * 0.1 * stroke
    return pose, _heading(rng, frames, fps, turning=False), np.zeros((frames, 3))


def explore(rng: np.random.Generator, frames: int, fps: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random poses within (60 % of) every joint's range, through smooth keyframes."""
    limits = limits_array()[1:]
    neutral = np.clip(_neutral(1)[0, 1:], limits[..., 0], limits[..., 1])
    low = (neutral + 0.6 * (limits[..., 0] - neutral)).reshape(-1)
    high = (neutral + 0.6 * (limits[..., 1] - neutral)).reshape(-1)
    pose = np.zeros((frames, 24, 3))
    pose[:, 1:] = keyframe_curve(rng, frames, fps, low, high, (0.8, 1.6)).reshape(frames, 23, 3)
    return pose, _heading(rng, frames, fps, turning=False), np.zeros((frames, 3))


GENERATORS = {"walk": walk, "gesture": gesture, "squat": squat, "swing": swing, "explore": explore}


def generate_motion(rng: np.random.Generator, frames: int, fps: float = 30.0, family: str | None = None) -> Motion:
    """A random motion of ``family`` (random when None). Every family stays inside the joint
    limits by construction; the final clip only guards against rounding."""
    family = family or str(rng.choice(FAMILIES))
    if family not in GENERATORS:
        raise ValueError(f"unknown motion family '{family}'; choose one of {', '.join(FAMILIES)}")
    pose, yaw, translation = GENERATORS[family](rng, frames, fps)
    limits = limits_array()
    pose[:, 1:] = np.clip(pose[:, 1:], limits[1:, :, 0], limits[1:, :, 1])
    lean = rng.normal(0, 0.04, size=2)
    root = Rotation.from_euler("y", yaw[:, None]) * Rotation.from_euler("xz", lean)
    pose[:, 0] = root.as_rotvec()
    return Motion(pose, translation, family, fps)
