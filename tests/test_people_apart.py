"""Issue 33: people close together kept apart (keypoint similarity, not box overlap alone) and a
followed region that settles on identical frames."""

from __future__ import annotations

import math

import numpy as np
import pytest

from staf.geometry.keypoints import BLAZEPOSE_TO_COCO, COCO_SIGMAS, keypoint_similarity
from staf.inference.blazepose import BlazePoseDetector, DetectorConfig, Person, Roi, body_box, damped_roi

RNG = np.random.default_rng(33)


def coco_oks(first: np.ndarray, second: np.ndarray, area: float) -> float:
    """COCO's ``computeOks`` written out keypoint by keypoint, in float64 (the reference)."""
    total, count = 0.0, 0
    for coco_index, landmark in enumerate(BLAZEPOSE_TO_COCO):
        if first[landmark, 2] < 0.5 or second[landmark, 2] < 0.5:
            continue
        dx, dy = first[landmark, 0] - second[landmark, 0], first[landmark, 1] - second[landmark, 1]
        variance = (2 * COCO_SIGMAS[coco_index]) ** 2
        total += math.exp(-(dx * dx + dy * dy) / variance / area / 2)
        count += 1
    return total / count if count else math.nan


def standing_pose(x: float, height: float = 300.0, seen: float = 0.9, seed: int | None = None) -> np.ndarray:
    """(33, 3) a rough upright pose at horizontal position ``x``: points spread over the body, the
    same for the same ``seed`` (default: one from ``x``, so that each test is the same run alone)."""
    rng = np.random.default_rng(int(x * 10) if seed is None else seed)
    points = np.zeros((33, 3))
    points[:, 0] = x + rng.uniform(-0.15, 0.15, 33) * height
    points[:, 1] = 100 + np.linspace(0, 1, 33) * height
    points[:, 2] = seen
    return points


def person(keypoints: np.ndarray, score: float) -> Person:
    return Person(box=body_box(keypoints[:, :2], 1.1, 0.0), keypoints=keypoints, score=score)


def test_oks_matches_coco_re_computation():
    for seed in range(20):
        first = standing_pose(200.0, seed=seed)
        second = first + np.concatenate([RNG.normal(0, 15, (33, 2)), np.zeros((33, 1))], axis=1)
        second[RNG.random(33) < 0.2, 2] = 0.1                       # some not seen
        box = body_box(first[:, :2], 1.1, 0.0)
        area = (box[2] - box[0]) * (box[3] - box[1])
        assert keypoint_similarity(first, second, box) == pytest.approx(coco_oks(first, second, area), rel=1e-12)
    assert keypoint_similarity(first, first, box) == pytest.approx(1.0)
    nothing = np.full((33, 3), np.nan)
    assert math.isnan(keypoint_similarity(first, nothing, box))          # a box file's person: no keypoints


@pytest.fixture(scope="module")
def detector():
    return BlazePoseDetector(DetectorConfig(duplicate_oks=0.5))


def test_two_people_close_together_are_kept(detector):
    """Two poses whose boxes overlap by IoU ≈ 0.6 but whose keypoints differ: two people (the box
    rule alone, ``duplicate_oks=0``, merged them into one)."""
    from staf.geometry.boxes import box_iou

    first, second = person(standing_pose(200.0), 0.9), person(standing_pose(225.0), 0.8)
    assert 0.5 < box_iou(first.box, second.box) < 0.85
    assert len(detector._deduplicate([first, second])) == 2
    assert len(BlazePoseDetector(DetectorConfig(duplicate_oks=0.0))._deduplicate([first, second])) == 1


def test_a_real_duplicate_is_still_merged(detector):
    """The same person found from two regions (keypoints a few pixels apart): one person, the
    higher presence kept."""
    pose = standing_pose(200.0)
    again = pose + np.concatenate([RNG.normal(0, 3, (33, 2)), np.zeros((33, 1))], axis=1)
    kept = detector._deduplicate([person(again, 0.7), person(pose, 0.95)])
    assert len(kept) == 1 and kept[0].score == 0.95


