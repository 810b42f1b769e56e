"""The stages of ``staf demo`` after tracking: an ordered list, each records in, records out.

A stage is an object with a ``name`` (its entry in the run's timings), ``enabled(config)``
(whether this run's :class:`~staf.inference.pipeline.DemoConfig` asks for it) and
``__call__(records, context)`` that returns the records (:class:`~staf.inference.record.PersonTrack`),
filled in further. :data:`STAGES` is the default order:

1. ``crop`` (:mod:`.crop`): the crop squares and geometry of every record, and its crops
   (a second pass over the frames);
2. ``recover`` (:mod:`.recover`): the model's body per frame;
3. ``smooth`` (:mod:`.smooth`, ``--smooth``): One-Euro filtering of the bodies;
4. ``refine`` (:mod:`.refine`, ``--refine``): the bodies fitted to the detector's keypoints and
   world landmarks;
5. ``camera`` (:mod:`.camera`, unless ``--static-camera``): the camera's rotation per frame from
   the background (a third pass over the frames).

Adding a stage is one file here with such a class and one entry in :data:`STAGES` (or a
``stages=`` list given to :func:`staf.inference.pipeline.run_demo`).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

from staf.data.crops import CropRule
from staf.inference.record import PersonTrack
from staf.models.base import MeshRecoveryModel


@dataclasses.dataclass
class StageContext:
    """What every stage may read: the model and its crop rule, the video (``source``: a
    :class:`~staf.inference.video.VideoSource` to read again), its frame size (W, H), frame rate
    and focal length, the run's settings, whether to show progress bars."""

    model: MeshRecoveryModel
    crop_rule: CropRule
    source: object
    image_size: tuple[int, int]
    fps: float
    focal: float
    config: object
    progress: bool = True


@runtime_checkable
class Stage(Protocol):
    name: str

    def enabled(self, config) -> bool:
        """Whether a run with these settings runs this stage."""

    def __call__(self, records: list[PersonTrack], context: StageContext) -> list[PersonTrack]:
        """The records, filled in further."""


from staf.inference.stages.crop import CropStage  # noqa: E402 — the stages import this module's types
from staf.inference.stages.recover import RecoverStage  # noqa: E402
from staf.inference.stages.refine import RefineStage  # noqa: E402
from staf.inference.stages.smooth import SmoothStage  # noqa: E402
from staf.inference.stages.camera import CameraStage  # noqa: E402

#: the default stages, in order
STAGES: tuple[Stage, ...] = (CropStage(), RecoverStage(), SmoothStage(), RefineStage(), CameraStage())
