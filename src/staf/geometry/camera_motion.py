"""How the camera turns, from the background of a video (issue 32, part 1).

From a key frame to each later frame, corners of the key frame's background (Shi–Tomasi,
``cv2.goodFeaturesToTrack``, outside the people's boxes) are followed by pyramidal Lucas–Kanade
optical flow and kept where the flow back finds the start again (forward–backward check). Each point becomes the bearing
``K⁻¹ (u, v, 1)`` of the pinhole camera with the known focal length. A turning camera maps the
bearings of distant points by one rotation, ``b_t ∝ R b_{t−1}`` (Wahba's problem); the rotation is
found by RANSAC over triples of bearings, each solved in closed form (``roma``'s Procrustes, the
SVD with the determinant fixed), and refitted on the inliers (angles under ``inlier_pixels`` /
focal). Where the camera also moved, near background points move apart from far ones (parallax)
and no one rotation fits them all; with ``parallax_gain`` set, the essential matrix with the
known intrinsics (OpenCV's five-point RANSAC and ``recoverPose``) gives the rotation when it fits
clearly more points (off by default: unstable on a real tracking shot). The translation is left
to a later step. Measuring against a key frame rather
than the previous frame keeps small errors from adding up over a still camera; a new key frame
is taken after ``key_frames`` frames or when fewer than ``rekey_share`` of the first pair's
inliers still agree.

Conventions as :mod:`staf.data.synthetic.scene`: OpenCV camera axes, ``x_cam = R x_world + t``.
The world is the first frame's camera: ``rotations[0] = I`` and ``rotations[t] = R_t ·
rotations[t−1]``, where ``R_t`` turns frame t−1's camera coordinates into frame t's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from staf.config import check_number


@dataclasses.dataclass(frozen=True)
class CameraMotionConfig:
    """Settings of :func:`estimate_camera_rotations`.

    Attributes:
        max_side: frames are scaled down to this longer side first (pixels; speed).
        max_points: the most background corners followed per frame pair.
        min_points: fewer corners or inliers than this: the pair's rotation is unknown (identity).
        inlier_pixels: a point agrees with a rotation within this many pixels (at ``max_side``).
        box_margin: people's boxes are grown by this fraction of their size before they are
            left out.
        iterations: RANSAC hypotheses per frame pair.
        seed: the RANSAC draws.
        corner_quality: Shi–Tomasi's quality level (a share of the strongest corner's score; a
            white wall's bricks need a low one).
        key_frames, rekey_share: when a new key frame is taken (module docstring).
        parallax_gain, max_disagreement: the essential matrix's rotation replaces the
            rotation-only one when more than ``parallax_gain`` times as many points fit it and
            the two differ by under ``max_disagreement`` degrees (its decomposition flips on
            tiny baselines). 0: rotation only, the default: on a synthetic walking camera 1.1
            took the error of a 5.9° turn from 3° to 0.4°, but on phalp_vid.mp4 its turn went
            back and forth by degrees from frame to frame (docs/demo.md).
    """

    max_side: int = 640
    max_points: int = 400
    min_points: int = 30
    inlier_pixels: float = 1.5
    box_margin: float = 0.1
    iterations: int = 200
    seed: int = 0
    corner_quality: float = 0.003
    key_frames: int = 30
    rekey_share: float = 0.5
    parallax_gain: float = 0.0
    max_disagreement: float = 5.0

    def __post_init__(self) -> None:
        check_number("max_side", self.max_side, 64, 8192, integer=True)
        check_number("max_points", self.max_points, 10, 100_000, integer=True)
        check_number("min_points", self.min_points, 3, 100_000, integer=True)
        check_number("inlier_pixels", self.inlier_pixels, 0, 100, low_open=True)
        check_number("box_margin", self.box_margin, 0, 10)
        check_number("iterations", self.iterations, 1, 100_000, integer=True)
        check_number("corner_quality", self.corner_quality, 0, 1, low_open=True)
        check_number("key_frames", self.key_frames, 1, 100_000, integer=True)
        check_number("rekey_share", self.rekey_share, 0, 1)
        if self.parallax_gain:
            check_number("parallax_gain", self.parallax_gain, 1, 100)
        check_number("max_disagreement", self.max_disagreement, 0, 180)


@dataclasses.dataclass
class CameraRotations:
    """rotations (T, 3, 3): first camera → camera t; known (T,) False where a frame pair had too
    few background points (its step taken as no turn); inliers (T,) the points that agreed (0 for
    the first frame)."""

    rotations: np.ndarray
    known: np.ndarray
    inliers: np.ndarray

    def angles_degrees(self) -> np.ndarray:
        """(T,) the turn from each frame to the next (0 for the first), degrees."""
        steps = np.einsum("tij,tkj->tik", self.rotations[1:], self.rotations[:-1])
        cosines = np.clip((np.trace(steps, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
        return np.concatenate([[0.0], np.degrees(np.arccos(cosines))])


def background_mask(height: int, width: int, boxes: np.ndarray, margin: float) -> np.ndarray:
    """(H, W) uint8, 255 outside the (K, 4) x1 y1 x2 y2 boxes grown by ``margin`` of their size."""
    mask = np.full((height, width), 255, np.uint8)
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4):
        grow_x, grow_y = margin * (x2 - x1), margin * (y2 - y1)
        left, top = int(max(0, np.floor(x1 - grow_x))), int(max(0, np.floor(y1 - grow_y)))
        right, bottom = int(min(width, np.ceil(x2 + grow_x))), int(min(height, np.ceil(y2 + grow_y)))
        mask[top:bottom, left:right] = 0
    return mask


def bearings(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """(N, 2) pixels → (N, 3) unit bearing vectors ``K⁻¹ (u, v, 1)`` normalised."""
    rays = np.concatenate([points, np.ones((len(points), 1))], axis=1) @ np.linalg.inv(intrinsics).T
    return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def rotation_between(before: np.ndarray, after: np.ndarray, threshold: float, iterations: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """RANSAC rotation R with ``after ≈ R before`` for (N, 3) unit bearings; ``threshold`` an
    angle in radians. Returns R (3, 3) and the (N,) inlier mask of the refit."""
    import roma

    count = len(before)
    picks = np.stack([rng.choice(count, 3, replace=False) for _ in range(iterations)])
    x, y = torch.as_tensor(before, dtype=torch.float64), torch.as_tensor(after, dtype=torch.float64)
    hypotheses = roma.rigid_vectors_registration(x[picks], y[picks])                    # (S, 3, 3)
    turned = torch.einsum("sij,nj->sni", hypotheses, x)
    agree = (turned * y).sum(-1) > np.cos(threshold)                                    # (S, N)
    inliers = agree[int(agree.sum(1).argmax())]
    for _ in range(2):                                      # refit on the inliers, then re-select
        rotation = roma.rigid_vectors_registration(x[inliers], y[inliers])
        inliers = ((x @ rotation.T) * y).sum(-1) > np.cos(threshold)
    return rotation.numpy(), inliers.numpy()


def track_background(previous: np.ndarray, current: np.ndarray, mask: np.ndarray, config: CameraMotionConfig
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Background corners of the grey ``previous`` frame followed into ``current``: (N, 2) and
    (N, 2) pixels, those whose backward flow returns within half a pixel."""
    import cv2

    corners = cv2.goodFeaturesToTrack(previous, config.max_points, config.corner_quality, 8, mask=mask, blockSize=7)
    if corners is None or len(corners) < config.min_points:
        return np.zeros((0, 2)), np.zeros((0, 2))
    window = {"winSize": (21, 21), "maxLevel": 3}
    forward, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, **window)
    backward, status_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, forward, None, **window)
    good = (status.reshape(-1) == 1) & (status_back.reshape(-1) == 1) & \
        (np.linalg.norm((backward - corners).reshape(-1, 2), axis=1) < 0.5)
    return corners.reshape(-1, 2)[good].astype(np.float64), forward.reshape(-1, 2)[good].astype(np.float64)