def test_damped_region_holds_still_within_tolerance_and_steps_otherwise():
    current = Roi(100.0, 100.0, 200.0, 0.1)
    near = Roi(104.0, 98.0, 206.0, 0.12)                       # 2.2 % offset, 3 % size, 0.02 rad
    assert damped_roi(current, near, 0.5, tolerance=0.05) is current
    far = Roi(140.0, 100.0, 800.0, 0.1 + 2 * math.pi - 0.2)    # the rotation the short way round: −0.2
    stepped = damped_roi(current, far, 0.5, tolerance=0.05)
    assert (stepped.cx, stepped.cy) == (120.0, 100.0)
    assert stepped.size == pytest.approx(400.0)               # geometric: half way in log size
    assert stepped.rotation == pytest.approx(0.0)
    assert damped_roi(current, far, 1.0) is far


class OvershootingLandmarks(BlazePoseDetector):
    """A landmark pass whose next region overshoots: for a region of side s it asks for
    ``200 − 1.5 (s − 200)``, so MediaPipe's rule (go all the way) swings further each frame on
    identical frames (as the follow loop did on a real still of a person bent over); the box is
    the region's middle, so it swings with it."""

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self.reset()

    def _detect_in(self, image, frame, min_score=None):
        return [(Roi(100.0, 100.0, 160.0), 0.9, np.array([20.0, 20.0, 180.0, 180.0]))] if not self.followed else []

    def landmarks(self, image, roi, min_presence=None):
        target = Roi(roi.cx, roi.cy, float(np.clip(200.0 - 1.5 * (roi.size - 200.0), 50.0, 800.0)))
        keypoints = np.zeros((33, 3))
        keypoints[:, 0] = np.linspace(roi.cx - roi.size / 4, roi.cx + roi.size / 4, 33)
        keypoints[:, 1] = np.linspace(roi.cy - roi.size / 2, roi.cy + roi.size / 2, 33)
        keypoints[:, 2] = 0.9
        return Person(box=body_box(keypoints[:, :2], 1.0, 0.0), keypoints=keypoints, score=0.9, next_roi=target,
                      roi=roi)


def box_heights(config: DetectorConfig, frames: int = 9) -> np.ndarray:
    detector = OvershootingLandmarks(config)
    image = np.zeros((200, 200, 3), np.uint8)
    boxes = [detector(image)[0].box for _ in range(frames)]
    return np.array([box[3] - box[1] for box in boxes])


def test_a_follow_loop_that_overshoots_settles():
    """MediaPipe's rule (step 1, no tolerance) swings the box by more than 50 % between identical
    frames; the damped, tolerant follow (the defaults) settles within a few frames and then holds
    exactly."""
    swinging = box_heights(DetectorConfig(follow_step=1.0, follow_tolerance=0.0))
    assert np.abs(np.diff(swinging) / swinging[:-1]).max() > 0.5, swinging
    defaults = DetectorConfig()
    settled = box_heights(defaults)
    assert np.all(np.diff(settled[-5:]) == 0.0), settled
    assert settled[-1] == pytest.approx(200.0, rel=defaults.follow_tolerance)


@pytest.fixture(scope="module")
def rendered_stills(tmp_path_factory):
    from staf.data.crops import read_image
    from staf.data.synthetic import SynthConfig, synthesize

    root = tmp_path_factory.mktemp("stills")
    synthesize(SynthConfig(sequences=4, frames=3, size=320, seed=21, split="still"), root, progress=False)
    return [read_image(root / f"seq_{index:04d}" / "frames" / "000001.jpg") for index in range(4)]


def test_a_still_video_gives_one_steady_box(rendered_stills):
    """Each of four rendered people, scaled up to 1280 px and repeated as twelve identical frames:
    found in every frame; the box settles from the detector's region within a few frames (height
    changes ≤ 5 %) and then stays exactly where it is (issue 33's goal is a median change of 1 % on
    real stills; docs/demo.md has those numbers)."""
    import cv2

    detector = BlazePoseDetector(DetectorConfig())
    for image in rendered_stills:
        image = cv2.resize(image, (1280, 1280), interpolation=cv2.INTER_CUBIC)
        detector.reset()
        heights = []
        for _ in range(12):
            people = detector(image)
            assert len(people) == 1
            heights.append(people[0].box[3] - people[0].box[1])
        changes = np.abs(np.diff(heights)) / np.array(heights[:-1])
        assert changes.max() <= 0.05 and np.all(changes[-5:] == 0.0), heights


