"""Stage ``camera`` (on unless ``--static-camera``): the camera's rotation and travel in every frame
from the video's background (:mod:`staf.geometry.camera_motion`, the people's boxes left out),
kept on each record for its frames (``camera_rotations``: first camera → the frame's camera;
``camera_travels`` in units of the camera's height, and the ground's normal, which the exporters
turn into metres with the bodies' feet). With
``--static-camera`` the stage does not run and the exporters take the camera as still. A video
whose background has too few corners to follow gets a warning and is taken as still where so."""

from __future__ import annotations

import logging

import numpy as np
from tqdm import tqdm

from staf.geometry.camera_motion import estimate_camera_rotations
from staf.geometry.cameras import pinhole_intrinsics
from staf.inference.record import PersonTrack


class CameraStage:
    name = "camera"

    def enabled(self, config) -> bool:
        return not getattr(config, "static_camera", False)

    def __call__(self, records: list[PersonTrack], context) -> list[PersonTrack]:
        width, height = context.image_size
        intrinsics = pinhole_intrinsics(context.focal, width, height)
        people: dict[int, list[np.ndarray]] = {}
        for record in records:
            for position, box in zip(record.frames, record.boxes):
                people.setdefault(int(position), []).append(box)
        frames = (frame.image for frame in context.source)
        with tqdm(total=context.source.expected_frames(), unit="frame", desc="camera", disable=not context.progress) as bar:
            def counted():
                for image in frames:
                    bar.update(1)
                    yield image
            boxes = _BoxesByPosition(people)
            found = estimate_camera_rotations(counted(), intrinsics, boxes)
        unknown = int((~found.known[1:]).sum())
        if unknown:
            logging.getLogger(__name__).warning(
                f"camera motion: too few background corners to follow in {unknown} of {len(found.known) - 1} frame "
                "steps; the camera is taken as still there (give --static-camera for a camera on a tripod)")
        if found.moved.any():
            logging.getLogger(__name__).info(f"camera motion: the camera travelled over the ground in "
                                             f"{int(found.moved.sum())} of {len(found.moved) - 1} frame steps")
        for record in records:
            positions = np.clip(record.frames, 0, len(found.rotations) - 1)
            record.camera_rotations, record.camera_travels = found.rotations[positions], found.travels[positions]
            record.ground_normal, record.camera_turns = found.ground_normal, found.turns[positions]
        return records


class _BoxesByPosition:
    """``boxes[position]``: the people's boxes in the frame at that position among those read."""

    def __init__(self, people: dict[int, list[np.ndarray]]) -> None:
        self.people = people

    def __getitem__(self, position: int) -> np.ndarray:
        return np.array(self.people.get(position, []), np.float64).reshape(-1, 4)
