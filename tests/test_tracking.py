"""The tracker: IoU against hand cases, identities kept through crossings and missed detections,
gaps filled exactly, birth/death/length rules, bad boxes refused."""

from __future__ import annotations

import numpy as np
import pytest

from staf.errors import InvalidInputError
from staf.geometry.boxes import iou_matrix
from staf.inference.tracking import TrackerConfig, track_boxes


def box(cx, cy, w=40.0, h=100.0):
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def test_iou_hand_cases():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], float)
    expected = np.array([[50 / 150, 0, 1], [50 / 150, 0, 1]])
    assert np.allclose(iou_matrix(a, b), expected)


def test_one_person_with_missed_frames_is_one_track_with_the_gap_filled_exactly():
    truth = [box(100 + 5 * t, 200 + 2 * t) for t in range(40)]
    missing = set(range(12, 17))                     # 5 frames without a detection
    detections = [np.zeros((0, 4)) if t in missing else truth[t][None] for t in range(40)]
    tracks = track_boxes(detections)
    assert len(tracks) == 1
    track = tracks[0]
    assert track.frames.tolist() == list(range(40))
    assert np.abs(track.boxes - np.array(truth)).max() < 1e-9      # linear motion: interpolation is exact
    assert track.detected.tolist() == [t not in missing for t in range(40)]


def test_two_people_crossing_keep_their_identities():
    length = 40
    left = [box(100 + 8 * t, 200) for t in range(length)]           # walks right
    right = [box(420 - 8 * t, 210) for t in range(length)]          # walks left, crosses at t = 20
    rng = np.random.default_rng(0)
    detections = []
    for t in range(length):
        boxes = np.stack([left[t], right[t]]) + rng.normal(0, 1.0, (2, 4))
        detections.append(boxes[rng.permutation(2)])               # detector order means nothing
    tracks = track_boxes(detections)
    assert len(tracks) == 2
    for track in tracks:
        assert len(track.frames) == length
        errors = [np.abs(track.boxes - np.array(person)).max() for person in (left, right)]
        assert min(errors) < 5.0, "a track switched person"


def test_a_person_who_shrinks_behind_another_is_the_same_track_when_back():
    """The box narrows as the person walks behind someone (frames 10–19), then no detection for
    12 frames, then the whole person again further on: one track, not a new one. Extrapolating
    the narrowing would leave the predicted box a sliver that no longer overlaps the person."""
    widths = [60.0] * 10 + [60.0 - 3 * step for step in range(1, 11)]
    seen = {t: box(100 + 5 * t, 200, w=widths[t], h=200) for t in range(20)}
    seen.update({t: box(100 + 5 * t, 200, w=60, h=200) for t in range(32, 50)})
    detections = [seen[t][None] if t in seen else np.zeros((0, 4)) for t in range(50)]
    assert len(track_boxes(detections)) == 1


def test_birth_death_and_length_rules():
    person = [box(100 + 3 * t, 200)[None] for t in range(30)]
    flash = {7: box(500, 100)}                        # a one-frame false positive
    short = {t: box(300, 300) for t in range(20, 25)}  # 5 frames: shorter than min_length 9
    detections = []
    for t in range(30):
        extra = [b for source in (flash, short) for frame, b in source.items() if frame == t]
        detections.append(np.concatenate([person[t], np.array(extra).reshape(-1, 4)]))
    tracks = track_boxes(detections, TrackerConfig(min_length=9))
    assert [len(t.frames) for t in tracks] == [30]
    # a person who leaves for longer than max_age comes back as a new track
    gone = [person[t] if not 10 <= t < 20 else np.zeros((0, 4)) for t in range(30)]
    assert len(track_boxes(gone, TrackerConfig(max_age=5, min_length=5))) == 2
    assert len(track_boxes(gone, TrackerConfig(max_age=15, min_length=5))) == 1


def test_max_people_keeps_the_longest_tracks():
    a = [box(100 + 2 * t, 200) for t in range(30)]
    b = [box(400, 200 + t) for t in range(30)]
    detections = [np.stack([a[t], b[t]]) if t >= 10 else a[t][None] for t in range(30)]
    tracks = track_boxes(detections, TrackerConfig(max_people=1))
    assert len(tracks) == 1 and len(tracks[0].frames) == 30


@pytest.mark.parametrize("bad, message", [(np.array([[10, 10, 10, 50.0]]), "zero or negative size"),
                                          (np.array([[0, 0, np.nan, 5.0]]), "not finite")])
def test_bad_boxes_and_settings_are_refused(bad, message):
    with pytest.raises(InvalidInputError, match=message):
        track_boxes([np.array([[0, 0, 5, 5.0]]), bad])
    with pytest.raises(InvalidInputError, match="min_iou"):
        TrackerConfig(min_iou=1.5)
    with pytest.raises(InvalidInputError, match="max_people"):
        TrackerConfig(max_people=0)