def pair_frames(frames: int, seed: int, crossing: bool):
    """Two people side by side (or crossing, one walking left and one right through each other), boxes alike
    and jittering by ±12 px, each with their own pose; per frame the detections in random order.
    Returns per-frame boxes, keypoints and the true person of each detection."""
    rng = np.random.default_rng(seed)
    shapes = [rng.uniform(-0.15, 0.15, 33), rng.uniform(-0.15, 0.15, 33)]     # each person's own pose
    boxes, keypoints, truth = [], [], []
    for frame in range(frames):
        frame_boxes, frame_poses = [], []
        for who in (0, 1):
            x = (150 + 6 * frame if who == 0 else 330 - 6 * frame) if crossing else 200 + 30 * who
            x += rng.uniform(-12, 12)
            pose = np.zeros((33, 3))
            pose[:, 0] = x + shapes[who] * 300 + rng.normal(0, 2, 33)
            pose[:, 1] = 100 + np.linspace(0, 1, 33) * 300 + rng.uniform(-8, 8)
            pose[:, 2] = 0.9
            frame_boxes.append(body_box(pose[:, :2], 1.1, 0.0))
            frame_poses.append(pose)
        order = rng.permutation(2)
        boxes.append(np.array(frame_boxes)[order])
        keypoints.append(np.array(frame_poses)[order])
        truth.append(order)
    return boxes, keypoints, truth


def identity_switches(tracks, truth) -> int:
    """Frames where a track follows another person than the one it followed most."""
    switches = 0
    for track in tracks:
        people = [truth[frame][index] for frame, index in zip(track.frames, track.detections) if index >= 0]
        switches += len(people) - max(people.count(0), people.count(1))
    return switches


@pytest.mark.parametrize("crossing", [False, True])
def test_a_pair_keeps_its_identities(crossing):
    """Two people close together (or crossing), boxes alike: with their keypoints, two tracks and no
    identity switch over 40 frames in any of 5 runs; by boxes alone (no keypoints) they switched."""
    from staf.inference.tracking import TrackerConfig, track_boxes

    with_keypoints, boxes_alone = 0, 0
    for seed in range(5):
        boxes, keypoints, truth = pair_frames(40, seed, crossing)
        tracks = track_boxes(boxes, TrackerConfig(min_length=3), keypoints)
        assert len(tracks) == 2
        with_keypoints += identity_switches(tracks, truth)
        boxes_alone += identity_switches(track_boxes(boxes, TrackerConfig(min_length=3)), truth)
    assert with_keypoints == 0
    assert boxes_alone > 0


def test_the_tiled_pass_finds_two_people_the_whole_frame_pass_misses(tmp_path):
    """Two rendered people side by side on a 1920 × 1080 frame, each about a fifth of its height:
    the one letter-boxed 224-px pass over the whole frame finds neither; with the tiles, both are
    found where they stand (IoU ≥ 0.5 with the rendered mesh's box) and nobody else is."""
    import cv2

    from staf.data.crops import read_image
    from staf.data.db import read_db
    from staf.data.synthetic import SynthConfig, synthesize
    from staf.geometry.boxes import box_iou

    synthesize(SynthConfig(sequences=2, frames=3, size=320, seed=21, split="pair"), tmp_path, progress=False)
    data = read_db(tmp_path / "synth_pair_db.pt")
    canvas, truth = np.full((1080, 1920, 3), 110, np.uint8), []
    for sequence, left in ((0, 560), (1, 1000)):
        canvas[500:900, left:left + 400] = cv2.resize(read_image(tmp_path / f"seq_{sequence:04d}" / "frames" /
                                                                  "000001.jpg"), (400, 400), interpolation=cv2.INTER_AREA)
        cx, cy, w, h = data["bbox"][np.flatnonzero(data["vid_name"] == f"seq_{sequence:04d}")[1]] * 400 / 320
        truth.append(np.array([left + cx - w / 2, 500 + cy - h / 2, left + cx + w / 2, 500 + cy + h / 2]))
    assert BlazePoseDetector(DetectorConfig(tile_every=0))(canvas) == []
    found = BlazePoseDetector(DetectorConfig())(canvas)
    assert len(found) == 2
    for box in truth:
        assert max(box_iou(person.box, box) for person in found) >= 0.5


