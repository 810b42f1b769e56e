"""Similarity of two people's 2D keypoints: COCO's object keypoint similarity (OKS).

COCO (Lin et al., ECCV 2014; the keypoint evaluation of ``cocoeval.computeOks``) defines, for
keypoints i seen in both poses,

    OKS = mean_i exp(−d_i² / (2 · s² · k_i²)),   k_i = 2 σ_i,

with ``d_i`` the distance between the two poses' keypoint i, ``s²`` the person's area and σ_i the
per-keypoint spread COCO measured from repeated human labels (:data:`COCO_SIGMAS`). 1 for the
same pose, towards 0 for two people. Here ``s²`` is the area of the first pose's box (COCO uses
the segment's area, about half of it: the box makes OKS a little more forgiving).

BlazePose's 33 landmarks hold COCO's 17 at :data:`BLAZEPOSE_TO_COCO`; the others (fingers, heels,
mouth) have no COCO σ and are not used.
"""

from __future__ import annotations

import numpy as np

from staf.geometry.boxes import inside_share

#: COCO's 17 keypoint σ, in COCO order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
COCO_SIGMAS = np.array([0.26, 0.25, 0.25, 0.35, 0.35, 0.79, 0.79, 0.72, 0.72, 0.62, 0.62, 1.07, 1.07, 0.87, 0.87,
                        0.89, 0.89]) / 10.0
#: the BlazePose landmark of each COCO keypoint (nose, left/right eye, ear, shoulder, elbow, wrist, hip, knee, ankle)
BLAZEPOSE_TO_COCO = np.array([0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])
#: BlazePose's 33 landmarks with left and right exchanged (a pose read mirrored)
BLAZEPOSE_MIRRORED = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21,
                               24, 23, 26, 25, 28, 27, 30, 29, 32, 31])


def keypoint_similarity(first: np.ndarray, second: np.ndarray, first_box: np.ndarray,
                        min_visibility: float = 0.5) -> float:
    """OKS of two BlazePose poses (33, 3) x, y pixels and visibility; ``first_box`` (4,) x1 y1 x2 y2
    gives the scale. Keypoints count where both are finite and seen (visibility ≥ ``min_visibility``);
    NaN when none does (no keypoints: a box file)."""
    a, b = np.asarray(first, np.float64)[BLAZEPOSE_TO_COCO], np.asarray(second, np.float64)[BLAZEPOSE_TO_COCO]
    seen = np.isfinite(a).all(1) & np.isfinite(b).all(1) & (a[:, 2] >= min_visibility) & (b[:, 2] >= min_visibility)
    if not seen.any():
        return float("nan")
    area = max(float((first_box[2] - first_box[0]) * (first_box[3] - first_box[1])), 1.0)
    distance_squared = ((a[seen, :2] - b[seen, :2]) ** 2).sum(1)
    spread = 2.0 * COCO_SIGMAS[seen]
    return float(np.exp(-distance_squared / (2.0 * area * spread ** 2)).mean())


def pose_similarity(first: np.ndarray, second: np.ndarray, first_box: np.ndarray) -> float:
    """The larger OKS of ``second`` as it is and with left and right exchanged: the landmark model
    sometimes reads one person's pose mirrored from a second region, and that is still one person."""
    return float(np.fmax(keypoint_similarity(first, second, first_box),
                         keypoint_similarity(first, np.asarray(second)[BLAZEPOSE_MIRRORED], first_box)))


def is_part_of(part: np.ndarray, part_box: np.ndarray, whole: np.ndarray, whole_box: np.ndarray,
               inside: float = 0.8, near: float = 0.03, min_visibility: float = 0.5) -> bool:
    """Whether a pose (33, 3) with box (4,) is a piece of another person: at least ``inside`` of its
    box lies in the other's box, and at least half its seen COCO keypoints lie within ``near`` ×
    the other's box height of one of the other's seen keypoints (any of them: a half body or an
    arm read as a small person puts its joints on the other's). A child in front of an adult has
    a box inside the adult's too, but its joints are its own, away from the adult's."""
    if inside_share(part_box, whole_box) < inside:
        return False
    own, other = np.asarray(part, np.float64)[BLAZEPOSE_TO_COCO], np.asarray(whole, np.float64)[BLAZEPOSE_TO_COCO]
    own, other = own[own[:, 2] >= min_visibility, :2], other[other[:, 2] >= min_visibility, :2]
    if not len(own) or not len(other):
        return False
    distance = np.linalg.norm(own[:, None] - other[None], axis=-1).min(1)
    return bool(np.mean(distance <= near * (whole_box[3] - whole_box[1])) >= 0.5)


def seen_fraction(pose: np.ndarray, min_visibility: float = 0.5) -> float:
    """The fraction of a (33, 3) pose's COCO keypoints that are seen (finite, visibility ≥ ``min_visibility``)."""
    visibility = np.asarray(pose, np.float64)[BLAZEPOSE_TO_COCO, 2]
    return float(np.mean(np.nan_to_num(visibility, nan=0.0) >= min_visibility))
