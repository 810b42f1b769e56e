"""``staf demo``: a video in; people found, followed and recovered in 3D; an overlay and files out.

Stages (each with a progress bar, timed in the summary):

1. **read + detect**: frames of the video or image folder (:mod:`staf.inference.video`), people
   per frame from BlazePose (:mod:`staf.inference.blazepose`) or a box file (``--boxes``).
2. **track**: :func:`staf.inference.tracking.track_boxes`.
3. **recover**: a second pass over the frames cuts each track's crops with the checkpoint's crop
   rule; ``model.predict_sequence`` gives one body per frame; ``orig_cam`` (VIBE's convention)
   and a camera-space translation (CLIFF's rule, focal length ``--focal`` or the image diagonal).
4. **smooth** (optional): One-Euro filtering of the joint rotations on SO(3), of β and the camera.
5. **render**: a third pass draws the meshes over the frames into ``overlay.mp4`` (H.264).
6. **write**: ``staf_output.pkl``/``.npz``, per track ``track_ID.glb`` and ``track_ID.bvh``,
   ``--obj`` meshes, and ``staf_demo.json`` (settings, tracks, files, times).

Everything is written into ``OUT/.staf-demo.partial`` and moved into ``OUT`` once complete; an
``OUT`` that holds an earlier run's results is refused unless ``force`` is set, in which case
exactly the files that run listed are replaced.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.data.crops import CropRule, crop_antialiased, normalise
from staf.errors import InvalidInputError, StafError
from staf.geometry.cameras import (
    crop_cam_to_full_translation,
    crop_cam_to_orig_cam,
    crop_to_image_points,
    default_focal_length,
)
from staf.geometry.rotations import matrix_to_rot6d
from staf.inference.people import FramePeople, check_frames, read_boxes_file
from staf.inference.smoothing import OneEuroConfig, smooth_rotations, smooth_vectors
from staf.inference.tracking import Track, TrackerConfig, track_boxes
from staf.inference.video import VideoSource
from staf.models.base import MeshRecoveryModel, SequenceInput

MANIFEST = "staf_demo.json"
PARTIAL = ".staf-demo.partial"
#: files of a finished run (besides those the manifest lists) that make OUT "hold results"
RESULT_FILES = ("staf_output.pkl", "staf_output.npz", "overlay.mp4", MANIFEST)
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
        render: write ``overlay.mp4``; ``side_view`` adds a turned view beside it.
        obj: write one OBJ mesh per track and frame under ``meshes/``.
        precision: ``fp32`` or ``bf16``: the parts of the network that tolerate it under bfloat16
            autocast, the regressors in float32 (``MeshRecoveryModel.set_inference_precision``).
        detector_threads: CPU threads of the BlazePose interpreters.
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
    detector_threads: int = 2

    def __post_init__(self) -> None:
        if self.focal_length is not None and not (math.isfinite(self.focal_length) and self.focal_length > 0):
            raise InvalidInputError(f"--focal must be a positive number of pixels, got {self.focal_length}")
        if self.max_people is not None and self.max_people < 1:
            raise InvalidInputError(f"--max-people must be at least 1, got {self.max_people}")
        if self.min_track_length < 1:
            raise InvalidInputError(f"--min-track-length must be at least 1, got {self.min_track_length}")
        if self.precision not in PRECISIONS:
            raise InvalidInputError(f"--precision {self.precision}: choose one of {', '.join(PRECISIONS)}")
        if self.detector_threads < 1:
            raise InvalidInputError(f"detector threads must be at least 1, got {self.detector_threads}")
        OneEuroConfig(self.smooth_min_cutoff, self.smooth_beta)      # validates the smoothing settings

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

    def lines(self) -> list[str]:
        total = sum(self.seconds.values())
        stages = ", ".join(f"{name} {value:.1f} s" for name, value in self.seconds.items())
        people = ", ".join(f"#{t}: {n} frames" for t, n in self.tracks.items())
        return [f"{len(self.tracks)} track(s) over {self.frames} frames ({people}); people detected in "
                f"{self.detected_frames} frames",
                f"time {total:.1f} s ({total / max(self.frames, 1) * 1000:.0f} ms/frame): {stages}",
                f"wrote {len(self.files)} files: " + ", ".join(self.files[:8]) + (" …" if len(self.files) > 8 else "")]


# --------------------------------------------------------------------------- output folder


def prepare_output(out: Path, force: bool) -> Path:
    """Check ``out`` before any work; returns the empty staging folder inside it."""
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} is a file; give a folder")
    held = [name for name in RESULT_FILES if (out / name).exists()]
    if held and not force:
        raise InvalidInputError(f"--out {out} already holds results ({', '.join(held)}); pass --force to replace "
                                "them or choose another folder")
    staging = out / PARTIAL
    try:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    except OSError as exc:
        raise InvalidInputError(f"--out {out}: cannot write there ({exc.strerror})") from exc
    return staging


def publish(staging: Path, out: Path, files: list[str]) -> None:
    """Replace an earlier run's listed files by the new ones (manifest last)."""
    old = out / MANIFEST
    if old.exists():
        try:
            previous = json.loads(old.read_text()).get("files", [])
        except (OSError, ValueError):
            previous = []
        for name in previous:
            target = out / name
            if name not in files and target.is_file() and target.resolve().is_relative_to(out.resolve()):
                target.unlink()
    for name in sorted(files, key=lambda n: n == MANIFEST):
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / name).replace(target)
    shutil.rmtree(staging, ignore_errors=True)