def test_a_piece_of_a_person_is_dropped_and_a_child_in_front_is_kept():
    """A half body read as a small person (its joints on the adult's, a few pixels off) is a piece
    of the adult; a child standing in front of the adult (box inside the adult's, joints its own) is
    not."""
    from staf.geometry.keypoints import is_part_of

    adult = standing_pose(200.0)
    adult_box = body_box(adult[:, :2], 1.1, 0.0)
    piece = adult.copy()
    lower = [23, 24, 25, 26, 27, 28]                              # hips, knees, ankles …
    piece[lower, :2] = adult[[13, 14, 15, 16, 11, 12], :2]        # … read on the elbows, wrists, shoulders
    piece[:, :2] += RNG.normal(0, 2, (33, 2))
    upper = np.flatnonzero(piece[:, 1] < 260)
    piece_box = body_box(piece[upper, :2], 1.0, 0.0)
    assert is_part_of(piece, piece_box, adult, adult_box)
    for seed in range(50):                                        # fifty children, each with their own pose
        child = standing_pose(215.0, height=120.0, seed=seed)
        child[:, 1] += 170                                        # feet on the adult's, head at the adult's waist
        child_box = body_box(child[:, :2], 1.1, 0.0)
        assert adult_box[0] < child_box[0] and child_box[2] < adult_box[2] and child_box[3] <= adult_box[3] + 20
        assert not is_part_of(child, child_box, adult, adult_box)
    detector = BlazePoseDetector(DetectorConfig())
    kept = detector._deduplicate([person(adult, 0.99), person(child, 0.95)])
    assert len(kept) == 2


def test_an_unsure_second_reading_of_a_person_is_merged(detector):
    """A second pose over the same box (IoU > 0.5) that shares no joint with the person (OKS ≈ 0)
    and has most of its joints unseen is the same person read badly, not a second person; the same
    pose with its joints seen is kept (two people close together)."""
    first = person(standing_pose(200.0), 0.99)
    unsure = standing_pose(225.0)
    unsure[::2, 2] = 0.2                                          # about half the joints unseen
    assert len(BlazePoseDetector(DetectorConfig())._deduplicate([first, person(unsure, 0.97)])) == 1
    unsure[:, 2] = 0.9
    assert len(BlazePoseDetector(DetectorConfig())._deduplicate([first, person(unsure, 0.97)])) == 2


def test_inside_share():
    from staf.geometry.boxes import inside_share

    assert inside_share(np.array([0.0, 0, 10, 10]), np.array([5.0, 0, 20, 10])) == pytest.approx(0.5)
    assert inside_share(np.array([2.0, 2, 4, 4]), np.array([0.0, 0, 10, 10])) == 1.0
    assert inside_share(np.array([0.0, 0, 1, 1]), np.array([2.0, 2, 3, 3])) == 0.0


def test_tracking_score_counts_a_swap_and_not_a_pass():
    """CLEAR MOT's counts on hand-made tracks: two people, 6 frames. Tracks that swap at frame 3
    make two switches; tracks whose boxes touch both people while they pass (frame 2) but stay
    with their own make none; a box on nobody is a false person; a mostly hidden person is not
    counted, and a track on them is no false person."""
    from staf.evaluation.tracking import score_tracks

    left, right = np.array([0.0, 0, 10, 20]), np.array([20.0, 0, 30, 20])
    truth = np.array([[left, right]] * 6)
    visible = np.ones((6, 2))
    truth[2] = [[8.0, 0, 18, 20], [10.0, 0, 20, 20]]                      # passing: IoU 0.54 each way
    kept = {0: {f: truth[f, 0] for f in range(6)}, 1: {f: truth[f, 1] for f in range(6)}}
    kept[0][2], kept[1][2] = truth[2, 0] + [1.5, 0, 1.5, 0], truth[2, 1] - [1.5, 0, 1.5, 0]
    score = score_tracks(kept, truth, visible)
    assert (score.found, score.people, score.switches, score.false) == (12, 12, 0, 0)
    swapped = {0: {f: truth[f, 0 if f < 3 else 1] for f in range(6)}, 1: {f: truth[f, 1 if f < 3 else 0] for f in range(6)}}
    assert score_tracks(swapped, truth, visible).switches == 2
    visible[4, 1] = 0.2
    extra = {**kept, 2: {5: np.array([50.0, 50, 60, 70])}}
    score = score_tracks(extra, truth, visible)
    assert (score.found, score.people, score.false, score.tracks) == (11, 11, 1, 3)
    assert score.recall == 1.0


