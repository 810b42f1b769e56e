"""``staf demo``: a video in; people found, followed and recovered in 3D; an overlay and files out.

The run (each step with a progress bar, timed in the summary):

1. **read + detect**: frames of the video or image folder (:mod:`staf.inference.video`), the
   people of each frame from a :class:`~staf.inference.detectors.Detector` (BlazePose, or the
   ``--boxes`` file).
2. **track**: :func:`staf.inference.tracking.track_boxes`; each track becomes a
   :class:`~staf.inference.record.PersonTrack` that carries the detector's output of its frames
   (by the detection indices the tracker kept) and everything later stages add.
3. **stages** (:mod:`staf.inference.stages`, records in, records out): ``crop`` (the crop rule's
   squares, the model's geometry input, the crops: a second pass over the frames), ``recover``
   (``model.predict_sequences``), ``smooth`` (``--smooth``: One-Euro filtering on SO(3)).
4. **write**: the exporters chosen with ``--formats`` (:mod:`staf.inference.exporters`:
   ``staf_output.pkl``/``.npz``, ``track_ID.glb``, ``track_ID.bvh``, ``obj`` meshes); the
   camera-space translation by the model's camera (:class:`staf.geometry.cameras.CropCamera`,
   focal length ``--focal`` or the image diagonal).
5. **render**: a third pass draws the meshes over the frames into ``overlay.mp4`` (H.264,
   :mod:`staf.inference.overlay_video`).

Then ``staf_demo.json`` (settings, tracks, files, times); the output folder's rules are
:mod:`staf.inference.output`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import torch
from tqdm import tqdm

from staf.data.crops import CropRule
from staf.errors import InvalidInputError, StafError
from staf.geometry.cameras import default_focal_length
from staf.inference.detectors import DETECTORS, Detector, make_detector
from staf.inference.exporters import (DEFAULT_FORMATS, EXPORT_SPACES, MAX_GROUND_DISAGREEMENT, MAX_TRAVEL_WAVER,
                                     ExportContext, export, parse_formats)
from staf.inference.formats import DEPTH_WINDOW_SECONDS
from staf.inference.output import DEMO_OUTPUT, MANIFEST, publish, write_manifest
from staf.inference.people import FramePeople
from staf.inference.record import PersonTrack
from staf.inference.refine import RefineConfig
from staf.inference.smoothing import OneEuroConfig
from staf.inference.stages import STAGES, Stage, StageContext
from staf.inference.tracking import TrackerConfig, track_boxes
from staf.inference.video import VideoSource
from staf.models.base import MeshRecoveryModel
from staf.ranges import FLAGS, check_field_of_view

PRECISIONS = ("fp32", "bf16")


@dataclasses.dataclass
class DemoConfig:
    """Settings of :func:`run_demo` (the ``staf demo`` flags).

    Attributes:
        start, end: seconds of the video to process (``end`` None: to the end).
        fps: frame rate of an image folder.
        focal_length: full-image focal length in pixels (None: the image diagonal, CLIFF's rule).
        max_people: keep the longest tracks only (None: all).
        min_track_length: drop tracks shorter than this many frames.
        smooth: One-Euro smoothing (``smooth_min_cutoff`` Hz, ``smooth_beta``).
        render: write ``overlay.mp4``; ``side_view`` adds the world view beside it (the people in
            the world with gravity, from a still camera at the side, over the ground's grid).
        obj: write one OBJ mesh per track and frame under ``meshes/`` (adds ``obj`` to ``formats``).
        formats: the exporters to run (:mod:`staf.inference.exporters`), registry names.
        precision: ``fp32`` or ``bf16``: the parts of the network that tolerate it under bfloat16
            autocast, the regressors in float32 (``MeshRecoveryModel.set_inference_precision``).
        detector: ``blazepose`` or ``blazepose-heavy`` (:data:`~staf.inference.detectors.DETECTORS`:
            BlazePose with its full or its heavy landmark model).
        detector_threads: CPU threads of the BlazePose interpreters.
        detector_settings: other :class:`~staf.inference.blazepose.DetectorConfig` fields
            (``--detector-set KEY=VALUE``: the tiled pass, following, duplicates), checked here.
        refine: fit the bodies to the detector's keypoints and world landmarks (stage ``refine``,
            :mod:`staf.inference.refine`), with ``refine_settings`` (iterations and weights).
        static_camera: take the camera as still (skip the stage ``camera``, which finds its
            rotation from the background).
        export_space: where ``glb`` and ``bvh`` animate the bodies: ``world`` (gravity up, the
            ground at y = 0) or ``camera`` (the first camera's axes), :data:`EXPORT_SPACES`.
        depth_window: seconds over which the depth of the world path is steadied (0: not).
    """

    start: float = 0.0
    end: float | None = None
    fps: float = 30.0
    focal_length: float | None = None
    max_people: int | None = None
    min_track_length: int = 9
    smooth: bool = False
    smooth_min_cutoff: float = 1.0
    smooth_beta: float = 0.5
    render: bool = True
    side_view: bool = False
    obj: bool = False
    precision: str = "fp32"
    detector: str = "blazepose"
    detector_threads: int = 2
    detector_settings: dict = dataclasses.field(default_factory=dict)
    formats: tuple[str, ...] = DEFAULT_FORMATS
    refine: bool = True
    refine_settings: RefineConfig = dataclasses.field(default_factory=RefineConfig)
    static_camera: bool = False
    export_space: str = "world"
    depth_window: float = DEPTH_WINDOW_SECONDS

    def __post_init__(self) -> None:
        for flag, value in (("--focal", self.focal_length), ("--max-people", self.max_people),
                            ("--min-track-length", self.min_track_length), ("--smooth-min-cutoff", self.smooth_min_cutoff),
                            ("--smooth-beta", self.smooth_beta), ("--depth-window", self.depth_window)):
            if value is not None:
                FLAGS[flag].check(flag, value)                         # the flags' ranges (staf.ranges)
        if self.precision not in PRECISIONS:
            raise InvalidInputError(f"--precision {self.precision}: choose one of {', '.join(PRECISIONS)}")
        if self.detector not in DETECTORS:
            raise InvalidInputError(f"unknown --detector {self.detector!r}: choose one of {', '.join(DETECTORS)}")
        if self.detector_threads < 1:
            raise InvalidInputError(f"detector threads must be at least 1, got {self.detector_threads}")
        self.detector_config()                                          # refuses a bad --detector-set
        OneEuroConfig(self.smooth_min_cutoff, self.smooth_beta)      # validates the smoothing settings
        self.formats = parse_formats(",".join(self.formats), self.obj)
        if self.export_space not in EXPORT_SPACES:
            raise InvalidInputError(f"--export-space {self.export_space}: choose one of {', '.join(EXPORT_SPACES)}")

    def detector_config(self):
        """The BlazePose settings: ``detector_settings`` with the threads and landmark model."""
        from staf.inference.blazepose import detector_config

        return detector_config(self.detector_settings, threads=self.detector_threads,
                               landmark_model=DETECTORS[self.detector])

    def tracker(self) -> TrackerConfig:
        return TrackerConfig(min_length=self.min_track_length, max_people=self.max_people)


@dataclasses.dataclass
class DemoSummary:
    """What a run did: tracks (id → frames), frames read, frames where someone was detected,
    files written, seconds per stage."""

    tracks: dict[int, int]
    frames: int
    files: list[str]
    seconds: dict[str, float]
    video: dict
    detected_frames: int = 0
    world: dict = dataclasses.field(default_factory=dict)

    def lines(self) -> list[str]:
        total = sum(self.seconds.values())
        stages = ", ".join(f"{name} {value:.1f} s" for name, value in self.seconds.items())
        people = ", ".join(f"#{t}: {n} frames" for t, n in self.tracks.items())
        return [f"{len(self.tracks)} track(s) over {self.frames} frames ({people}); people detected in "
                f"{self.detected_frames} frames",
                f"time {total:.1f} s ({total / max(self.frames, 1) * 1000:.0f} ms/frame): {stages}",
                f"wrote {len(self.files)} files: " + ", ".join(self.files[:8]) + (" …" if len(self.files) > 8 else "")]


# --------------------------------------------------------------------------- the whole run


def detect_people(source: VideoSource, detector: Detector, progress: bool) -> tuple[list[int], list[FramePeople]]:
    """Step 1: the source's frame indices and the people the detector finds in each frame."""
    indices, people = [], []
    with tqdm(total=source.expected_frames(), unit="frame", desc="read+detect", disable=not progress) as bar:
        for frame in source:
            indices.append(frame.index)
            people.append(detector(frame))
            bar.update(1)
    if not indices:
        raise InvalidInputError(f"{source.path}: no frames between --start {source.start} s and --end "
                                f"{source.end if source.end is not None else 'the end'} (the video is "
                                f"{source.info.num_frames / source.info.fps:.2f} s long)")
    detector.finish(indices)
    expected = source.expected_frames()
    if source.info.reader != "images" and len(indices) < expected - 1:      # counts may be one off
        logging.getLogger(__name__).warning(
            f"{source.path}: read {len(indices)} of the {expected} frames the container declares"
            f"{' between --start and --end' if source.start or source.end is not None else ''}; the file may be "
            "truncated: the results cover the frames read")
    return indices, people


def run_demo(video: str | Path, out: str | Path, model: MeshRecoveryModel, crop_rule: CropRule,
             config: DemoConfig | None = None, boxes: str | Path | None = None, force: bool = False,
             progress: bool = True, detector: Detector | None = None,
             stages: list[Stage] | tuple[Stage, ...] = STAGES) -> DemoSummary:
    """Run every step on ``video`` and write the results into ``out`` (see the module docstring).

    ``detector``: where the people come from (default: the ``boxes`` file when given, else
    BlazePose); ``stages``: the stages after tracking, in order (default :data:`STAGES`)."""
    config = config or DemoConfig()
    out = Path(out)
    source = VideoSource(video, config.start, config.end, config.fps)       # refuses bad input before writing
    image_size = (source.info.width, source.info.height)
    if config.focal_length is not None:
        check_field_of_view(config.focal_length, *image_size)
    if boxes is not None and config.detector_settings:
        raise InvalidInputError("--detector-set sets BlazePose, which --boxes replaces: give one of them")
    detector = detector or make_detector(boxes, config.detector_config(), image_size)
    with DEMO_OUTPUT.staged(out, force, (Path(video),)) as staging:
        return _run(source, out, staging, model, crop_rule, config, detector, list(stages), progress)


def _run(source: VideoSource, out: Path, staging: Path, model: MeshRecoveryModel, crop_rule: CropRule,
         config: DemoConfig, detector: Detector, stages: list[Stage], progress: bool) -> DemoSummary:
    info = source.info
    image_size = (info.width, info.height)
    focal = config.focal_length or default_focal_length(*image_size)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    frame_ids, people = detect_people(source, detector, progress)
    seconds["read+detect"], clock = time.perf_counter() - clock, time.perf_counter()
    tracks = track_boxes([p.boxes for p in people], config.tracker(), [p.keypoints for p in people])
    if not tracks:
        found = sum(len(p.boxes) > 0 for p in people)
        raise StafError(f"{source.path}: no person followed for {config.min_track_length} frames or more "
                        f"(people found in {found} of {len(people)} frames); try a video where a person is "
                        "fully visible, lower --min-track-length, or give --boxes")
    records = [PersonTrack.from_track(track, people, frame_ids) for track in tracks]
    seconds["track"], clock = time.perf_counter() - clock, time.perf_counter()

    context = StageContext(model, crop_rule, source, image_size, info.fps, focal, config, progress)
    for stage in stages:
        if stage.enabled(config):
            records = stage(records, context)
            seconds[stage.name], clock = time.perf_counter() - clock, time.perf_counter()
    for record in records:
        if record.prediction is None or not torch.isfinite(record.prediction.vertices).all():
            raise StafError(f"track {record.track_id}: the model gave non-finite vertices; check the checkpoint")

    exports = ExportContext(model.body, model.camera, image_size, focal, info.fps, config.export_space,
                            config.depth_window)
    files = export(staging, records, config.formats, exports, progress)
    seconds["write"], clock = time.perf_counter() - clock, time.perf_counter()
    if config.render:
        from staf.inference.overlay_video import render_overlay

        files.append(render_overlay(source, staging, records, model.camera, model.body, focal,
                                    exports if config.side_view else None, progress))
        seconds["render"] = time.perf_counter() - clock
    video = {"path": str(source.path), "width": info.width, "height": info.height, "fps": info.fps,
             "rotation": info.rotation, "mirrored": info.mirrored, "reader": info.reader, "focal_length": focal,
             "declared_frames": source.expected_frames(), "frames_read": len(frame_ids)}
    summary = DemoSummary({record.track_id: len(record) for record in records}, len(frame_ids),
                          files + [MANIFEST], seconds, video, sum(len(p.boxes) > 0 for p in people),
                          {"ground": "fitted to the contact feet" if exports.ground_fitted else "the first camera's up",
                           "camera_rotation": "still (--static-camera)" if config.static_camera else "from the background",
                           "camera_travel": camera_travel(config, exports)})
    write_manifest(staging / MANIFEST, manifest(summary, config, crop_rule, model))
    publish(staging, out, summary.files)
    return summary


def camera_travel(config: DemoConfig, exports: ExportContext) -> str:
    """How the world took the camera's travel, for ``staf_demo.json``."""
    if config.static_camera:
        return "still (--static-camera)"
    if exports.ground_disagreement is None:
        return "none seen (the ground did not move in the background)"
    if exports.camera_waver > MAX_TRAVEL_WAVER:
        return (f"left out: the camera's path only wavers ({exports.camera_waver:.2f} times its start-to-end "
                f"distance, over {MAX_TRAVEL_WAVER})")
    if exports.camera_height is None:
        return (f"left out: the ground seen moving in the background tilts {exports.ground_disagreement:.1f}° from "
                f"the bodies' up (over {MAX_GROUND_DISAGREEMENT:.0f}°)")
    return (f"over the ground seen in the background ({exports.ground_disagreement:.1f}° from the bodies' up), scaled "
            f"by the camera's height from the feet: {exports.camera_height:.2f} m")


def manifest(summary: DemoSummary, config: DemoConfig, crop_rule: CropRule, model: MeshRecoveryModel) -> dict:
    """``staf_demo.json``: the video, frames, tracks, files, timings, how the world was set up
    (the ground fitted or the camera's up; the camera's rotation found or still), settings, crop
    rule, model."""
    return {"video": summary.video, "frames": summary.frames, "detected_frames": summary.detected_frames,
            "tracks": {str(k): v for k, v in summary.tracks.items()}, "files": summary.files,
            "seconds": summary.seconds, "world": summary.world, "settings": dataclasses.asdict(config),
            "crop": dataclasses.asdict(crop_rule),
            "model": model.name, "body_model": model.body.name}