# --------------------------------------------------------------------------- stages


def detect_people(source: VideoSource, boxes_path: str | Path | None, threads: int,
                  progress: bool) -> tuple[list[int], list[FramePeople]]:
    """Stage 1: the source's frame indices and the people in each frame."""
    given = read_boxes_file(boxes_path) if boxes_path is not None else None
    detector = None
    if given is None:
        from staf.inference.blazepose import BlazePoseDetector, DetectorConfig

        detector = BlazePoseDetector(DetectorConfig(threads=threads))
    indices, people = [], []
    with tqdm(total=source.expected_frames(), unit="frame", desc="read+detect", disable=not progress) as bar:
        for frame in source:
            indices.append(frame.index)
            if given is not None:
                people.append(FramePeople.from_boxes(given.get(frame.index, np.zeros((0, 4)))))
            else:
                people.append(FramePeople.from_people(detector(frame.image)))
            bar.update(1)
    if not indices:
        raise InvalidInputError(f"{source.path}: no frames between --start {source.start} s and --end "
                                f"{source.end if source.end is not None else 'the end'} (the video is "
                                f"{source.info.num_frames / source.info.fps:.2f} s long)")
    if given is not None:
        check_frames(given, indices, boxes_path)
    return indices, people


def track_keypoints(track: Track, people: list[FramePeople]) -> np.ndarray:
    """(N, 33, 3) the detector keypoints of a track's frames (NaN where interpolated)."""
    out = np.full((len(track.frames), 33, 3), np.nan)
    for row, (frame, box) in enumerate(zip(track.frames, track.boxes)):
        found = people[frame]
        if len(found.boxes):
            nearest = int(np.abs(found.boxes - box).sum(axis=1).argmin())
            if np.allclose(found.boxes[nearest], box):
                out[row] = found.keypoints[nearest]
    return out


def cut_crops(source: VideoSource, tracks: list[Track], crop_rule: CropRule, size: int,
              progress: bool) -> dict[int, np.ndarray]:
    """Stage 3a: the (N, size, size, 3) uint8 crops of every track (second pass over the frames)."""
    wanted: dict[int, list[tuple[int, int, np.ndarray]]] = {}
    for track in tracks:
        squares = crop_rule.squares(_centre_size(track.boxes))
        for row, (frame, square) in enumerate(zip(track.frames, squares)):
            wanted.setdefault(int(frame), []).append((track.track_id, row, square))
    crops = {track.track_id: np.zeros((len(track.frames), size, size, 3), np.uint8) for track in tracks}
    with tqdm(total=source.expected_frames(), unit="frame", desc="crop", disable=not progress) as bar:
        for position, frame in enumerate(source):
            for track_id, row, square in wanted.get(position, []):
                crops[track_id][row] = crop_antialiased(frame.image, square, size)
            bar.update(1)
    return crops