@pytest.mark.slow  # 12 s on the 2-core AVX2 host
def test_a_rendered_crossing_pair_keeps_its_identities():
    """Two rendered people walk across a 960 × 540 view in opposite directions, the far one half a
    metre behind, fully hidden for a few frames as they pass (staf.data.synthetic.crossing):
    through BlazePose and staf demo's tracker, two tracks over the whole video, no identity switch,
    and nearly every person-frame found (docs/demo.md has six scenes, before and after)."""
    from staf.data.synthetic.crossing import CrossingConfig, crossing_scene
    from staf.evaluation.tracking import score_tracks
    from staf.inference.people import FramePeople
    from staf.inference.tracking import track_boxes

    frames, truth = crossing_scene(CrossingConfig(frames=90, seed=0, depth_gap=0.5))
    assert truth.visible[:, 0].min() == 1.0 and truth.visible[:, 1].min() < 0.5    # the far one is hidden a while
    detector = BlazePoseDetector(DetectorConfig())
    people = [FramePeople.from_people(detector(image)) for image in frames]
    tracks = track_boxes([found.boxes for found in people], keypoints=[found.keypoints for found in people])
    score = score_tracks({track.track_id: dict(zip(track.frames.tolist(), track.boxes)) for track in tracks},
                         truth.boxes, truth.visible)
    assert [len(track.frames) for track in tracks] == [90, 90]
    assert score.switches == 0 and score.recall >= 0.95 and score.false <= 3, score


def test_detector_settings_reach_the_detector():
    """``staf demo --detector-set KEY=VALUE`` (YAML values) → DemoConfig.detector_settings → the
    BlazePose detector's config, typed (a list becomes the tuple of tile sides), with the threads
    and landmark model of the other settings; a key those set is refused."""
    from staf.config import parse_key_values
    from staf.errors import InvalidInputError
    from staf.inference.detectors import make_detector
    from staf.inference.pipeline import DemoConfig

    settings = parse_key_values(["tile_every=0", "tile_scales=[1, 0.25]", "follow_step=1"], "--detector-set")
    config = DemoConfig(detector="blazepose-heavy", detector_threads=1, detector_settings=settings)
    made = make_detector(None, config.detector_config()).detector.config
    assert (made.tile_every, made.tile_scales, made.follow_step) == (0, (1.0, 0.25), 1.0)
    assert (made.threads, made.landmark_model, made.duplicate_oks) == (1, "heavy", DetectorConfig().duplicate_oks)
    with pytest.raises(InvalidInputError, match="landmark_model: staf sets it"):
        DemoConfig(detector_settings={"landmark_model": "full"})


class CountingDetector(BlazePoseDetector):
    """No models: ``people[frame]`` people are found in each frame (standing poses side by side);
    records the tile scales of each frame's tiled pass and the presence each landmark pass asked."""

    def __init__(self, config: DetectorConfig, people: list[int]) -> None:
        self.config, self.people, self.tiled, self.asked = config, people, {}, []
        self.reset()

    def detect_tiled(self, image, followed=(), scales=None):
        self.tiled[self.frame_index] = tuple(scales)
        return self.detect(image)

    def detect(self, image):
        return [Roi(100.0 + 300 * index, 300.0, 250.0) for index in range(self.people[self.frame_index])]

    def _regions(self, followed, detected):
        return detected

    def landmarks(self, image, roi, min_presence=None):
        self.asked.append(min_presence)
        keypoints = standing_pose(roi.cx, seed=int(roi.cx))
        return Person(box=body_box(keypoints[:, :2], 1.1, 0.0), keypoints=keypoints, score=0.99, roi=roi,
                      next_roi=roi)


