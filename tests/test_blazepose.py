"""BlazePose without MediaPipe: anchors, ROI geometry, NMS, and people found in rendered frames."""

from __future__ import annotations

import math

import numpy as np
import pytest

from staf.data.db import read_db
from staf.data.synthetic import SynthConfig, synthesize
from staf.geometry.boxes import box_iou
from staf.inference.blazepose import (
    BlazePoseDetector,
    DetectorConfig,
    PersonMask,
    Roi,
    alignment_roi,
    body_box,
    refine_from_heatmap,
    roi_to_image,
    ssd_anchor_centres,
    warp_roi,
    weighted_nms,
)
from staf.inference.video import VideoSource


def test_anchor_layout():
    """28×28 cells × 2 (stride 8), 14×14 × 2 (stride 16), 7×7 × 6 (three stride-32 layers share a
    map) = 2254, the rows of the model's output."""
    anchors = ssd_anchor_centres()
    assert anchors.shape == (2254, 2)
    np.testing.assert_allclose(anchors[0], anchors[1])
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(anchors[2], [1.5 / 28, 0.5 / 28])          # x runs fastest
    np.testing.assert_allclose(anchors[56], [0.5 / 28, 1.5 / 28])
    np.testing.assert_allclose(anchors[1568], [0.5 / 14, 0.5 / 14])
    last = anchors[1960:].reshape(7, 7, 6, 2)
    np.testing.assert_allclose(last[3, 5, :, 0], (5 + 0.5) / 7)
    np.testing.assert_allclose(last[3, 5, :, 1], (3 + 0.5) / 7)


@pytest.mark.parametrize("rotation", [0.0, 0.5, -2.0])
def test_warp_samples_as_mediapipe(rotation):
    """A dot lands where MediaPipe's sampling puts it: output pixel u reads the image at
    c + ½ + side · R · (u / size − ½) (OpenCV coordinates), inverted here by hand."""
    image = np.zeros((200, 300, 3), np.uint8)
    image[118:121, 169:172] = 255                                   # dot centred on (170, 119)
    roi = Roi(150.0, 110.0, 120.0, rotation)
    crop = warp_roi(image, roi, 256, replicate=False).astype(float)[..., 0]
    v, u = np.unravel_index(np.argmax(crop), crop.shape)
    weights = crop[v - 12 : v + 13, u - 12 : u + 13]
    grid_v, grid_u = np.mgrid[v - 12 : v + 13, u - 12 : u + 13]
    found = np.array([(weights * grid_u).sum(), (weights * grid_v).sum()]) / weights.sum()
    cos, sin = math.cos(rotation), math.sin(rotation)
    local = np.array([[cos, sin], [-sin, cos]]) @ (np.array([170.0, 119.0]) - [150.5, 110.5]) / 120.0
    np.testing.assert_allclose(found, (local + 0.5) * 256, atol=0.3)
    # mapping back (roi_to_image) is half an output pixel off the sampling, as in MediaPipe
    back = roi_to_image((found / 256)[None], roi)[0]
    np.testing.assert_allclose(back, [169.5, 118.5], atol=0.15)


def test_heatmap_refinement():
    heatmaps = np.full((64, 64, 2), -10.0)
    rows, columns = np.mgrid[0:64, 0:64]
    heatmaps[..., 0] = 8.0 - ((rows - 30) ** 2 + (columns - 20) ** 2) / 2.0     # a peak at cell (x 20, y 30)
    landmarks = np.array([[20.6 / 64, 30.3 / 64], [0.5, 0.5]])          # the window centred on the peak
    refined = refine_from_heatmap(landmarks, heatmaps)
    np.testing.assert_allclose(refined[0], [20 / 64, 30 / 64], atol=1e-6)     # cell index / size, as MediaPipe
    np.testing.assert_array_equal(refined[1], landmarks[1])                  # confidence < 0.5: unchanged
    outside = refine_from_heatmap(np.array([[1.2, 0.5]]), heatmaps[..., :1])
    np.testing.assert_array_equal(outside, [[1.2, 0.5]])


def test_alignment_roi():
    up = alignment_roi(np.array([100.0, 100.0]), np.array([100.0, 60.0]))      # scale point straight up
    assert (up.cx, up.cy, up.size) == (100.0, 100.0, pytest.approx(100.0))     # 2 · 40 · 1.25
    assert up.rotation == pytest.approx(0.0)
    right = alignment_roi(np.array([0.0, 0.0]), np.array([30.0, 0.0]))        # lying, head to the right
    assert right.rotation == pytest.approx(math.pi / 2)
    assert right.size == pytest.approx(75.0)
    # the ROI's "up" (normalised (0.5, 0)) lands on the scale-point side
    np.testing.assert_allclose(roi_to_image(np.array([[0.5, 0.0]]), right)[0], [37.5, 0.0], atol=1e-9)


def test_weighted_nms():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], float)
    keypoints = np.array([[[0, 0]], [[3, 0]], [[55, 55]]], float)
    kept = weighted_nms(boxes, keypoints, np.array([0.9, 0.6, 0.7]), iou=0.3)
    assert len(kept) == 2
    box, points, score = kept[0]
    np.testing.assert_allclose(box, [0.4, 0, 10.4, 10])                     # (0.9·0 + 0.6·1) / 1.5
    np.testing.assert_allclose(points, [[1.2, 0]])
    assert score == 0.9 and kept[1][2] == 0.7


def test_body_box_and_iou():
    landmarks = np.array([[10.0, 20.0], [30.0, 120.0]])
    np.testing.assert_allclose(body_box(landmarks, 1.0, 0.0), [10, 20, 30, 120])
    np.testing.assert_allclose(body_box(landmarks, 1.1, 0.02), [9, 13, 31, 123])   # centre 70 − 2, half 55
    assert box_iou(np.array([0, 0, 10, 10.0]), np.array([5, 0, 15, 10.0])) == pytest.approx(1 / 3)


