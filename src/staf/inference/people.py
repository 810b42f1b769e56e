"""Per-frame people: from the BlazePose detector or from a user's box file (``--boxes``).

A box file gives, per frame of the source (0-based index of the frames read, before
``--start``), any number of boxes ``x1, y1, x2, y2`` in pixels:

- JSON: ``{"0": [[x1, y1, x2, y2], …], "1": […], …}`` or a list over frames
  ``[[[x1, y1, x2, y2], …], …]`` (extra numbers after the four, e.g. a score, are ignored);
- CSV: a header with at least ``frame,x1,y1,x2,y2`` and one row per box.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np

from staf.errors import InvalidInputError, MalformedFileError, MissingAssetError

NUM_KEYPOINTS = 33


@dataclasses.dataclass
class FramePeople:
    """People in one frame, as a :class:`~staf.inference.detectors.Detector` finds them.

    Attributes:
        boxes: (K, 4) x1 y1 x2 y2 pixels.
        keypoints: (K, 33, 3) BlazePose's image keypoints x, y pixels and visibility (NaN when the
            boxes came from a file).
        scores: (K,) presence in [0, 1] (1 for a box file).
        world_landmarks: (K, 33, 3) BlazePose's metric landmarks, metres (NaN from a box file).
        masks: per person a :class:`~staf.inference.blazepose.PersonMask`, or None (not asked).
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    world_landmarks: np.ndarray | None = None
    masks: list | None = None

    def __post_init__(self) -> None:
        if self.world_landmarks is None:
            self.world_landmarks = np.full((len(self.boxes), NUM_KEYPOINTS, 3), np.nan)

    def __len__(self) -> int:
        return len(self.boxes)

    @staticmethod
    def empty() -> "FramePeople":
        return FramePeople(np.zeros((0, 4)), np.zeros((0, NUM_KEYPOINTS, 3)), np.zeros(0))

    @staticmethod
    def from_people(people) -> "FramePeople":
        """From :class:`staf.inference.blazepose.Person` objects."""
        if not people:
            return FramePeople.empty()
        masks = [p.mask for p in people] if any(p.mask is not None for p in people) else None
        world = np.stack([p.world_landmarks if p.world_landmarks is not None else np.full((NUM_KEYPOINTS, 3), np.nan)
                          for p in people])
        return FramePeople(np.stack([p.box for p in people]), np.stack([p.keypoints for p in people]),
                           np.array([p.score for p in people]), world, masks)

    @staticmethod
    def from_boxes(boxes: np.ndarray) -> "FramePeople":
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        return FramePeople(boxes, np.full((len(boxes), NUM_KEYPOINTS, 3), np.nan), np.ones(len(boxes)))


#: a box's side may be at most this many times the image's longer side
MAX_BOX_OVER_IMAGE = 10


def read_boxes_file(path: str | Path, image_size: tuple[int, int] | None = None) -> dict[int, np.ndarray]:
    """A box file (JSON or CSV, see the module docstring) → {frame index: (K, 4) boxes}. With the
    video's (W, H) ``image_size``, every box must overlap the image and be at most
    :data:`MAX_BOX_OVER_IMAGE` times its longer side (a person cut by the edge is fine)."""
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"--boxes {path} does not exist")
    try:
        boxes = _read_csv(path) if path.suffix.lower() == ".csv" else _read_json(path)
    except (ValueError, KeyError, TypeError, RecursionError, UnicodeDecodeError) as exc:   # JSONDecodeError is a ValueError
        raise MalformedFileError(f"--boxes {path}: cannot be read ({exc}); see 'staf demo --help' for the format") from exc
    for frame, values in boxes.items():
        if frame < 0:
            raise MalformedFileError(f"--boxes {path}: frame {frame} is negative (frames count from 0)")
        if not np.isfinite(values).all() or (values[:, 2] <= values[:, 0]).any() or (values[:, 3] <= values[:, 1]).any():
            raise MalformedFileError(f"--boxes {path}: frame {frame} has a box that is not finite or has x2 ≤ x1 or "
                                     "y2 ≤ y1 (boxes are x1, y1, x2, y2 pixels)")
        if image_size is not None:
            _check_in_image(values, frame, image_size, path)
    return boxes


def _check_in_image(values: np.ndarray, frame: int, image_size: tuple[int, int], path: Path) -> None:
    width, height = image_size
    outside = (values[:, 2] <= 0) | (values[:, 3] <= 0) | (values[:, 0] >= width) | (values[:, 1] >= height)
    largest = MAX_BOX_OVER_IMAGE * max(width, height)
    huge = (values[:, 2] - values[:, 0] > largest) | (values[:, 3] - values[:, 1] > largest)
    for bad, what in ((outside, "lies outside"), (huge, f"is more than {MAX_BOX_OVER_IMAGE} times the size of")):
        if bad.any():
            box = ", ".join(f"{value:.6g}" for value in values[np.flatnonzero(bad)[0]])
            raise InvalidInputError(f"--boxes {path}: frame {frame} has a box [{box}] that {what} the {width}×{height} "
                                    "image; boxes are x1, y1, x2, y2 in the video's pixels")


def _read_json(path: Path) -> dict[int, np.ndarray]:
    data = json.loads(path.read_text())
    items = data.items() if isinstance(data, dict) else enumerate(data)
    return {int(frame): _box_rows(rows) for frame, rows in items}


def _read_csv(path: Path) -> dict[int, np.ndarray]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        needed = {"frame", "x1", "y1", "x2", "y2"}
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            raise ValueError(f"the header must hold {', '.join(sorted(needed))}, found {reader.fieldnames}")
        rows: dict[int, list] = {}
        for row in reader:
            rows.setdefault(int(row["frame"]), []).append([float(row[k]) for k in ("x1", "y1", "x2", "y2")])
    return {frame: np.array(values, np.float64) for frame, values in rows.items()}


def _box_rows(rows) -> np.ndarray:
    if len(rows) == 0:
        return np.zeros((0, 4))
    values = [list(map(float, row))[:4] for row in rows]
    if any(len(row) < 4 for row in values):
        raise ValueError("every box needs 4 numbers x1, y1, x2, y2")
    return np.array(values, np.float64)


def check_frames(boxes: dict[int, np.ndarray], frame_indices: list[int], path: str | Path) -> None:
    """Refuse a box file whose frames are not frames of the video."""
    known = set(frame_indices)
    outside = sorted(frame for frame, values in boxes.items() if len(values) and frame not in known)
    if outside and not (set(boxes) & known):
        raise InvalidInputError(f"--boxes {path}: none of its frames ({outside[0]}…{outside[-1]}) is a frame read "
                                f"from the video ({frame_indices[0]}…{frame_indices[-1]}); frames count from 0")
