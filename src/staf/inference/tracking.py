"""Following people through a video: per-frame person boxes → tracks with stable identities.

SORT-style (Bewley et al., ICIP 2016): each track carries a constant-velocity Kalman filter over
its box ``(cx, cy, w, h)``; every frame the predicted boxes are matched to the detections by the
Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on 1 − IoU, pairs below
``min_iou`` left unmatched. Where the detections carry keypoints, the cost is 1 − the mean of IoU
and the keypoint similarity (COCO's OKS, :mod:`staf.geometry.keypoints`) between the track's last
pose and the detection's, weighted by ``keypoint_weight``: two people close together have boxes
alike but poses apart, so a track does not hand over from one to the other. An unmatched detection starts a tentative track, confirmed after
``min_hits`` matches in a row; a track not matched for ``max_age`` frames ends, and while it is
not matched its box keeps moving but stops changing size (:meth:`BoxKalman.hold_size`). Afterwards gaps of
at most ``max_gap`` frames inside a track are filled by linear interpolation of the boxes, tracks
shorter than ``min_length`` frames are dropped, and ``max_people`` keeps the longest tracks.

Boxes are ``(x1, y1, x2, y2)`` in pixels throughout.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

from staf.errors import InvalidInputError
from staf.geometry.boxes import centre_size_to_corners, corners_to_centre_size, iou_matrix
from staf.geometry.keypoints import keypoint_similarity


@dataclasses.dataclass(frozen=True)
class TrackerConfig:
    """Association and lifetime rules (see the module docstring)."""

    min_iou: float = 0.2
    min_hits: int = 3
    max_age: int = 15
    max_gap: int = 15
    min_length: int = 9
    max_people: int | None = None
    keypoint_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_iou < 1.0:
            raise InvalidInputError(f"min_iou must be in [0, 1), got {self.min_iou}")
        if not 0.0 <= self.keypoint_weight <= 1.0:
            raise InvalidInputError(f"keypoint_weight must be in [0, 1], got {self.keypoint_weight}")
        for name in ("min_hits", "max_age", "min_length"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_gap < 0:
            raise InvalidInputError(f"max_gap must be ≥ 0, got {self.max_gap}")
        if self.max_people is not None and self.max_people < 1:
            raise InvalidInputError(f"max_people must be at least 1 (or unset), got {self.max_people}")


@dataclasses.dataclass
class Track:
    """One person: ``frames`` (N,) frame indices in order, ``boxes`` (N, 4) x1 y1 x2 y2,
    ``detected`` (N,) False where the box was interpolated across a gap, ``detections`` (N,) the
    index of the matched detection among its frame's detections (-1 where interpolated)."""

    track_id: int
    frames: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray
    detections: np.ndarray


class BoxKalman:
    """Constant-velocity Kalman filter over ``(cx, cy, w, h)``: state (8,) with velocities."""

    def __init__(self, box: np.ndarray) -> None:
        self.transition = np.eye(8)
        self.transition[:4, 4:] = np.eye(4)
        self.observe = np.eye(4, 8)
        size = max(box[2] - box[0], box[3] - box[1], 1.0)
        self.state = np.concatenate([corners_to_centre_size(box), np.zeros(4)])
        self.covariance = np.diag([(0.1 * size) ** 2] * 4 + [(0.5 * size) ** 2] * 4)
        self.size = size

    def predict(self) -> np.ndarray:
        """Advance one frame; the predicted box (4,) x1 y1 x2 y2."""
        process = np.diag([(0.05 * self.size) ** 2] * 4 + [(0.02 * self.size) ** 2] * 4)
        self.state = self.transition @ self.state
        self.state[2:4] = np.maximum(self.state[2:4], 1.0)
        self.covariance = self.transition @ self.covariance @ self.transition.T + process
        return centre_size_to_corners(self.state[:4])

    def hold_size(self) -> None:
        """Stop the box's growth or shrinking (for a person not seen this frame): a box that
        shrinks as its person walks behind another says how much is hidden, not how far away
        the person is, and extrapolated it would shrink to nothing before the person is back."""
        self.state[6:8] = 0.0

    def update(self, box: np.ndarray) -> None:
        """Correct with a detected box (4,) x1 y1 x2 y2."""
        noise = np.eye(4) * (0.05 * self.size) ** 2
        innovation = corners_to_centre_size(box) - self.observe @ self.state
        gain_base = self.observe @ self.covariance @ self.observe.T + noise
        gain = self.covariance @ self.observe.T @ np.linalg.inv(gain_base)
        self.state = self.state + gain @ innovation
        self.covariance = (np.eye(8) - gain @ self.observe) @ self.covariance
        self.size = max(self.state[2], self.state[3], 1.0)


@dataclasses.dataclass
class _Live:
    track_id: int
    filter: BoxKalman
    frames: list[int]
    boxes: list[np.ndarray]
    detections: list[int]
    hits: int = 1
    since_seen: int = 0
    confirmed: bool = False
    pose: np.ndarray | None = None


