"""One person through the stages of ``staf demo``: :class:`PersonTrack`.

The tracker makes a record per person (frames, detector boxes, the detector's full output per
frame); the stages (:mod:`staf.inference.stages`) add to it: the crop squares and the model's
geometry input, the crops, the prediction. The exporters (:mod:`staf.inference.exporters`) and
the overlay read it. Torch tensors stay torch (CPU, float32) until the exporters.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from staf.data.crops import CropRule
from staf.geometry.boxes import corners_to_centre_size
from staf.geometry.cameras import CropCamera
from staf.inference.people import NUM_KEYPOINTS, FramePeople
from staf.inference.tracking import Track
from staf.models.base import BodyPrediction, SequenceInput


@dataclasses.dataclass
class PersonTrack:
    """Everything about one person, N frames.

    Attributes:
        track_id: the tracker's identity.
        frames: (N,) positions of the track's frames among the frames read.
        frame_ids: (N,) the source's frame indices of those frames.
        boxes: (N, 4) x1 y1 x2 y2 detector boxes (interpolated where ``detected`` is False).
        detected: (N,) False where the box was interpolated across a gap.
        keypoints: (N, 33, 3) the detector's image keypoints x, y, visibility (NaN where
            interpolated or from a box file).
        world_landmarks: (N, 33, 3) the detector's metric landmarks, metres (NaN likewise).
        scores: (N,) the detector's presence (NaN where interpolated).
        masks: per frame the detector's :class:`~staf.inference.blazepose.PersonMask`, or None (not asked or
            interpolated); None when no frame has one.
        squares: (N, 3) the crop squares cx cy side (the model's crop rule), set by the crop stage.
        geometry: the model's per-frame geometry input (boxes (N, 3), image size (N, 2), focal
            length (N,)), set by the crop stage.
        crops: (N, S, S, 3) uint8 crops, held between the crop and recover stages.
        prediction: the body per frame (:class:`BodyPrediction`, N leading, float32 CPU).
        camera: the rule that places ``prediction`` in the image when it is not the model's own
            (the refine stage's bodies are placed by :class:`~staf.geometry.cameras.CliffCamera`).
        network: the network's own prediction once a later stage (refine) replaced it, else None.
        network_camera: the rule that places ``network`` (None: the model's).
        camera_rotations: (N, 3, 3) the camera's rotation in each frame, first camera → this
            frame's (the camera stage), or None (a still camera).
        camera_travels: (N, 3) the camera's travel in each frame, in units of its height over the
            ground (``x_camera = R x_first + h · travel``; the camera stage), or None.
        ground_normal: (3,) the ground's normal (towards the ground) in the first camera, seen
            from the background by the camera stage where the camera travelled (the same for
            every record of a video), or None.
        camera_turns: (N, 3, 3) the rotations by the rotation-only fit (the camera stage), used
            where the exporters do not believe the travel, or None.
    """

    track_id: int
    frames: np.ndarray
    frame_ids: np.ndarray
    boxes: np.ndarray
    detected: np.ndarray
    keypoints: np.ndarray
    world_landmarks: np.ndarray
    scores: np.ndarray
    masks: list | None = None
    squares: np.ndarray | None = None
    geometry: SequenceInput | None = None
    crops: np.ndarray | None = None
    prediction: BodyPrediction | None = None
    camera: CropCamera | None = None
    network: BodyPrediction | None = None
    network_camera: CropCamera | None = None
    camera_rotations: np.ndarray | None = None
    camera_travels: np.ndarray | None = None
    ground_normal: np.ndarray | None = None
    camera_turns: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @staticmethod
    def from_track(track: Track, people: list[FramePeople], frame_ids: list[int]) -> "PersonTrack":
        """The record of a tracker's track: the detector's output of each detected frame is taken
        by the detection index the tracker kept (nothing is matched again)."""
        count = len(track.frames)
        keypoints = np.full((count, NUM_KEYPOINTS, 3), np.nan)
        world = np.full((count, NUM_KEYPOINTS, 3), np.nan)
        scores = np.full(count, np.nan)
        masks: list = [None] * count
        for row, (frame, detection) in enumerate(zip(track.frames, track.detections)):
            if detection >= 0:
                found = people[frame]
                keypoints[row], world[row], scores[row] = (found.keypoints[detection],
                                                           found.world_landmarks[detection], found.scores[detection])
                if found.masks is not None:
                    masks[row] = found.masks[detection]
        return PersonTrack(track.track_id, np.asarray(track.frames), np.asarray([frame_ids[f] for f in track.frames],
                                                                                  np.int64),
                           np.asarray(track.boxes, np.float64), np.asarray(track.detected, bool), keypoints, world,
                           scores, masks if any(mask is not None for mask in masks) else None)

    def centre_size(self) -> np.ndarray:
        """(N, 4) the boxes as cx cy w h."""
        return corners_to_centre_size(self.boxes)

    def set_geometry(self, crop_rule: CropRule, image_size: tuple[int, int], focal: float) -> None:
        """The crop squares by ``crop_rule`` and the model's geometry input (one place for both)."""
        self.squares = crop_rule.squares(self.centre_size())
        count = len(self.squares)
        self.geometry = SequenceInput(crops=None, boxes=torch.as_tensor(self.squares, dtype=torch.float32),
                                      image_size=torch.tensor([image_size], dtype=torch.float32).expand(count, 2),
                                      focal_length=torch.full((count,), float(focal)))
