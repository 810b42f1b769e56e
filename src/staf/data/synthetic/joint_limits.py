"""Anatomical joint limits for synthetic motion, per SMPL joint and axis.

Limits bound the rotation-vector components (x, y, z) of each joint's local rotation, in radians,
in SMPL's rest frame (T-pose; x = the body's left, y = up, z = forward). With these axes:

- flexion of hip and spine is a rotation about x (hip: negative = thigh forward; spine: positive
  = bending forward); knee flexion is positive about x (shin backward);
- the arms lie along ±x, so elbow flexion (forearm forward) is about −y for the left arm and +y
  for the right; raising / lowering an arm is about z (left arm down: negative z);
- twist of a limb is about its own axis (x for arms, y for legs and spine).

Sources: the normal active ranges of motion of the American Academy of Orthopaedic Surgeons
("Joint Motion: Method of Measuring and Recording", AAOS 1965) and the Man-Systems Integration
Standards (NASA-STD-3000, vol. I §3.3.2), rounded inward; the trunk's range is divided over
SMPL's three spine joints, the neck's over neck and head; the clavicle (collar) range follows
the sterno-clavicular joint (elevation ≈ 30°, protraction ≈ 20°). Hands and feet are kept small
because the bundled model turns fingers and toes as one group.
"""

from __future__ import annotations

import math

import numpy as np

from staf.body.joint_sets import SMPL_JOINT_NAMES


def _deg(*values: float) -> tuple[float, ...]:
    return tuple(math.radians(v) for v in values)


#: joint → ((x_min, x_max), (y_min, y_max), (z_min, z_max)) in radians
JOINT_LIMITS: dict[str, tuple[tuple[float, float], ...]] = {
    "pelvis": (_deg(-180, 180), _deg(-180, 180), _deg(-180, 180)),  # global orientation: free
    "left_hip": (_deg(-115, 25), _deg(-40, 40), _deg(-15, 40)),      # flexion 115°, extension 25°, abduction 40°
    "right_hip": (_deg(-115, 25), _deg(-40, 40), _deg(-40, 15)),
    "spine1": (_deg(-10, 30), _deg(-15, 15), _deg(-12, 12)),        # trunk flexion 90° / 3, rotation 45° / 3
    "left_knee": (_deg(0, 135), _deg(-5, 5), _deg(-5, 5)),          # flexion 135°
    "right_knee": (_deg(0, 135), _deg(-5, 5), _deg(-5, 5)),
    "spine2": (_deg(-10, 30), _deg(-15, 15), _deg(-12, 12)),
    "left_ankle": (_deg(-20, 45), _deg(-10, 10), _deg(-15, 15)),     # dorsiflexion 20°, plantar flexion 45°
    "right_ankle": (_deg(-20, 45), _deg(-10, 10), _deg(-15, 15)),
    "spine3": (_deg(-10, 30), _deg(-15, 15), _deg(-12, 12)),
    "left_foot": (_deg(-10, 10), _deg(-5, 5), _deg(-5, 5)),
    "right_foot": (_deg(-10, 10), _deg(-5, 5), _deg(-5, 5)),
    "neck": (_deg(-25, 25), _deg(-35, 35), _deg(-20, 20)),          # neck 50° flexion, 70° rotation, halved
    "left_collar": (_deg(-10, 10), _deg(-20, 20), _deg(-10, 30)),
    "right_collar": (_deg(-10, 10), _deg(-20, 20), _deg(-30, 10)),
    "head": (_deg(-25, 25), _deg(-35, 35), _deg(-20, 20)),
    "left_shoulder": (_deg(-60, 60), _deg(-100, 45), _deg(-80, 85)),  # abduction 180° (with collar), flexion 180°
    "right_shoulder": (_deg(-60, 60), _deg(-45, 100), _deg(-85, 80)),
    "left_elbow": (_deg(-10, 10), _deg(-145, 0), _deg(-10, 10)),     # flexion 145°
    "right_elbow": (_deg(-10, 10), _deg(0, 145), _deg(-10, 10)),
    "left_wrist": (_deg(-60, 60), _deg(-30, 30), _deg(-60, 60)),      # flexion/extension 60–70°, deviation 20–30°
    "right_wrist": (_deg(-60, 60), _deg(-30, 30), _deg(-60, 60)),
    "left_hand": (_deg(-15, 15), _deg(-10, 10), _deg(-15, 15)),
    "right_hand": (_deg(-15, 15), _deg(-10, 10), _deg(-15, 15)),
}


def limits_array() -> np.ndarray:
    """(24, 3, 2) [min, max] per joint and axis, in SMPL joint order."""
    return np.array([JOINT_LIMITS[name] for name in SMPL_JOINT_NAMES], dtype=np.float64)


def within_limits(pose: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """(…, 24, 3) rotation vectors → (…, 24) whether each joint is within its limits."""
    limits = limits_array()
    return np.all((pose >= limits[..., 0] - tolerance) & (pose <= limits[..., 1] + tolerance), axis=-1)