#: most frames of all tracks recovered in one call (bounds the memory of the crops)
FRAMES_PER_CALL = 512


def recover_tracks(model: MeshRecoveryModel, crops: list[np.ndarray], squares: list[np.ndarray],
                   image_size: tuple[int, int], focal: float, config: DemoConfig) -> list:
    """Stage 3b: tracks' uint8 crops (N_i, S, S, 3) and squares (N_i, 3) → their final
    :class:`BodyPrediction` (N_i leading), float32 on the CPU; tracks batched together
    (``model.predict_sequences``) up to :data:`FRAMES_PER_CALL` frames."""
    inputs = [SequenceInput(crops=normalise(images), boxes=torch.as_tensor(boxes, dtype=torch.float32),
                            image_size=torch.tensor([image_size], dtype=torch.float32).expand(len(images), 2),
                            focal_length=torch.full((len(images),), float(focal))).to(model.device)
              for images, boxes in zip(crops, squares)]
    model.set_inference_precision(config.precision)
    try:
        predictions = model.predict_sequences(inputs)
    finally:
        model.set_inference_precision("fp32")
    return [prediction.map(lambda tensor: tensor.float().cpu()) for prediction in predictions]


def track_groups(tracks: list[Track], limit: int = FRAMES_PER_CALL) -> list[list[Track]]:
    """Consecutive tracks in groups of at most ``limit`` frames (a longer track alone)."""
    groups: list[list[Track]] = []
    for track in tracks:
        if groups and sum(len(t.frames) for t in groups[-1]) + len(track.frames) <= limit:
            groups[-1].append(track)
        else:
            groups.append([track])
    return groups


def smooth_prediction(model: MeshRecoveryModel, prediction, fps: float, config: DemoConfig,
                      geometry: SequenceInput | None = None):
    """Stage 4: One-Euro filtered rotations (on SO(3)), β and camera → a new prediction
    (``geometry``: the frames' boxes, image size and focal length, for models whose camera needs them)."""
    settings = OneEuroConfig(config.smooth_min_cutoff, config.smooth_beta, fps=fps)
    rotmat = smooth_rotations(prediction.rotmat.double(), settings).float()
    betas = smooth_vectors(prediction.betas.double(), settings).float()
    cam = smooth_vectors(prediction.cam.double(), settings).float()
    device = model.device
    with torch.no_grad():
        smoothed = model.predict_body(matrix_to_rot6d(rotmat).reshape(len(rotmat), -1).to(device), betas.to(device),
                                      cam.to(device), geometry=None if geometry is None else geometry.to(device))
    return smoothed.map(lambda tensor: tensor.float().cpu())


def track_results(prediction, track: Track, frame_ids: list[int], keypoints: np.ndarray, squares: np.ndarray,
                  image_size: tuple[int, int], focal: float) -> dict[str, np.ndarray]:
    """The per-frame arrays of one track, as written to ``staf_output.pkl``."""
    width, height = image_size
    boxes = torch.as_tensor(squares, dtype=torch.float32)
    joint_set = "spin49" if "spin49" in prediction.joint_sets else None
    joints3d = prediction.joint_sets[joint_set] if joint_set else prediction.joints
    joints2d = prediction.joints2d[joint_set or "smpl24"]
    return {
        "pred_cam": prediction.cam.numpy(),
        "orig_cam": crop_cam_to_orig_cam(prediction.cam, boxes, width, height).numpy(),
        "verts": prediction.vertices.numpy(),
        "pose": prediction.pose.numpy(),
        "betas": prediction.betas.numpy(),
        "joints3d": joints3d.numpy(),
        "joints2d": crop_to_image_points(joints2d, boxes).numpy(),
        "bboxes": _centre_size(track.boxes).astype(np.float32),
        "frame_ids": np.asarray([frame_ids[f] for f in track.frames], np.int64),
        "transl": crop_cam_to_full_translation(prediction.cam, boxes, width, height, focal).numpy(),
        "focal_length": np.full(len(track.frames), focal, np.float32),
        "keypoints2d": keypoints.astype(np.float32),
        "detected": track.detected.astype(bool),
        "crop_boxes": squares.astype(np.float32),
        "rotmat": prediction.rotmat.numpy(),
    }