def estimate_camera_rotations(frames, intrinsics: np.ndarray, boxes: list[np.ndarray] | None = None,
                              config: CameraMotionConfig = CameraMotionConfig()) -> CameraRotations:
    """The camera's rotation in every frame of ``frames`` (an iterable of (H, W, 3) uint8 RGB),
    with the full-size (3, 3) ``intrinsics``; ``boxes``: per frame the (K, 4) boxes of the people,
    left out of the background."""
    import cv2

    rng = np.random.default_rng(config.seed)
    rotations, known, inliers = [], [], []
    key = None                                   # (grey, rotation, frame index, first inlier count)
    for index, frame in enumerate(frames):
        scale = min(1.0, config.max_side / max(frame.shape[:2]))
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if key is None:
            rotations.append(np.eye(3)), known.append(True), inliers.append(0)
            key = (grey, np.eye(3), index, None)
            continue
        people = np.zeros((0, 4)) if boxes is None else np.asarray(boxes[key[2]], np.float64).reshape(-1, 4)
        turn, agreed = _turn_since(key[0], grey, people * scale, np.diag([scale, scale, 1.0]) @ intrinsics, config, rng)
        rotations.append(turn @ key[1] if agreed else rotations[-1])
        known.append(agreed > 0)
        inliers.append(agreed)
        first = key[3] if key[3] is not None else agreed
        key = (key[0], key[1], key[2], first)
        if not agreed or index - key[2] >= config.key_frames or agreed < config.rekey_share * first:
            key = (grey, rotations[-1], index, None)
    return CameraRotations(np.array(rotations).reshape(-1, 3, 3), np.array(known, bool), np.array(inliers))


