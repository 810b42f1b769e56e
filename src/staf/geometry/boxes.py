"""Person boxes in the three layouts staf uses, their conversions, and the one IoU.

- **corners** ``(x1, y1, x2, y2)``: detectors, trackers and box files;
- **centre-size** ``(cx, cy, w, h)``: the Kalman state and the ``bboxes`` of VIBE's output files;
- **square** ``(cx, cy, side)``: the crop a model sees (:class:`staf.data.crops.CropRule`).

Pixels throughout, pixel centres at integers (OpenCV's convention). Every function takes any
leading dimensions, ``(…, 4)``.
"""

from __future__ import annotations

import numpy as np


def corners_to_centre_size(boxes: np.ndarray) -> np.ndarray:
    """(…, 4) x1 y1 x2 y2 → (…, 4) cx cy w h, float64."""
    boxes = np.asarray(boxes, np.float64)
    return np.concatenate([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], axis=-1)


def centre_size_to_corners(boxes: np.ndarray) -> np.ndarray:
    """(…, 4) cx cy w h → (…, 4) x1 y1 x2 y2, float64."""
    boxes = np.asarray(boxes, np.float64)
    half = boxes[..., 2:] / 2
    return np.concatenate([boxes[..., :2] - half, boxes[..., :2] + half], axis=-1)


def square_box(boxes: np.ndarray, scale: float) -> np.ndarray:
    """(…, 4) cx cy w h → (…, 3) squares cx cy side, ``side = max(w, h) · scale``."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], np.maximum(boxes[..., 2:3], boxes[..., 3:4]) * scale], axis=-1)


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(A, 4) and (B, 4) corner boxes → (A, B) intersection over union (0 where both are empty)."""
    a, b = np.asarray(boxes_a, float).reshape(-1, 4)[:, None], np.asarray(boxes_b, float).reshape(-1, 4)[None]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    union = _area(a) + _area(b) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def box_iou(box_a: np.ndarray, box_b: np.ndarray) -> float:
    """IoU of two (4,) corner boxes (:func:`iou_matrix` of one pair)."""
    return float(iou_matrix(box_a, box_b)[0, 0])


def _area(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def inside_share(box: np.ndarray, other: np.ndarray) -> float:
    """The share of ``box``'s area (4,) x1 y1 x2 y2 that lies inside ``other`` (4,): 1 when inside."""
    box, other = np.asarray(box, np.float64), np.asarray(other, np.float64)
    low, high = np.maximum(box[:2], other[:2]), np.minimum(box[2:], other[2:])
    area = max(float((box[2] - box[0]) * (box[3] - box[1])), 1e-9)
    return float(np.prod(np.clip(high - low, 0.0, None))) / area