def test_the_tiled_pass_runs_on_schedule_and_while_someone_is_missing():
    """All tile scales on frame 0 and every 15 frames; while fewer people are found than at some
    frame of the last 15, the largest scale alone every 5 frames (from frame 35 on, the one who
    went missing at 20 is forgotten); never with tile_every 0."""
    counts = [2] * 20 + [1] * 25 + [2] * 15                    # someone missing in frames 20–44
    detector = CountingDetector(DetectorConfig(), counts)
    image = np.zeros((400, 800, 3), np.uint8)
    for _ in counts:
        detector(image)
    full, largest = (1.0, 0.5), (1.0,)
    assert detector.tiled == {0: full, 15: full, 21: largest, 26: largest, 30: full, 45: full}
    quiet = CountingDetector(DetectorConfig(tile_every=0), counts)
    for _ in counts:
        quiet(image)
    assert quiet.tiled == {}


def test_a_small_wide_shape_is_no_person_and_an_unsure_piece_is_dropped():
    """``wide_min_height``: a pose in a box wider than tall and under a fifth of the frame high is
    dropped (a table's foot read as a person folded up); the same box a fifth high or more, or an
    upright one, stays. An unsure detection's person (``unsure_score``) lying mostly inside
    another's box is a piece of them; found from a sure detection, it stays (a child in front)."""
    detector = BlazePoseDetector.__new__(BlazePoseDetector)
    detector.config = DetectorConfig()
    wide_small = Person(box=np.array([0.0, 0, 90, 60]), keypoints=np.zeros((33, 3)), score=0.99)
    assert not detector._upright_or_large(wide_small, height=600)
    assert detector._upright_or_large(wide_small, height=300)
    assert detector._upright_or_large(Person(box=np.array([0.0, 0, 50, 60]), keypoints=np.zeros((33, 3)), score=0.99), 600)
    adult_roi, leg_roi = Roi(200.0, 300.0, 500.0), Roi(210.0, 420.0, 200.0)
    adult = Person(box=np.array([100.0, 50, 300, 550]), keypoints=np.zeros((33, 3)), score=0.99, roi=adult_roi)
    leg = Person(box=np.array([180.0, 300, 240, 540]), keypoints=np.zeros((33, 3)), score=0.99, roi=leg_roi)
    detector.unsure = {id(leg_roi)}
    assert detector._without_unsure_pieces([adult, leg]) == [adult]
    detector.unsure = set()
    assert detector._without_unsure_pieces([adult, leg]) == [adult, leg]


def test_unsure_detections_need_a_sure_landmark_model():
    """A region from an unsure detection is read with presence ≥ ``unsure_min_presence``, the
    others with the config's ``min_presence`` (None: the default)."""
    detector = CountingDetector(DetectorConfig(unsure_min_presence=0.97), [2, 2])
    image = np.zeros((400, 800, 3), np.uint8)
    original = detector.detect_tiled

    def one_unsure(image, followed=(), scales=None):
        rois = original(image, followed, scales)
        detector.unsure = {id(rois[1])}
        return rois

    detector.detect_tiled = one_unsure
    detector(image)
    assert detector.asked == [None, 0.97]


def test_tracking_score_keeps_only_last_frames_matches():
    """A track that matched person 1 long ago and person 0 in the last frame is kept for person 0
    only: the one-to-one matching holds (no negative false count), and person 1, matched to
    nobody, is a miss."""
    from staf.evaluation.tracking import score_tracks

    left, right = np.array([0.0, 0, 10, 20]), np.array([12.0, 0, 22, 20])
    truth = np.array([[left, right]] * 3)
    visible = np.ones((3, 2))
    middle = np.array([6.0, 0, 16, 20])
    truth[2] = [[5.0, 0, 15, 20], [7.0, 0, 17, 20]]                       # IoU 0.82 with both
    tracks = {7: {0: right, 1: left, 2: middle}}
    score = score_tracks(tracks, truth, visible)
    assert (score.found, score.people, score.false, score.switches) == (3, 6, 0, 0)
