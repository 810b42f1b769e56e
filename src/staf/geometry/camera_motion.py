"""How the camera turns and travels, from the background of a video (issue 32, part 1).

From a key frame to each later frame, corners of the key frame's background (Shi–Tomasi, with more
from its lower half, :func:`background_corners`, outside the people's boxes) are followed by pyramidal Lucas–Kanade
optical flow and kept where the flow back finds the start again (forward–backward check). Each point becomes the bearing
``K⁻¹ (u, v, 1)`` of the pinhole camera with the known focal length. A turning camera maps the
bearings of distant points by one rotation, ``b_t ∝ R b_{t−1}`` (Wahba's problem); the rotation is
found by RANSAC over triples of bearings, each solved in closed form (``roma``'s Procrustes, the
SVD with the determinant fixed), and refitted on the inliers (angles under ``inlier_pixels`` /
focal). Where the camera also moved, near background points move apart from far ones (parallax)
and no one rotation fits them all; with ``parallax_gain`` set, the essential matrix with the
known intrinsics (OpenCV's five-point RANSAC and ``recoverPose``) gives the rotation when it fits
clearly more points (off by default: unstable on a real tracking shot).

**The camera's travel, over the ground.** Background points on one plane move between two frames
by a homography ``H ∝ K (R + t nᵀ / d) K⁻¹`` for the plane ``n · x = d`` in the first camera
(Hartley & Zisserman, §13.1); OpenCV's RANSAC fit (``cv2.findHomography``) and its decomposition
(``cv2.decomposeHomographyMat``, Malis & Vargas 2007; the solution whose plane 90 % of the
points lie in front of, refitted once without the others) give R, the travel ``t / d`` in units of the
camera's distance to the plane and n. The plane is taken as the *ground* when its normal is within
``ground_tilt`` of the camera's down (a wall, or the backdrop's homography of a turn, is not); the
homography of the most points is tried first, then the one of the points it left. A plane's
homography tells a small sideways travel from a turn poorly (on a tracking shot the turn drifted
by 2.7° in 90 frames), so R, ``t / d`` and n are refined together with the points off the ground,
taken as a second plane (a wall, or the backdrop far away: ``far_points``, :func:`_with_far_points`;
0.16°). Where the ground moved by ``min_travel`` or more and shows parallax (``parallax_share`` of
its points off where the rotation alone puts them), its R and ``t / d`` are the pair's motion; elsewhere the
rotation above, with no travel. Travels are in units of the camera's height over the ground
(taken as constant); :mod:`staf.inference.exporters` gives them metres from the bodies' feet.
Measuring against a key frame rather than the previous frame keeps small errors from adding up
over a still camera; a new key frame is taken after ``key_frames`` frames or when fewer than
``rekey_share`` of the most points the model (rotation, or over the ground) has agreed on since
the key still agree; where the ground is lost from the key frame, the pair is measured from the
previous frame instead.

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
        travel, ground_tilt, min_travel, min_ground_points: the camera's travel over the ground
            (module docstring; ``ground_tilt`` degrees, ``min_travel`` in units of the camera's
            height, ``min_ground_points`` the fewest points on the ground's homography: a low
            camera sees the ground in a thin band, where the backdrop's corners outnumber its own);
            False: rotation only. far_points: refine the ground's motion with the points off it.
        parallax_share: the ground's travel is taken only where this share of its points (and
            ``min_ground_points``) are off where the rotation alone puts them.
        ground_corners: the most corners added in the lower half of the frame
            (:func:`background_corners`; 0: none, the rule until 2026-12-04, when a low camera's
            floor gave the ground in 24 % of a tracking shot's frame pairs, with 200 in 89 %).
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
    travel: bool = True
    ground_tilt: float = 40.0
    min_travel: float = 0.01
    min_ground_points: int = 15
    far_points: bool = True
    ground_corners: int = 200
    parallax_share: float = 0.25

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
        check_number("ground_tilt", self.ground_tilt, 0, 90)
        check_number("min_travel", self.min_travel, 0, 10)
        check_number("min_ground_points", self.min_ground_points, 4, 100_000, integer=True)
        check_number("ground_corners", self.ground_corners, 0, 100_000, integer=True)
        check_number("parallax_share", self.parallax_share, 0, 1)


@dataclasses.dataclass
class CameraRotations:
    """rotations (T, 3, 3): first camera → camera t; known (T,) False where a frame pair had too
    few background points (its step taken as no turn); inliers (T,) the points that agreed (0 for
    the first frame); travels (T, 3): ``x_camera_t = R_t x_first + h · travels[t]`` for the camera's
    height h over the ground (zeros where no travel was seen); moved (T,) where the ground gave
    the pair's motion; ground_normal (3,): the ground's normal (down, towards the ground) in the
    first camera, the mean of the pairs' that moved, or None; turns (T, 3, 3): the rotations by
    the rotation-only fit alone (a still camera's, for where the travel is not believed)."""

    rotations: np.ndarray
    known: np.ndarray
    inliers: np.ndarray
    travels: np.ndarray | None = None
    moved: np.ndarray | None = None
    ground_normal: np.ndarray | None = None
    turns: np.ndarray | None = None

    def __post_init__(self) -> None:
        count = len(self.rotations)
        self.turns = self.rotations if self.turns is None else np.asarray(self.turns, np.float64)
        self.travels = np.zeros((count, 3)) if self.travels is None else np.asarray(self.travels, np.float64)
        self.moved = np.zeros(count, bool) if self.moved is None else np.asarray(self.moved, bool)

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


def background_corners(grey: np.ndarray, mask: np.ndarray, config: CameraMotionConfig) -> tuple[np.ndarray, int]:
    """(N, 1, 2) float32 Shi–Tomasi corners of ``grey`` where ``mask`` is set, and how many of the
    first ones are the whole frame's (the rotation is fitted to those alone, as before): up to
    ``max_points`` over the whole frame, and with ``ground_corners`` up to that many more in its
    lower half, their quality relative to the lower half's strongest corner (a floor's faint
    texture beside a cluttered wall; those within 4 px of a corner already found are dropped)."""
    import cv2

    corners = cv2.goodFeaturesToTrack(grey, config.max_points, config.corner_quality, 8, mask=mask, blockSize=7)
    corners = np.zeros((0, 1, 2), np.float32) if corners is None else corners
    if not config.ground_corners:
        return corners, len(corners)
    top = grey.shape[0] // 2
    lower = cv2.goodFeaturesToTrack(np.ascontiguousarray(grey[top:]), config.ground_corners, config.corner_quality, 8,
                                    mask=np.ascontiguousarray(mask[top:]), blockSize=7)
    if lower is None:
        return corners, len(corners)
    lower = lower + np.array([0, top], np.float32)
    if len(corners):
        nearest = np.linalg.norm(lower.reshape(-1, 1, 2) - corners.reshape(1, -1, 2), axis=2).min(axis=1)
        lower = lower[nearest > 4]
    return np.concatenate([corners, lower]), len(corners)


def track_background(previous: np.ndarray, current: np.ndarray, mask: np.ndarray, config: CameraMotionConfig
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background corners of the grey ``previous`` frame followed into ``current``: (N, 2) and
    (N, 2) pixels, those whose backward flow returns within half a pixel, and (N,) which are the
    whole frame's corners (the others: the lower half's, :func:`background_corners`)."""
    import cv2

    corners, whole = background_corners(previous, mask, config)
    if len(corners) < config.min_points:
        return np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, bool)
    window = {"winSize": (21, 21), "maxLevel": 3}
    forward, status, _ = cv2.calcOpticalFlowPyrLK(previous, current, corners, None, **window)
    backward, status_back, _ = cv2.calcOpticalFlowPyrLK(current, previous, forward, None, **window)
    good = (status.reshape(-1) == 1) & (status_back.reshape(-1) == 1) & \
        (np.linalg.norm((backward - corners).reshape(-1, 2), axis=1) < 0.5)
    frame_wide = np.arange(len(corners)) < whole
    return (corners.reshape(-1, 2)[good].astype(np.float64), forward.reshape(-1, 2)[good].astype(np.float64),
            frame_wide[good])


def estimate_camera_rotations(frames, intrinsics: np.ndarray, boxes: list[np.ndarray] | None = None,
                              config: CameraMotionConfig = CameraMotionConfig()) -> CameraRotations:
    """The camera's rotation in every frame of ``frames`` (an iterable of (H, W, 3) uint8 RGB),
    with the full-size (3, 3) ``intrinsics``; ``boxes``: per frame the (K, 4) boxes of the people,
    left out of the background."""
    import cv2

    rng = np.random.default_rng(config.seed)
    rotations, travels, known, inliers, moved, normals = [np.eye(3)], [np.zeros(3)], [True], [0], [False], []
    turns = [np.eye(3)]
    key = previous = None
    for index, frame in enumerate(frames):
        scale = min(1.0, config.max_side / max(frame.shape[:2]))
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        if key is None:
            key = previous = _Key(grey, np.eye(3), np.zeros(3), np.eye(3), index)
            continue
        measure = lambda since: _step_since(since.grey, grey, np.asarray(boxes[since.index] if boxes is not None  # noqa: E731
                                            else np.zeros((0, 4)), np.float64).reshape(-1, 4) * scale,
                                            np.diag([scale, scale, 1.0]) @ intrinsics, config, rng)
        step = measure(key)
        if moved[-1] and step.normal is None and previous is not key:   # the ground is lost: from the last frame
            key, step = previous, measure(previous)
        rotations.append(step.rotation @ key.rotation if step.count else rotations[-1])
        travels.append(step.rotation @ key.travel + step.travel if step.count else travels[-1])
        turns.append(step.turn @ key.turn if step.count else turns[-1])
        known.append(step.count > 0), inliers.append(step.count), moved.append(step.normal is not None)
        if step.normal is not None:
            normals.append(key.rotation.T @ step.normal * np.linalg.norm(step.travel))   # weighted by the travel
        best = key.best.setdefault(step.normal is not None, step.count)
        key.best[step.normal is not None] = max(best, step.count)
        previous = _Key(grey, rotations[-1], travels[-1], turns[-1], index)
        if not step.count or index - key.index >= config.key_frames or step.count < config.rekey_share * best:
            key = previous
    normal = np.sum(normals, axis=0) if normals else None
    return CameraRotations(np.array(rotations).reshape(-1, 3, 3), np.array(known, bool), np.array(inliers),
                           np.array(travels).reshape(-1, 3), np.array(moved, bool),
                           None if normal is None else normal / np.linalg.norm(normal), np.array(turns).reshape(-1, 3, 3))


@dataclasses.dataclass
class _Key:
    """A frame the later ones are measured from: its grey image, pose (rotation, travel), its
    rotation by the rotation alone (turn), index
    and the most points each model (rotation only: False; over the ground: True) has agreed on."""

    grey: np.ndarray
    rotation: np.ndarray
    travel: np.ndarray
    turn: np.ndarray
    index: int
    best: dict = dataclasses.field(default_factory=dict)


#: a homography's plane is in front of the camera where this share of its points lie on its side
#: (OpenCV's ``filterHomographyDecompByVisibleRefpoints`` asks it of all; the backdrop's points
#: near the horizon, which fit a small motion of the ground within a pixel, fail it, and the
#: homography is fitted again without them)
VISIBLE_SHARE = 0.9


@dataclasses.dataclass
class _Step:
    """One frame pair's motion from the key frame: rotation (3, 3), travel (3,) in units of the
    camera's height, the ground's normal (3,) in the key camera where the ground gave them (else
    None), the count of points that agreed (0: unknown), and the rotation alone's fit (``turn``,
    the rotation where the ground did not move)."""

    rotation: np.ndarray
    travel: np.ndarray
    normal: np.ndarray | None
    count: int
    turn: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.turn = self.rotation if self.turn is None else self.turn


def _step_since(key: np.ndarray, grey: np.ndarray, people: np.ndarray, intrinsics: np.ndarray,
                config: CameraMotionConfig, rng: np.random.Generator) -> _Step:
    """The motion from the grey ``key`` frame's camera to ``grey``'s (module docstring)."""
    start, end, frame_wide = track_background(key, grey, background_mask(*key.shape, people, config.box_margin), config)
    if frame_wide.sum() < config.min_points:
        return _Step(np.eye(3), np.zeros(3), None, 0)
    rotation, count = _turn_since(start[frame_wide], end[frame_wide], intrinsics, config, rng)
    if config.travel and count:
        ground = ground_motion(start, end, intrinsics, config)
        if ground is not None and _shows_parallax(ground, rotation, start, end, intrinsics, config):
            ground = _with_far_points(ground, start, end, intrinsics, config) if config.far_points else ground
            ground.turn = rotation
            return ground
    return _Step(rotation, np.zeros(3), None, count)


def _shows_parallax(ground: _Step, rotation: np.ndarray, start: np.ndarray, end: np.ndarray,
                    intrinsics: np.ndarray, config: CameraMotionConfig) -> bool:
    """Whether the ground's points show the travel: at least ``min_ground_points`` of them, and
    ``parallax_share`` of them, are not where the rotation alone (``rotation``) puts them."""
    inverse = np.linalg.inv(intrinsics)
    plane = intrinsics @ (ground.rotation + np.outer(ground.travel, ground.normal)) @ inverse
    on_ground = np.linalg.norm(_project(start, plane) - end, axis=1) < config.inlier_pixels
    turned = np.linalg.norm(_project(start[on_ground], intrinsics @ rotation @ inverse) - end[on_ground], axis=1)
    moved = int((turned >= config.inlier_pixels).sum())
    return moved >= max(config.min_ground_points, config.parallax_share * on_ground.sum())


def ground_motion(start: np.ndarray, end: np.ndarray, intrinsics: np.ndarray, config: CameraMotionConfig
                  ) -> _Step | None:
    """The camera's rotation and travel between two frames from the (N, 2) and (N, 2) pixels of
    background points, where the ground plane among them moved by ``min_travel`` or more (module
    docstring), else None."""
    import cv2

    remaining = np.ones(len(start), bool)
    for _ in range(2):
        if remaining.sum() < config.min_ground_points:
            return None
        try:
            homography, mask = cv2.findHomography(start[remaining], end[remaining], cv2.RANSAC, config.inlier_pixels)
        except cv2.error:
            return None
        if homography is None:
            return None
        agree = mask.reshape(-1).astype(bool)
        step = _ground_solution(homography, start[remaining][agree], end[remaining][agree], intrinsics, config)
        if step is not None:
            return step
        remaining[np.flatnonzero(remaining)[agree]] = False
    return None


def _project(points: np.ndarray, homography: np.ndarray) -> np.ndarray:
    mapped = np.c_[points, np.ones(len(points))] @ homography.T
    return mapped[:, :2] / mapped[:, 2:]


def _with_far_points(step: _Step, start: np.ndarray, end: np.ndarray, intrinsics: np.ndarray,
                     config: CameraMotionConfig) -> _Step:
    """The ground's motion refined together with the points off the ground: one rotation R and
    travel t for the ground's points, mapped by ``K (R + t nᵀ) K⁻¹``, and the others, mapped as
    points of a second plane ``K (R + t wᵀ) K⁻¹`` (a wall, ``w`` its normal over its distance in
    units of the camera's height; 0: the backdrop far away, where it starts), with a Cauchy loss
    of scale ``inlier_pixels`` for what is on neither (``scipy.optimize.least_squares``). The
    ground's homography alone tells a small sideways travel from a turn poorly; a second plane
    tells them apart."""
    from scipy.optimize import least_squares
    from scipy.spatial.transform import Rotation

    inverse = np.linalg.inv(intrinsics)
    plane = lambda rotation, travel, normal: intrinsics @ (rotation + np.outer(travel, normal)) @ inverse  # noqa: E731
    error = np.linalg.norm(_project(start, plane(step.rotation, step.travel, step.normal)) - end, axis=1)
    ground = error < config.inlier_pixels
    if ground.sum() > len(ground) - config.min_ground_points:
        return step

    def unpack(x):
        return Rotation.from_rotvec(x[:3]).as_matrix(), x[3:6], x[6:9] / np.linalg.norm(x[6:9]), x[9:12]

    def residuals(x):
        rotation, travel, normal, other = unpack(x)
        on_ground = _project(start[ground], plane(rotation, travel, normal)) - end[ground]
        off_ground = _project(start[~ground], plane(rotation, travel, other)) - end[~ground]
        return np.concatenate([on_ground.ravel(), off_ground.ravel()])

    x0 = np.concatenate([Rotation.from_matrix(step.rotation).as_rotvec(), step.travel, step.normal, np.zeros(3)])
    fit = least_squares(residuals, x0, loss="cauchy", f_scale=config.inlier_pixels, max_nfev=100)
    rotation, travel, normal, _ = unpack(fit.x)
    return _Step(rotation, travel, normal, step.count)


def _ground_solution(homography: np.ndarray, start: np.ndarray, end: np.ndarray, intrinsics: np.ndarray,
                     config: CameraMotionConfig, refits: int = 1) -> _Step | None:
    """The decomposition of a homography that is the ground's and moved, or None. Where the
    ground's solution has points behind its plane (the backdrop's, near the horizon, fit a small
    motion of the ground within a pixel), the homography is fitted again on the points in front."""
    import cv2

    if len(start) < config.min_ground_points:
        return None
    _, rotations, travels, normals = cv2.decomposeHomographyMat(homography, intrinsics)
    rays = bearings(start, intrinsics)
    front = [(rays @ normal.reshape(3)) > 0 for normal in normals]
    down = np.array([0.0, 1.0, 0.0])
    candidates = [i for i in range(len(normals)) if front[i].mean() >= 0.5]
    if not candidates:
        return None
    best = max(candidates, key=lambda i: float(normals[i].reshape(3) @ down))
    normal, travel = normals[best].reshape(3), travels[best].reshape(3)
    tilt = np.degrees(np.arccos(np.clip(normal @ down, -1.0, 1.0)))
    if tilt > config.ground_tilt or np.linalg.norm(travel) < config.min_travel:
        return None
    if front[best].mean() < VISIBLE_SHARE:
        if not refits or front[best].sum() < config.min_ground_points:
            return None
        kept = front[best]
        homography, mask = cv2.findHomography(start[kept], end[kept], cv2.RANSAC, config.inlier_pixels)
        if homography is None:
            return None
        agree = mask.reshape(-1).astype(bool)
        return _ground_solution(homography, start[kept][agree], end[kept][agree], intrinsics, config, refits - 1)
    return _Step(np.asarray(rotations[best], np.float64), travel.astype(np.float64), normal.astype(np.float64), len(start))


def _turn_since(start: np.ndarray, end: np.ndarray, intrinsics: np.ndarray, config: CameraMotionConfig,
                rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The rotation that turns the (N, 2) ``start`` pixels' bearings onto ``end``'s, and how many
    points agree with it (0 and the identity where too few: unknown)."""
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