def test_config_is_checked():
    with pytest.raises(ValueError, match="min_score"):
        DetectorConfig(min_score=1.5)
    with pytest.raises(ValueError, match="landmark model 'huge': choose one of full, heavy"):
        DetectorConfig(landmark_model="huge")


@pytest.mark.parametrize("field, value", [("follow_step", 0.0), ("follow_step", 1.5), ("follow_tolerance", -0.1),
                                          ("follow_tolerance", 0.6), ("same_region_ratio", 0.5),
                                          ("same_region_ratio", 11.0), ("duplicate_oks", 1.2), ("same_box_iou", -1.0),
                                          ("overlap_min_seen", 2.0), ("tile_every", -1), ("min_tile", 8),
                                          ("tile_scales", (0.05,)), ("tile_min_score", 1.5),
                                          ("follow_step", float("nan")), ("tile_min_score", float("nan"))])
def test_detector_settings_out_of_range_are_refused(field, value):
    """Issue 33's settings: each out of its range (NaN too) is refused with its name."""
    with pytest.raises(ValueError, match=field):
        DetectorConfig(**{field: value})


#: right then left shoulder, elbow, wrist, hip, knee, ankle: BlazePose and SPIN-49 (OpenPose) rows
BLAZEPOSE_LIMBS = [12, 14, 16, 24, 26, 28, 11, 13, 15, 23, 25, 27]
SPIN_LIMBS = [2, 3, 4, 9, 10, 11, 5, 6, 7, 12, 13, 14]


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory):
    root = tmp_path_factory.mktemp("detect")
    synthesize(SynthConfig(sequences=3, frames=24, seed=11, split="detect"), root, progress=False)
    return root, read_db(root / "synth_detect_db.pt")


@pytest.mark.parametrize("rotation", [0.0, 0.7])
def test_mask_back_in_the_image(rotation):
    """A segmentation in the ROI's crop returns to where it came from: a disc cut out by
    ``warp_roi`` and put back by ``PersonMask.in_image`` overlaps itself (IoU ≥ 0.95, centre
    within half a pixel) and is 0 outside the ROI."""
    grid_y, grid_x = np.mgrid[0:200, 0:300]
    disc = ((grid_x - 160.0) ** 2 + (grid_y - 100.0) ** 2 <= 30.0**2)
    roi = Roi(150.0, 110.0, 120.0, rotation)
    crop = warp_roi(np.repeat(disc[..., None].astype(np.uint8) * 255, 3, axis=2), roi, 256, replicate=False)
    back = PersonMask(crop[..., 0].astype(np.float32) / 255.0, roi).in_image(300, 200)
    assert back.shape == (200, 300) and back.dtype == np.float32
    found = back > 0.5
    iou = (found & disc).sum() / (found | disc).sum()
    assert iou >= 0.95, iou
    centre = np.array([(grid_x * back).sum(), (grid_y * back).sum()]) / back.sum()
    np.testing.assert_allclose(centre, [160.0, 100.0], atol=0.5)
    assert back[:, :40].max() == 0.0 and back[:, 260:].max() == 0.0          # outside the ROI


@pytest.mark.parametrize("landmark_model", ["full", "heavy"])
def test_people_found_in_rendered_frames(synthetic_video, landmark_model):
    """Recall at IoU 0.5 against the rendered mesh's box, and keypoints near the projected joints,
    with either landmark model (``--detector blazepose`` / ``blazepose-heavy``)."""
    root, data = synthetic_video
    detector = BlazePoseDetector(DetectorConfig(landmark_model=landmark_model))
    hits, ious, errors = [], [], []
    for sequence in range(3):
        detector.reset()
        rows = np.flatnonzero(data["vid_name"] == f"seq_{sequence:04d}")
        for frame, row in zip(VideoSource(root / f"seq_{sequence:04d}" / "frames"), rows):
            cx, cy, w, h = data["bbox"][row]
            truth = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            people = detector(frame.image)
            best = max((box_iou(p.box, truth) for p in people), default=0.0)
            hits.append(best >= 0.5)
            ious.append(best)
            if people:
                joints = data["joints2D"][row][SPIN_LIMBS]
                distance = np.linalg.norm(people[0].keypoints[BLAZEPOSE_LIMBS, :2] - joints[:, :2], axis=1) / h
                errors.append(np.where(joints[:, 2] > 0, distance, np.nan))
    assert np.mean(hits) >= 0.95, np.mean(hits)
    assert np.mean(ious) >= 0.75, np.mean(ious)
    # shoulders, elbows, wrists, hips, knees, ankles on the correct side: median 2 % of the height
    # (measured 0.020 on 10 sequences); a left/right swap gives ~ 0.2
    assert np.nanmedian(errors) < 0.05, np.nanmedian(errors)


def test_shipped_models_are_the_ones_in_notice():
    """Every shipped ``.tflite`` file is named in NOTICE with its sha256 (third-party models, licence there)."""
    import hashlib
    import re
    from pathlib import Path

    import staf.inference.blazepose as blazepose

    notice = (Path(__file__).resolve().parents[1] / "NOTICE").read_text()
    listed = dict(re.findall(r"- (\S+\.tflite) \(sha256 ([0-9a-f]{64})\)", notice))
    models = Path(blazepose.__file__).parent / "models"
    shipped = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in models.glob("*.tflite")}
    assert set(blazepose.LANDMARK_FILES.values()) | {blazepose.DETECTOR_FILE} <= set(shipped)
    assert shipped == listed
