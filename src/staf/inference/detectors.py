"""Where the people of each frame come from: the :class:`Detector` protocol and its two
implementations, BlazePose (:mod:`staf.inference.blazepose`) and a user's box file (``--boxes``).

A detector is called once per frame, in order, with the frame read from the source
(:class:`staf.inference.video.Frame`: its ``index`` and ``image``) and returns that frame's
:class:`~staf.inference.people.FramePeople`: boxes, image keypoints with visibility, metric world
landmarks, scores (and masks where asked). After the last frame, :meth:`Detector.finish` gets
every frame index read, to refuse input that fits none of them.

Another detector is one class with these two methods, passed to
:func:`staf.inference.pipeline.run_demo` as ``detector=``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from staf.inference.people import FramePeople, check_frames, read_boxes_file


@runtime_checkable
class Detector(Protocol):
    """Frame → the people in it (see the module docstring)."""

    def __call__(self, frame) -> FramePeople:
        """People in ``frame`` (with ``index`` and ``image`` (H, W, 3) uint8 RGB)."""

    def finish(self, frame_indices: list[int]) -> None:
        """Called once after the last frame with the indices of all frames read."""


class BlazePose:
    """BlazePose's detector and landmark models (multi-person, following people between frames)."""

    def __init__(self, config=None, masks: bool = False) -> None:
        """``config``: a :class:`~staf.inference.blazepose.DetectorConfig` (default: its
        defaults); ``masks``: keep each person's segmentation mask too."""
        import dataclasses

        from staf.inference.blazepose import BlazePoseDetector, DetectorConfig

        config = config or DetectorConfig()
        self.detector = BlazePoseDetector(dataclasses.replace(config, masks=True) if masks else config)

    def __call__(self, frame) -> FramePeople:
        return FramePeople.from_people(self.detector(frame.image))

    def finish(self, frame_indices: list[int]) -> None:
        self.detector.reset()


class BoxFile:
    """A user's per-frame boxes (``--boxes``, JSON or CSV: :mod:`staf.inference.people`); no
    keypoints (NaN), score 1."""

    def __init__(self, path: str | Path, image_size: tuple[int, int] | None = None) -> None:
        self.path = path
        self.boxes = read_boxes_file(path, image_size)

    def __call__(self, frame) -> FramePeople:
        return FramePeople.from_boxes(self.boxes.get(frame.index, np.zeros((0, 4))))

    def finish(self, frame_indices: list[int]) -> None:
        check_frames(self.boxes, frame_indices, self.path)


#: ``staf demo --detector`` names → BlazePose's landmark model (:data:`~staf.inference.blazepose.LANDMARK_FILES`)
DETECTORS = {"blazepose": "full", "blazepose-heavy": "heavy"}


def make_detector(boxes: str | Path | None, config=None, image_size: tuple[int, int] | None = None) -> Detector:
    """The box file when ``boxes`` is given (checked against the (W, H) ``image_size`` when
    given), else BlazePose with ``config`` (a :class:`~staf.inference.blazepose.DetectorConfig`:
    ``DemoConfig.detector_config``)."""
    return BoxFile(boxes, image_size) if boxes is not None else BlazePose(config)