def track_boxes(detections: list[np.ndarray], config: TrackerConfig = TrackerConfig(),
                keypoints: list[np.ndarray] | None = None) -> list[Track]:
    """Per-frame detections (a list over frames of (K_t, 4) boxes, K_t may be 0) → tracks;
    ``keypoints``: the same frames' (K_t, 33, 3) BlazePose keypoints, where the detector has them.

    Only detected boxes are kept while tracking; gaps are filled afterwards (``max_gap``)."""
    live: list[_Live] = []
    finished: list[_Live] = []
    next_id = 0
    for frame, boxes in enumerate(detections):
        boxes = _check_boxes(boxes, frame)
        poses = keypoints[frame] if keypoints is not None else np.full((len(boxes), 33, 3), np.nan)
        poses = np.array([_centred(pose, box) for pose, box in zip(poses, boxes)]).reshape(-1, 33, 3)
        predicted = np.array([track.filter.predict() for track in live]).reshape(-1, 4)
        similarity = _pose_similarity([track.pose for track in live], poses, predicted)
        matches, unmatched_tracks, unmatched_boxes = _associate(predicted, boxes, config.min_iou, similarity,
                                                                config.keypoint_weight)
        for track_index, box_index in matches:
            track = live[track_index]
            track.filter.update(boxes[box_index])
            track.pose = poses[box_index]
            track.frames.append(frame)
            track.boxes.append(boxes[box_index])
            track.detections.append(box_index)
            track.hits, track.since_seen = track.hits + 1, 0
            track.confirmed = track.confirmed or track.hits >= config.min_hits
        for track_index in unmatched_tracks:
            live[track_index].since_seen += 1
            live[track_index].filter.hold_size()
            if not live[track_index].confirmed:
                live[track_index].hits = 0          # a tentative track must be matched every frame
        for box_index in unmatched_boxes:
            live.append(_Live(next_id, BoxKalman(boxes[box_index]), [frame], [boxes[box_index]], [box_index],
                              confirmed=config.min_hits <= 1, pose=poses[box_index]))
            next_id += 1
        ended = [t for t in live if t.since_seen > config.max_age or (not t.confirmed and t.hits == 0)]
        finished += [t for t in ended if t.confirmed]
        live = [t for t in live if t not in ended]
    finished += [t for t in live if t.confirmed]
    tracks = [_finish(t, config.max_gap) for t in sorted(finished, key=lambda t: t.track_id)]
    tracks = [t for t in tracks if len(t.frames) >= config.min_length]
    if config.max_people is not None:
        keep = sorted(tracks, key=lambda t: (-int(t.detected.sum()), t.track_id))[: config.max_people]
        tracks = sorted(keep, key=lambda t: t.track_id)
    return tracks


def _centred(pose: np.ndarray, box: np.ndarray) -> np.ndarray:
    """A (33, 3) pose with x, y relative to its box's centre: the shape, not the place."""
    pose = np.array(pose, np.float64)
    pose[:, :2] -= (box[:2] + box[2:]) / 2
    return pose


def _pose_similarity(track_poses: list[np.ndarray | None], poses: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(T, K) OKS between each track's last pose and each detection's, both centred on their boxes
    (where a box is, IoU says; its jitter would otherwise swamp the keypoints), on the scale of the
    track's predicted box; NaN where either has no keypoints."""
    similarity = np.full((len(track_poses), len(poses)), np.nan)
    for row, pose in enumerate(track_poses):
        if pose is None or not np.isfinite(pose).any():
            continue
        for column, other in enumerate(poses):
            similarity[row, column] = keypoint_similarity(pose, other, predicted[row])
    return similarity


def _associate(predicted: np.ndarray, boxes: np.ndarray, min_iou: float, similarity: np.ndarray | None = None,
               keypoint_weight: float = 0.0):
    """Hungarian matching on 1 − IoU, or 1 − ((1 − w)·IoU + w·OKS) where the poses' similarity is
    known (``keypoint_weight`` w); pairs with IoU below ``min_iou`` stay unmatched."""
    if len(predicted) == 0 or len(boxes) == 0:
        return [], list(range(len(predicted))), list(range(len(boxes)))
    overlap = iou_matrix(predicted, boxes)
    score = overlap
    if similarity is not None and keypoint_weight:
        score = np.where(np.isnan(similarity), overlap, (1 - keypoint_weight) * overlap
                         + keypoint_weight * np.nan_to_num(similarity))
    rows, cols = linear_sum_assignment(1.0 - score)
    matches = [(r, c) for r, c in zip(rows, cols) if overlap[r, c] >= min_iou and overlap[r, c] > 0]
    matched_rows, matched_cols = {r for r, _ in matches}, {c for _, c in matches}
    return (matches, [r for r in range(len(predicted)) if r not in matched_rows],
            [c for c in range(len(boxes)) if c not in matched_cols])


def _finish(track: _Live, max_gap: int) -> Track:
    """The track's detected boxes with every gap of at most ``max_gap`` frames filled by linear
    interpolation (longer gaps stay gaps: no box is invented across them)."""
    frames, boxes = np.array(track.frames), np.array(track.boxes, dtype=float)
    out_frames, out_boxes, indices = [frames[0]], [boxes[0]], [track.detections[0]]
    for (f0, b0), (f1, b1), index in zip(zip(frames[:-1], boxes[:-1]), zip(frames[1:], boxes[1:]),
                                         track.detections[1:]):
        gap = f1 - f0 - 1
        if 0 < gap <= max_gap:
            for step in range(1, gap + 1):
                weight = step / (gap + 1)
                out_frames.append(f0 + step)
                out_boxes.append((1 - weight) * b0 + weight * b1)
                indices.append(-1)
        out_frames.append(f1)
        out_boxes.append(b1)
        indices.append(index)
    indices = np.array(indices, np.int64)
    return Track(track.track_id, np.array(out_frames), np.array(out_boxes), indices >= 0, indices)


def _check_boxes(boxes, frame: int) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4) if np.size(boxes) else np.zeros((0, 4))
    if not np.isfinite(boxes).all():
        raise InvalidInputError(f"frame {frame}: a detection box is not finite: {boxes.tolist()}")
    if (boxes[:, 2] <= boxes[:, 0]).any() or (boxes[:, 3] <= boxes[:, 1]).any():
        raise InvalidInputError(f"frame {frame}: a detection box has zero or negative size (boxes are x1 y1 x2 y2)")
    return boxes