def _turn_since(key: np.ndarray, grey: np.ndarray, people: np.ndarray, intrinsics: np.ndarray,
                config: CameraMotionConfig, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The rotation from the grey ``key`` frame's camera to ``grey``'s, and how many background
    points agree with it (0 and the identity where too few: unknown)."""
    start, end = track_background(key, grey, background_mask(*key.shape, people, config.box_margin), config)
    if len(start) < config.min_points:
        return np.eye(3), 0
    threshold = config.inlier_pixels / float(intrinsics[0, 0])
    rotation, agree = rotation_between(bearings(start, intrinsics), bearings(end, intrinsics), threshold,
                                       config.iterations, rng)
    count = int(agree.sum())
    if config.parallax_gain:
        moved, moved_count = _essential_turn(start, end, intrinsics, config)
        close = np.degrees(np.arccos(np.clip((np.trace(moved @ rotation.T) - 1) / 2, -1, 1))) < config.max_disagreement
        if moved_count > config.parallax_gain * count and close:     # points move apart: the camera moved too
            rotation, count = moved, moved_count
    return (rotation, count) if count >= config.min_points else (np.eye(3), 0)


def _essential_turn(start: np.ndarray, end: np.ndarray, intrinsics: np.ndarray, config: CameraMotionConfig
                    ) -> tuple[np.ndarray, int]:
    """The rotation of a camera that also moved: the essential matrix (OpenCV's five-point RANSAC
    with the known intrinsics) decomposed by ``cv2.recoverPose``; and its inlier count (0 when
    none is found)."""
    import cv2

    if np.median(np.linalg.norm(end - start, axis=1)) < config.inlier_pixels:
        return np.eye(3), 0                                   # the points barely moved: no parallax to see
    try:
        essential, mask = cv2.findEssentialMat(start, end, intrinsics, method=cv2.RANSAC, prob=0.999,
                                               threshold=config.inlier_pixels)
        if essential is None or essential.shape != (3, 3):
            return np.eye(3), 0
        _, rotation, _, _ = cv2.recoverPose(essential, start, end, intrinsics, mask=mask.copy())
    except cv2.error:                                         # degenerate points (OpenCV's solver asserts)
        return np.eye(3), 0
    return rotation, int(mask.sum())
