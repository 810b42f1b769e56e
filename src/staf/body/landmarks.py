"""The 33 BlazePose landmarks on the body model: :class:`LandmarkMap`.

Each landmark is an affine combination (weights summing to one) of a few entries of the body
model's 54-joint array ``[24 SMPL joints, 21 vertex keypoints, 9 extra joints]``
(:meth:`staf.body.BodyModel.joints54`, :data:`~staf.body.joint_sets.ALL54_NAMES`). SMPL and the
open model both provide that array, so one map serves both. The candidates of each landmark
(:data:`CANDIDATES`) are its namesake first and the body parts around it; a combination can move
a landmark off its namesake, which is how the map absorbs BlazePose's hips sitting lower and
wider than the body model's (more weight on the knee, a negative weight on the other hip).

The shipped map (``data/blazepose_landmarks.json``) was fitted by
``scripts/fit_landmark_map.py``: BlazePose run on renders of the open body model (where the
mesh is known), the weights by least squares in 2D (:func:`fit_landmark_map`). The file records
the command and its error on held-out renders. :meth:`LandmarkMap.semantic` is the map with all
weight on each namesake (the starting point of the fit, and a fallback).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
from pathlib import Path

import numpy as np
import torch

from staf.body.joint_sets import ALL54_NAMES
from staf.errors import MalformedFileError

#: BlazePose's 33 body landmarks, in its order ("left" is the person's left)
BLAZEPOSE_NAMES: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
NUM_LANDMARKS = len(BLAZEPOSE_NAMES)

_LEFT_EYE = ("leye", "nose", "lear", "head")
_RIGHT_EYE = ("reye", "nose", "rear", "head")

#: per landmark, the 54-array entries it may combine, its namesake first: skeleton joints and
#: vertex keypoints only (no regressed extra joint), so that a fit skins 21 vertices per frame
CANDIDATES: dict[str, tuple[str, ...]] = {
    "nose": ("nose", "head", "leye", "reye"),
    "left_eye_inner": _LEFT_EYE, "left_eye": _LEFT_EYE, "left_eye_outer": _LEFT_EYE,
    "right_eye_inner": _RIGHT_EYE, "right_eye": _RIGHT_EYE, "right_eye_outer": _RIGHT_EYE,
    "left_ear": ("lear", "head", "leye"), "right_ear": ("rear", "head", "reye"),
    "mouth_left": ("nose", "leye", "head"), "mouth_right": ("nose", "reye", "head"),
    "left_shoulder": ("left_shoulder", "left_collar", "neck", "left_elbow"),
    "right_shoulder": ("right_shoulder", "right_collar", "neck", "right_elbow"),
    "left_elbow": ("left_elbow", "left_shoulder", "left_wrist"),
    "right_elbow": ("right_elbow", "right_shoulder", "right_wrist"),
    "left_wrist": ("left_wrist", "left_elbow", "left_hand"),
    "right_wrist": ("right_wrist", "right_elbow", "right_hand"),
    "left_pinky": ("lpinky", "left_wrist", "left_hand"), "right_pinky": ("rpinky", "right_wrist", "right_hand"),
    "left_index": ("lindex", "left_wrist", "left_hand"), "right_index": ("rindex", "right_wrist", "right_hand"),
    "left_thumb": ("lthumb", "left_wrist", "left_hand"), "right_thumb": ("rthumb", "right_wrist", "right_hand"),
    "left_hip": ("left_hip", "pelvis", "right_hip", "left_knee"),
    "right_hip": ("right_hip", "pelvis", "left_hip", "right_knee"),
    "left_knee": ("left_knee", "left_hip", "left_ankle"), "right_knee": ("right_knee", "right_hip", "right_ankle"),
    "left_ankle": ("left_ankle", "left_knee", "left_foot", "LHeel"),
    "right_ankle": ("right_ankle", "right_knee", "right_foot", "RHeel"),
    "left_heel": ("LHeel", "left_ankle", "left_foot"), "right_heel": ("RHeel", "right_ankle", "right_foot"),
    "left_foot_index": ("LBigToe", "LSmallToe", "left_foot", "left_ankle"),
    "right_foot_index": ("RBigToe", "RSmallToe", "right_foot", "right_ankle"),
}

SHIPPED_FILE = "blazepose_landmarks.json"


def candidate_indices(name: str) -> list[int]:
    """The 54-array indices of a landmark's candidates, its namesake first."""
    return [ALL54_NAMES.index(joint) for joint in CANDIDATES[name]]