def _centre_size(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) x1 y1 x2 y2 → (N, 4) cx cy w h."""
    boxes = np.asarray(boxes, np.float64)
    return np.concatenate([(boxes[:, :2] + boxes[:, 2:]) / 2, boxes[:, 2:] - boxes[:, :2]], axis=1)


# --------------------------------------------------------------------------- the whole run


def run_demo(video: str | Path, out: str | Path, model: MeshRecoveryModel, crop_rule: CropRule,
             config: DemoConfig | None = None, boxes: str | Path | None = None, force: bool = False,
             progress: bool = True) -> DemoSummary:
    """Run every stage on ``video`` and write the results into ``out`` (see the module docstring)."""
    config = config or DemoConfig()
    out = Path(out)
    source = VideoSource(video, config.start, config.end, config.fps)       # refuses bad input before writing
    staging = prepare_output(out, force)
    try:
        summary = _run(source, out, staging, model, crop_rule, config, boxes, progress)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if out.exists() and not any(out.iterdir()):
            out.rmdir()
        raise
    return summary


def _run(source: VideoSource, out: Path, staging: Path, model: MeshRecoveryModel, crop_rule: CropRule,
         config: DemoConfig, boxes, progress: bool) -> DemoSummary:
    info = source.info
    image_size = (info.width, info.height)
    focal = config.focal_length or default_focal_length(*image_size)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    frame_ids, people = detect_people(source, boxes, config.detector_threads, progress)
    seconds["read+detect"], clock = time.perf_counter() - clock, time.perf_counter()
    tracks = track_boxes([p.boxes for p in people], config.tracker())
    if not tracks:
        found = sum(len(p.boxes) > 0 for p in people)
        raise StafError(f"{source.path}: no person followed for {config.min_track_length} frames or more "
                        f"(people found in {found} of {len(people)} frames); try a video where a person is "
                        "fully visible, lower --min-track-length, or give --boxes")
    seconds["track"], clock = time.perf_counter() - clock, time.perf_counter()

    crops = cut_crops(source, tracks, crop_rule, model.config.image_size, progress)
    seconds["crop"], clock = time.perf_counter() - clock, time.perf_counter()
    results, predictions = {}, {}
    for group in tqdm(track_groups(tracks), unit="batch", desc="recover", disable=not progress):
        squares = [crop_rule.squares(_centre_size(track.boxes)) for track in group]
        recovered = recover_tracks(model, [crops.pop(track.track_id) for track in group], squares, image_size,
                                   focal, config)
        for track, prediction, square in zip(group, recovered, squares):
            if config.smooth:
                geometry = SequenceInput(crops=None, boxes=torch.as_tensor(square, dtype=torch.float32),
                                         image_size=torch.tensor([image_size], dtype=torch.float32).expand(len(square), 2),
                                         focal_length=torch.full((len(square),), float(focal)))
                prediction = smooth_prediction(model, prediction, info.fps, config, geometry)
            if not torch.isfinite(prediction.vertices).all():
                raise StafError(f"track {track.track_id}: the model gave non-finite vertices; check the checkpoint")
            predictions[track.track_id] = prediction
            results[track.track_id] = track_results(prediction, track, frame_ids, track_keypoints(track, people),
                                                    square, image_size, focal)
    seconds["recover"], clock = time.perf_counter() - clock, time.perf_counter()

    files = _write_files(staging, model, results, predictions, info.fps, config, progress)
    seconds["write"], clock = time.perf_counter() - clock, time.perf_counter()
    if config.render:
        files.append(_render(source, staging, model, results, focal, config, progress))
        seconds["render"] = time.perf_counter() - clock
    video = {"path": str(source.path), "width": info.width, "height": info.height, "fps": info.fps,
             "rotation": info.rotation, "reader": info.reader, "focal_length": focal}
    summary = DemoSummary({t: len(r["frame_ids"]) for t, r in results.items()}, len(frame_ids),
                          files + [MANIFEST], seconds, video, sum(len(p.boxes) > 0 for p in people))
    _write_manifest(staging / MANIFEST, summary, config, crop_rule, model)
    publish(staging, out, summary.files)
    return summary


def _write_files(staging: Path, model: MeshRecoveryModel, results: dict, predictions: dict, fps: float,
                 config: DemoConfig, progress: bool) -> list[str]:
    from staf.inference.export import rest_joints_of, write_bvh, write_glb, write_results

    files = [path.name for path in write_results(staging, results)]
    body = model.body
    faces = body.faces.cpu().numpy()
    weights = body.weights.detach().cpu().numpy()
    for track_id, result in tqdm(results.items(), unit="track", desc="write", disable=not progress):
        betas = torch.as_tensor(result["betas"].mean(axis=0), device=body.v_template.device)
        rest = rest_joints_of(body, betas)
        with torch.no_grad():
            rest_mesh = body(torch.zeros(1, 72, dtype=body.v_template.dtype, device=betas.device),
                             betas[None].to(body.v_template.dtype)).vertices[0].cpu().numpy()
        rotations = result["rotmat"]
        write_glb(staging / f"track_{track_id}.glb", rest_mesh, faces, weights, rest, rotations, result["transl"], fps)
        write_bvh(staging / f"track_{track_id}.bvh", rest, rotations, result["transl"], fps)
        files += [f"track_{track_id}.glb", f"track_{track_id}.bvh"]
        if config.obj:
            files += _write_objs(staging, track_id, result, faces)
    return files


def _write_objs(staging: Path, track_id: int, result: dict, faces: np.ndarray) -> list[str]:
    import trimesh

    names = []
    for frame, vertices in zip(result["frame_ids"], result["verts"]):
        name = f"meshes/track_{track_id}/frame_{int(frame):06d}.obj"
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        trimesh.Trimesh(vertices, faces, process=False).export(staging / name)
        names.append(name)
    return names


def _render(source: VideoSource, staging: Path, model: MeshRecoveryModel, results: dict, focal: float,
            config: DemoConfig, progress: bool) -> str:
    from staf.inference.video import VideoWriter
    from staf.render.overlay import OverlayRenderer

    info = source.info
    by_frame: dict[int, list[tuple[int, int]]] = {}
    for track_id, result in results.items():
        for row, frame in enumerate(result["frame_ids"]):
            by_frame.setdefault(int(frame), []).append((track_id, row))
    camera = {track_id: _camera_vertices(model, result, focal, (info.width, info.height))
              for track_id, result in results.items()}
    most = max((len(v) for v in by_frame.values()), default=1)
    renderer = OverlayRenderer(info.width, info.height, model.body.faces.cpu().numpy(), model.body.num_vertices,
                               most, focal)
    width = info.width * (2 if config.side_view else 1)
    writer = VideoWriter(staging / "overlay.mp4", width, info.height, info.fps)
    try:
        with tqdm(total=source.expected_frames(), unit="frame", desc="render", disable=not progress) as bar:
            for frame in source:
                people = [(t, camera[t][row]) for t, row in by_frame.get(frame.index, [])]
                writer.write(renderer.draw(frame.image, people, config.side_view))
                bar.update(1)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        renderer.release()
    return "overlay.mp4"


def _camera_vertices(model: MeshRecoveryModel, result: dict, focal: float, image_size: tuple[int, int]) -> np.ndarray:
    """(N, V, 3) a track's vertices in the shared render camera (see :mod:`staf.render.overlay`),
    placed by the model's own camera rule (``model.camera_points``)."""
    principal = torch.tensor([(image_size[0] - 1) / 2, (image_size[1] - 1) / 2])
    return model.camera_points(torch.as_tensor(result["verts"]), torch.as_tensor(result["pred_cam"]),
                               torch.as_tensor(result["crop_boxes"]), focal, image_size, principal).numpy()


def _write_manifest(path: Path, summary: DemoSummary, config: DemoConfig, crop_rule: CropRule,
                    model: MeshRecoveryModel) -> None:
    from staf.io import atomic_write_text

    manifest = {"video": summary.video, "frames": summary.frames, "detected_frames": summary.detected_frames, "tracks": {str(k): v for k, v in summary.tracks.items()},
                "files": summary.files, "seconds": summary.seconds, "settings": dataclasses.asdict(config),
                "crop": dataclasses.asdict(crop_rule), "model": model.name, "body_model": model.body.name}
    atomic_write_text(path, json.dumps(manifest, indent=2))
