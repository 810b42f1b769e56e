"""Tracks against known people: detection recall, false people and identity switches.

The counts of CLEAR MOT (Bernardin and Stiefelhagen, "Evaluating Multiple Object Tracking
Performance: The CLEAR MOT Metrics", EURASIP JIVP 2008): in every frame the tracks' boxes are
matched one to one to the true people's boxes by the Hungarian algorithm on IoU, pairs below
``min_iou`` left unmatched; a person and track matched in the previous frame stay matched while
their IoU is at least ``min_iou`` (CLEAR MOT's rule: boxes that overlap while two people pass do
not count as a switch). A true person counts for recall only in frames where at least
``min_visible`` of them is seen. A match of a person to another track than the one that last
matched them is an identity switch (a swap of two people is two). A track box matched to nobody
is a false person (boxes that match a mostly hidden person are neither).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

from staf.geometry.boxes import iou_matrix


@dataclasses.dataclass
class TrackingScore:
    """found / people: matched over counted person-frames; false: unmatched track boxes;
    switches: identity switches; frames: frames scored; tracks: tracks given."""

    people: int
    found: int
    false: int
    switches: int
    frames: int
    tracks: int

    @property
    def recall(self) -> float:
        return self.found / self.people if self.people else float("nan")

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "recall": self.recall}


def score_tracks(track_boxes: dict[int, dict[int, np.ndarray]], truth_boxes: np.ndarray, visible: np.ndarray,
                 min_iou: float = 0.5, min_visible: float = 0.5) -> TrackingScore:
    """Score tracks against the truth.

    Args:
        track_boxes: track id → {frame index → (4,) box x1 y1 x2 y2}.
        truth_boxes: (T, P, 4) the P true people's boxes in each of T frames.
        visible: (T, P) the share of each person that is seen (0: absent).
    """
    frames, count = truth_boxes.shape[:2]
    score = TrackingScore(0, 0, 0, 0, frames, len(track_boxes))
    last_track = [None] * count                  # the track that matched each person last
    previous: dict[int, int] = {}                # person → track, matched in the previous frame
    for frame in range(frames):
        ids = [track for track, boxes in track_boxes.items() if frame in boxes]
        boxes = np.array([track_boxes[track][frame] for track in ids]).reshape(-1, 4)
        overlaps = iou_matrix(boxes, truth_boxes[frame]).reshape(len(ids), count)
        matched = {person: ids.index(track) for person, track in previous.items()
                   if track in ids and overlaps[ids.index(track), person] >= min_iou}
        free_rows = [row for row in range(len(ids)) if row not in matched.values()]
        free_people = [person for person in range(count) if person not in matched]
        rows, columns = linear_sum_assignment(-overlaps[np.ix_(free_rows, free_people)])
        matched.update({free_people[column]: free_rows[row] for row, column in zip(rows, columns)
                        if overlaps[free_rows[row], free_people[column]] >= min_iou})
        counted = visible[frame] >= min_visible
        score.people += int(counted.sum())
        score.found += sum(1 for person in matched if counted[person])
        score.false += len(ids) - len(matched)
        for person, row in matched.items():
            if last_track[person] is not None and last_track[person] != ids[row]:
                score.switches += 1
            last_track[person] = ids[row]
        previous = {person: ids[row] for person, row in matched.items()}
    return score