@dataclasses.dataclass
class LandmarkMap:
    """``weights`` (33, 54): landmark k = Σ_j weights[k, j] · joints54[j] (each row sums to 1);
    ``notes``: where the weights come from (the fit's command and held-out error)."""

    weights: np.ndarray
    notes: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.weights = np.asarray(self.weights, np.float64)
        if self.weights.shape != (NUM_LANDMARKS, len(ALL54_NAMES)) or not np.isfinite(self.weights).all():
            raise MalformedFileError(f"a landmark map needs finite weights of shape ({NUM_LANDMARKS}, "
                                     f"{len(ALL54_NAMES)}), got {self.weights.shape}")
        if not np.allclose(self.weights.sum(axis=1), 1.0, atol=1e-6):
            raise MalformedFileError("each landmark's weights must sum to 1 (an affine combination)")

    def __call__(self, joints54: torch.Tensor) -> torch.Tensor:
        """(B, 54, D) → (B, 33, D) landmarks (any D: 3D points, or 2D projections)."""
        weights = torch.as_tensor(self.weights, dtype=joints54.dtype, device=joints54.device)
        return torch.einsum("kj,bjd->bkd", weights, joints54)

    @staticmethod
    def semantic() -> "LandmarkMap":
        """All weight on each landmark's namesake."""
        weights = np.zeros((NUM_LANDMARKS, len(ALL54_NAMES)))
        for row, name in enumerate(BLAZEPOSE_NAMES):
            weights[row, candidate_indices(name)[0]] = 1.0
        return LandmarkMap(weights, {"source": "semantic: each landmark on its namesake"})

    @staticmethod
    def shipped() -> "LandmarkMap":
        """The map fitted by ``scripts/fit_landmark_map.py`` (module docstring)."""
        return LandmarkMap.load(Path(str(importlib.resources.files("staf.body") / "data" / SHIPPED_FILE)))

    @staticmethod
    def load(path: str | Path) -> "LandmarkMap":
        """Read the JSON written by :meth:`save`: per landmark name ``{joint name: weight}``."""
        path = Path(path)
        try:
            payload = json.loads(path.read_text())
            rows = payload["landmarks"]
            weights = np.zeros((NUM_LANDMARKS, len(ALL54_NAMES)))
            for row, name in enumerate(BLAZEPOSE_NAMES):
                for joint, weight in rows[name].items():
                    weights[row, ALL54_NAMES.index(joint)] = float(weight)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise MalformedFileError(f"{path}: not a landmark map ({type(exc).__name__}: {exc}); "
                                     "scripts/fit_landmark_map.py writes one") from None
        return LandmarkMap(weights, payload.get("notes", {}))

    def save(self, path: str | Path) -> None:
        rows = {name: {ALL54_NAMES[j]: round(float(w), 6) for j, w in enumerate(row) if w != 0.0}
                for name, row in zip(BLAZEPOSE_NAMES, self.weights)}
        Path(path).write_text(json.dumps({"notes": self.notes, "landmarks": rows}, indent=1) + "\n")


def fit_landmark_map(projected54: np.ndarray, keypoints: np.ndarray, use: np.ndarray, box_sides: np.ndarray,
                     ridge: float = 1e-3, trim: float = 0.9, rounds: int = 3) -> LandmarkMap:
    """Least-squares affine weights from renders with known bodies.

    Args:
        projected54: (N, 54, 2) the body model's 54-array projected into the images, pixels.
        keypoints: (N, 33, 2) BlazePose's keypoints on the same images, pixels.
        use: (N, 33) which keypoints take part (visible, on the right person).
        box_sides: (N,) the person box's longer side: residuals are measured in box sides.
        ridge: pull of the weights towards the namesake (per unit of weight, in box sides²).
        trim: share of the residuals kept in each later round (drops BlazePose's gross errors,
            e.g. a left-right swap).
        rounds: fits, each on the residuals the last one kept.

    Returns:
        The map; each row is ``namesake + Σ_i z_i (candidate_i − namesake)`` with z solved
        per landmark from ``min Σ |r|² + ridge · |z|²``.
    """
    scale = 1.0 / np.asarray(box_sides, np.float64)[:, None]
    weights = np.zeros((NUM_LANDMARKS, len(ALL54_NAMES)))
    for row, name in enumerate(BLAZEPOSE_NAMES):
        columns = candidate_indices(name)
        primary = projected54[:, columns[0]] * scale
        offsets = np.stack([projected54[:, c] * scale - primary for c in columns[1:]], axis=-1)  # (N, 2, m-1)
        target = keypoints[:, row] * scale - primary
        keep = np.asarray(use[:, row], bool).copy()
        z = np.zeros(len(columns) - 1)
        for _ in range(rounds):
            design = offsets[keep].reshape(-1, len(columns) - 1)
            goal = target[keep].reshape(-1)
            z = np.linalg.solve(design.T @ design + ridge * len(goal) * np.eye(len(z)), design.T @ goal)
            residual = np.linalg.norm(target - offsets @ z, axis=-1)
            valid = np.asarray(use[:, row], bool)
            keep = valid & (residual <= np.quantile(residual[valid], trim))
        weights[row, columns[0]] = 1.0 - z.sum()
        weights[row, columns[1:]] = z
    return LandmarkMap(weights)
