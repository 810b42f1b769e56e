"""``staf synth``: labelled synthetic videos of the open body model.

For each sequence (its own random stream, seeded by ``(seed, index)``): a motion, a body shape
β ~ N(0, 1) (clipped to ±2.5), a camera path, clothing, light, background and maybe an
occluder; every frame is rendered (RGB, mask) and cut into a square person crop with the same
rule as evaluation. Ground truth is geometry only (never read back from the renderer), so a seed
gives the same ground truth on any machine.

Layout of ``OUT``::

    seq_0000/frames/000000.jpg   full frames (size × size)
    seq_0000/crops/000000.jpg    person crops (crop_size × crop_size)
    seq_0000/gt.npz              that sequence's ground truth (written last, with a done marker)
    synth_{split}_db.pt          all finished sequences in the VIBE/TCMR/STAF db format
    preview.png                  contact sheet (with --preview)

Finished sequences are kept when a run is interrupted; running again completes the rest.

``synth_config.json`` is the folder's manifest: it records the settings and, under ``"files"``,
the top-level files a run wrote. The overwrite rule of :mod:`staf.outputs` applies: a file under
one of the names above is replaced only when staf wrote it (a sequence of a folder that has
staf's ``synth_config.json``, a database or preview that it lists); anything else under those
names is refused without ``force``; ``force`` never touches other names.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.body import BodyModel
from staf.body.joint_sets import SPIN49_LSP14
from staf.config import check_name, check_number
from staf.data.crops import DB_CROP_SCALE, crop, square_box
from staf.data.db import write_db
from staf.data.synthetic import appearance
from staf.data.synthetic.motion import FAMILIES, generate_motion
from staf.data.synthetic.scene import CAMERA_PATHS, EXTRA_CAMERA_PATHS, CameraPath, camera_path
from staf.errors import InvalidInputError, StafError
from staf.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from staf.io import atomic_write, atomic_write_text
from staf.outputs import OutputRule
from staf.ranges import FLAGS
from staf.render.renderer import Lighting


#: sub-streams of the optional scene elements (``SequenceWriter._drawn``); fixed, since
#: changing one changes every dataset made with that element
BACKGROUND_PEOPLE_STREAM, CLUTTER_STREAM, LIGHTING_STREAM, FLOOR_STREAM = 7, 11, 13, 17


@dataclasses.dataclass
class SynthConfig:
    """What ``staf synth`` generates (YAML presets in ``staf/configs``)."""

    sequences: int = 8
    frames: int = 64
    seed: int = 0
    size: int = 224
    crop_size: int = 224
    fps: float = 30.0
    split: str = "train"
    families: tuple[str, ...] = FAMILIES
    occluder_probability: float = 0.3
    motion_blur: bool = False
    backgrounds: str | None = None
    crop_scale: float = DB_CROP_SCALE
    jpeg_quality: int = 92
    background_people_probability: float = 0.0
    max_background_people: int = 2
    background_clutter_probability: float = 0.0
    lighting_variation_probability: float = 0.0
    floor_probability: float = 0.0
    camera_paths: tuple[str, ...] = CAMERA_PATHS

    def __post_init__(self) -> None:
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown:
            raise StafError(f"unknown motion families {unknown}; choose from {', '.join(FAMILIES)}")
        for name in ("sequences", "frames", "seed", "size", "crop_size"):     # the flags' ranges (staf.ranges)
            FLAGS[f"--{name.replace('_', '-')}"].check(name, getattr(self, name))
        check_number("fps", self.fps, 1, 1000)
        if self.backgrounds is not None:
            if not Path(self.backgrounds).is_dir():
                raise InvalidInputError(f"backgrounds {self.backgrounds}: not a folder")
            appearance.background_files(Path(self.backgrounds))
        check_number("occluder_probability", self.occluder_probability, 0, 1)
        check_number("crop_scale", self.crop_scale, 0, 10, low_open=True)
        check_number("jpeg_quality", self.jpeg_quality, 1, 100, integer=True)
        check_number("background_people_probability", self.background_people_probability, 0, 1)
        check_number("max_background_people", self.max_background_people, 1, 8, integer=True)
        check_number("background_clutter_probability", self.background_clutter_probability, 0, 1)
        check_number("lighting_variation_probability", self.lighting_variation_probability, 0, 1)
        check_number("floor_probability", self.floor_probability, 0, 1)
        check_name("split", self.split)
        self.camera_paths = tuple(self.camera_paths)
        known = CAMERA_PATHS + EXTRA_CAMERA_PATHS
        unknown_paths = [p for p in self.camera_paths if p not in known]
        if unknown_paths or not self.camera_paths:
            raise StafError(f"camera_paths {list(self.camera_paths)}: choose one or more of {', '.join(known)}")


@dataclasses.dataclass
class SequenceTruth:
    """Ground truth of one sequence (camera coordinates, metres, pixels)."""

    pose: np.ndarray            # (T, 72) θ with the global orientation in camera coordinates
    betas: np.ndarray           # (10,)
    transl: np.ndarray          # (T, 3) body(pose, β) + transl = camera-frame mesh
    vertices: np.ndarray        # (T, N, 3)
    joints_smpl24: np.ndarray   # (T, 24, 3)
    joints_spin49: np.ndarray   # (T, 49, 3)
    joints_h36m17: np.ndarray   # (T, 17, 3)
    camera: CameraPath
    family: str


def sequence_truth(config: SynthConfig, rng: np.random.Generator, body: BodyModel) -> tuple[SequenceTruth, dict]:
    """Motion, shape and camera of one sequence; also returns what appearance needs (rest mesh)."""
    motion = generate_motion(rng, config.frames, config.fps, str(rng.choice(config.families)))
    betas = np.clip(rng.normal(0, 1, body.num_betas), -2.5, 2.5)
    frames = config.frames
    beta_t = torch.tensor(betas)[None].expand(frames, -1)
    with torch.no_grad():
        rest = body(torch.zeros(1, 72, dtype=torch.float64), beta_t[:1])
        world = body(torch.tensor(motion.pose.reshape(frames, 72)), beta_t)
    floor = -float(rest.vertices[0, :, 1].min())
    translation = motion.translation + np.array([0.0, floor, 0.0])
    pelvis_world = world.joints[:, 0].numpy() + translation
    camera = camera_path(rng, config.size, pelvis_world, config.fps, allowed=config.camera_paths)
    rotation, shift = camera.rotations, camera.translations
    to_camera = lambda points: np.einsum("tij,t...j->t...i", rotation, points) + shift[:, None]  # noqa: E731
    root_joint = rest.joints[0, 0].numpy()
    root_world = torch.tensor(motion.pose[:, 0])
    root_camera = matrix_to_axis_angle(torch.tensor(rotation) @ axis_angle_to_matrix(root_world)).numpy()
    pose = motion.pose.copy()
    pose[:, 0] = root_camera
    transl = np.einsum("tij,tj->ti", rotation, root_joint + translation) + shift - root_joint
    truth = SequenceTruth(
        pose=pose.reshape(frames, 72), betas=betas, transl=transl,
        vertices=to_camera(world.vertices.numpy() + translation[:, None]),
        joints_smpl24=to_camera(world.joints.numpy() + translation[:, None]),
        joints_spin49=to_camera(world.joint_sets["spin49"].numpy() + translation[:, None]),
        joints_h36m17=to_camera(world.joint_sets["h36m17"].numpy() + translation[:, None]),
        camera=camera, family=motion.family,
    )
    return truth, {"rest_vertices": rest.vertices[0].numpy(), "rest_joints": rest.joints[0].numpy()}


def project(points: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """(…, 3) camera points → (…, 2) pixels (OpenCV pinhole, the renderer's camera)."""
    return points[..., :2] / points[..., 2:3] * np.diag(intrinsics)[:2] + intrinsics[:2, 2]


def crop_transform(box: np.ndarray, crop_size: int) -> tuple[float, np.ndarray]:
    """Scale and offset of :func:`staf.data.crops.crop`: ``crop_px = scale · px + offset``."""
    scale = crop_size / box[2]
    return scale, np.array([crop_size / 2 - scale * box[0], crop_size / 2 - scale * box[1]])


class SequenceWriter:
    """Renders and writes sequences; holds one renderer and body model (one per process)."""

    def __init__(self, config: SynthConfig, out: Path, body: BodyModel | None = None) -> None:
        from staf.render import MeshRenderer

        self.config, self.out = config, out
        self.body = body or BodyModel.load(dtype=torch.float64)
        self.renderer = MeshRenderer(config.size, config.size, self.body.faces.numpy())
        self.segmentation = self.body.part_segmentation.numpy()

    def write(self, index: int) -> dict[str, np.ndarray]:
        """Generate, render and write sequence ``index``; returns its db rows."""
        import cv2

        config = self.config
        rng = np.random.default_rng([config.seed, index])
        truth, rest = sequence_truth(config, rng, self.body)
        colours = appearance.person_colours(rng, rest["rest_vertices"], self.segmentation, rest["rest_joints"])
        light = self._lighting(index, appearance.random_lighting(rng))
        canvas = self._clutter(index, self._background(rng))
        intrinsics = truth.camera.intrinsics
        uv = project(truth.vertices, intrinsics)
        boxes = np.concatenate([(uv.min(1) + uv.max(1)) / 2, uv.max(1) - uv.min(1)], axis=1)
        occluder = None
        if rng.random() < config.occluder_probability:
            occluder = appearance.random_occluder(rng, config.frames, boxes[:, :2], float(boxes[:, 3].mean()))
        shifts = backdrop_shifts(truth.camera)
        others = self._background_people(index, truth)
        floor = self._floor(index, truth)
        folder = self.out / f"seq_{index:04d}"
        (folder / "frames").mkdir(parents=True, exist_ok=True)
        (folder / "crops").mkdir(parents=True, exist_ok=True)
        squares = square_box(boxes, config.crop_scale)
        joints2d = project(truth.joints_spin49, intrinsics)
        visible = np.ones(joints2d.shape[:2], dtype=bool)
        vertex_visible = np.ones(uv.shape[:2], dtype=bool)
        quality = [cv2.IMWRITE_JPEG_QUALITY, config.jpeg_quality]
        previous = None
        for frame in range(config.frames):
            background = self._window(canvas, shifts[frame])
            if floor is not None:
                background = floor.draw(background, intrinsics, truth.camera.rotations[frame],
                                        truth.camera.translations[frame])
            for vertices, person_colours in others:          # behind the person, farthest first
                other = self.renderer.render(vertices[frame], person_colours, intrinsics, None, light)
                background = np.where(other.mask[..., None], other.rgb, background)
            result = self.renderer.render(truth.vertices[frame], colours, intrinsics, None, light)
            rgb = np.where(result.mask[..., None], result.rgb, background)
            if config.motion_blur and previous is not None:
                rgb = _blur_person(rgb, result.mask, uv[frame] - uv[frame - 1])
            previous = rgb
            if occluder is not None:
                covered = occluder.mask(frame, config.size, config.size)
                rgb[covered] = occluder.colour
                visible[frame] &= ~_sample(covered, joints2d[frame])
                vertex_visible[frame] &= ~_sample(covered, uv[frame])
            visible[frame] &= _in_image(joints2d[frame], config.size)
            vertex_visible[frame] &= _in_image(uv[frame], config.size)
            person = crop(rgb, squares[frame], config.crop_size)
            _write_image(folder / "frames" / f"{frame:06d}.jpg", rgb, quality)
            _write_image(folder / "crops" / f"{frame:06d}.jpg", person, quality)
        rows = self._rows(index, truth, boxes, squares, joints2d, visible, vertex_visible)
        atomic_write(folder / "gt.npz", lambda handle: np.savez_compressed(handle, **rows))
        atomic_write_text(folder / "done", "complete\n")          # last: marks the sequence finished
        return rows

    def _rows(self, index, truth: SequenceTruth, boxes, squares, joints2d, visible, vertex_visible) -> dict:
        config, frames = self.config, self.config.frames
        scale, offset = zip(*(crop_transform(square, config.crop_size) for square in squares))
        crop2d = joints2d * np.array(scale)[:, None, None] + np.array(offset)[:, None]
        name = f"seq_{index:04d}"
        return {
            "vid_name": np.array([name] * frames), "frame_id": np.arange(frames),
            "img_name": np.array([f"{name}/frames/{f:06d}.jpg" for f in range(frames)]),
            "crop_name": np.array([f"{name}/crops/{f:06d}.jpg" for f in range(frames)]),
            "bbox": boxes, "crop_box": squares,
            "joints3D": truth.joints_spin49, "joints3D_smpl24": truth.joints_smpl24,
            "joints3D_h36m17": truth.joints_h36m17,
            "joints2D": np.concatenate([joints2d, visible[..., None].astype(np.float64)], axis=-1),
            "joints2D_crop": np.concatenate([crop2d, visible[..., None].astype(np.float64)], axis=-1),
            "pose": truth.pose, "shape": np.repeat(truth.betas[None], frames, axis=0), "transl": truth.transl,
            "cam_intrinsics": np.repeat(truth.camera.intrinsics[None], frames, axis=0),
            "cam_extrinsics": truth.camera.extrinsics, "fps": np.full(frames, config.fps),
            "valid": (vertex_visible.mean(1) >= 0.5).astype(np.float64),
            "family": np.array([truth.family] * frames), "camera_path": np.array([truth.camera.path] * frames),
        }

    def _background_people(self, index: int, truth: SequenceTruth) -> list[tuple[np.ndarray, np.ndarray]]:
        """Other people behind the person (``background_people_probability``): each a motion, shape
        and clothing of its own, standing on the same floor 0.5–3 m further from the camera and
        0.6–2 m to a side, seen by the same camera path; drawn under the person, so the labels are
        the person's alone. Returns (T, N, 3) camera-frame vertices and (N, 3) colours, farthest
        first. Their own random stream: the person's data are the same with or without them."""
        config = self.config
        rng = self._drawn(index, BACKGROUND_PEOPLE_STREAM, config.background_people_probability)
        if rng is None:
            return []
        rotation, shift = truth.camera.rotations, truth.camera.translations
        pelvis_world = rotation[0].T @ (truth.joints_smpl24[0, 0] - shift[0])
        right, forward = rotation[0][0], rotation[0][2]
        people = []
        for _ in range(int(rng.integers(1, config.max_background_people + 1))):
            motion = generate_motion(rng, config.frames, config.fps, str(rng.choice(config.families)))
            betas = torch.tensor(np.clip(rng.normal(0, 1, self.body.num_betas), -2.5, 2.5))[None]
            with torch.no_grad():
                rest = self.body(torch.zeros(1, 72, dtype=torch.float64), betas)
                world = self.body(torch.tensor(motion.pose.reshape(config.frames, 72)),
                                  betas.expand(config.frames, -1)).vertices.numpy()
            place = pelvis_world + right * rng.choice([-1, 1]) * rng.uniform(0.6, 2.0) + forward * rng.uniform(0.5, 3.0)
            place[1] = -float(rest.vertices[0, :, 1].min())                    # on the floor
            start = motion.translation[0] * np.array([1.0, 0.0, 1.0])
            points = world + (motion.translation - start + place)[:, None]
            vertices = np.einsum("tij,tnj->tni", rotation, points) + shift[:, None]
            colours = appearance.person_colours(rng, rest.vertices[0].numpy(), self.segmentation, rest.joints[0].numpy())
            people.append((vertices, colours))
        return sorted(people, key=lambda person: -float(person[0][..., 2].mean()))

    def _background(self, rng: np.random.Generator) -> np.ndarray:
        size = self.config.size * 2
        if self.config.backgrounds:
            return appearance.image_background(rng, Path(self.config.backgrounds), size, size)
        return appearance.procedural_background(rng, size, size)

    def _drawn(self, index: int, stream: int, probability: float) -> np.random.Generator | None:
        """The random stream of one optional scene element of sequence ``index`` if the sequence
        draws the element (with ``probability``), else None. Each element has a stream of its own:
        switching it on or off leaves every other draw of the sequence (the person, the labels) as
        it was."""
        rng = np.random.default_rng([self.config.seed, index, stream])
        return None if probability == 0 or rng.random() >= probability else rng

    def _clutter(self, index: int, canvas: np.ndarray) -> np.ndarray:
        """The backdrop with clutter (``background_clutter_probability``, :func:`appearance.add_clutter`)."""
        rng = self._drawn(index, CLUTTER_STREAM, self.config.background_clutter_probability)
        return canvas if rng is None else appearance.add_clutter(rng, canvas)

    def _floor(self, index: int, truth: SequenceTruth):
        """A textured floor under the people (``floor_probability``, :mod:`staf.data.synthetic.floor`),
        centred under the person's first pelvis, or None."""
        from staf.data.synthetic.floor import random_floor

        rng = self._drawn(index, FLOOR_STREAM, self.config.floor_probability)
        if rng is None:
            return None
        rotation, shift = truth.camera.rotations[0], truth.camera.translations[0]
        pelvis = rotation.T @ (truth.joints_smpl24[0, 0] - shift)
        return random_floor(rng, pelvis[[0, 2]])

    def _lighting(self, index: int, light: Lighting) -> Lighting:
        """``light``, or varied lighting (``lighting_variation_probability``,
        :func:`appearance.varied_lighting`) for the person and the people behind them alike."""
        rng = self._drawn(index, LIGHTING_STREAM, self.config.lighting_variation_probability)
        return light if rng is None else appearance.varied_lighting(rng)

    def _window(self, canvas: np.ndarray, shift: np.ndarray) -> np.ndarray:
        import cv2

        size = self.config.size
        start = (canvas.shape[1] - size) / 2 - shift[0], (canvas.shape[0] - size) / 2 - shift[1]
        affine = np.array([[1.0, 0.0, -start[0]], [0.0, 1.0, -start[1]]])
        return cv2.warpAffine(canvas, affine, (size, size), borderMode=cv2.BORDER_REFLECT)

    def close(self) -> None:
        self.renderer.release()


def backdrop_shifts(camera: CameraPath) -> np.ndarray:
    """(T, 2) pixel shift of the background as the camera turns (a distant backdrop): where a
    point far ahead of the first camera goes in the image. The camera's right is world
    forward × up, so a turn towards +x (yaw up) is a turn to the camera's left and the
    backdrop moves right (until 2026-12-03 it moved left, against the turn)."""
    forward = camera.rotations[:, 2]
    yaw = np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))
    pitch = np.arcsin(np.clip(forward[:, 1], -1, 1))
    focal = camera.intrinsics[0, 0]
    return np.stack([focal * np.tan(yaw - yaw[0]), focal * np.tan(pitch - pitch[0])], axis=1)


def _write_image(path: Path, rgb: np.ndarray, quality: list[int]) -> None:
    """A JPEG through a temporary name; a failed write is an error, never a missing frame."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]), quality)
    if not ok:
        raise StafError(f"could not encode {path.name} as JPEG")
    atomic_write(path, lambda handle: handle.write(encoded.tobytes()))


def _in_image(points: np.ndarray, size: int) -> np.ndarray:
    """(P,) whether (P, 2) pixel points lie inside a size × size image."""
    return np.all((points >= 0) & (points <= size - 1), axis=1)


def _sample(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """mask values at (P, 2) pixel points (False outside the image)."""
    height, width = mask.shape
    x, y = np.round(points[:, 0]).astype(int), np.round(points[:, 1]).astype(int)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    out = np.zeros(len(points), dtype=bool)
    out[inside] = mask[y[inside], x[inside]]
    return out


def _blur_person(rgb: np.ndarray, mask: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """Linear motion blur of the person along their mean image motion (half a frame of shutter)."""
    import cv2

    velocity = motion.mean(0) * 0.5
    length = int(round(float(np.hypot(*velocity))))
    if length < 2:
        return rgb
    kernel = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
    end = np.round(velocity / max(np.hypot(*velocity), 1e-6) * length).astype(int)
    cv2.line(kernel, (length - end[0], length - end[1]), (length + end[0], length + end[1]), 1.0, 1)
    kernel /= kernel.sum()
    blurred = cv2.filter2D(rgb, -1, kernel)
    soft = cv2.filter2D(mask.astype(np.float32), -1, kernel)[..., None]
    return (blurred * soft + rgb * (1 - soft)).astype(np.uint8)


MANIFEST = "synth_config.json"
#: every name (relative to OUT) that ``staf synth`` writes
SYNTH_OUTPUT = OutputRule(MANIFEST, ".staf-synth.partial",
                          re.compile(r"synth_config\.json|synth_[A-Za-z0-9_.-]+_db\.pt|preview\.png|"
                                     r"seq_\d{4,}/(frames|crops)/\d{6}\.jpg|seq_\d{4,}/(gt\.npz|done)"),
                          nested=("seq_*/*", "seq_*/*/*"))


def check_synth_folder(out: Path, force: bool) -> None:
    """Refuse, before any work, an ``out`` holding files under synth's names that staf did not write
    there (module docstring) unless ``force``."""
    present = SYNTH_OUTPUT.existing(out)
    made_by_staf = (out / MANIFEST).is_file()
    listed = SYNTH_OUTPUT.listed(out)
    foreign = [name for name in present if not made_by_staf or not (name.startswith("seq_") or name in listed
                                                                     or name == MANIFEST)]
    if foreign and not force:
        raise InvalidInputError(f"--out {out} holds files staf did not write there ({', '.join(foreign[:3])}"
                                f"{' …' if len(foreign) > 3 else ''}) under the names staf synth writes; pass "
                                "--force to replace them or choose another folder")


def _remove_unfinished(folder: Path) -> None:
    """Delete a sequence folder that has no done marker (only staf's own names are in it: the
    output rule refused the folder otherwise)."""
    import shutil

    if folder.is_dir() and not (folder / "done").is_file():
        shutil.rmtree(folder, ignore_errors=True)


def synthesize(config: SynthConfig, out: str | Path, progress: bool = True, preview: bool = False,
               force: bool = False) -> Path:
    """Generate every missing sequence, then write ``synth_{split}_db.pt``; returns its path."""
    out = Path(out)
    check_synth_folder(out, force)
    out.mkdir(parents=True, exist_ok=True)
    written = _check_same_config(config, out / MANIFEST)
    todo = [i for i in range(config.sequences) if not (out / f"seq_{i:04d}" / "done").is_file()]
    bar = tqdm(total=config.sequences * config.frames, unit="frame", desc="synth", disable=not progress,
               initial=(config.sequences - len(todo)) * config.frames)
    if todo:
        writer = SequenceWriter(config, out)
        try:
            for index in todo:
                try:
                    writer.write(index)
                except BaseException:                 # stopped or failed: no half-made sequence stays
                    _remove_unfinished(out / f"seq_{index:04d}")
                    raise
                bar.update(config.frames)
        finally:
            writer.close()
            bar.close()
    else:
        bar.close()
    database = out / f"synth_{config.split}_db.pt"
    write_db(database, merge_sequences(out, config.sequences))
    written.add(database.name)
    if preview:
        contact_sheet(out, database, out / "preview.png")
        written.add("preview.png")
    _record(out / MANIFEST, config, written)
    return database


def _record(path: Path, config: SynthConfig, files: set[str]) -> None:
    import json

    settings = json.loads(json.dumps(dataclasses.asdict(config)))
    atomic_write_text(path, json.dumps({**settings, "files": sorted(files)}, indent=2) + "\n")


def _check_same_config(config: SynthConfig, path: Path) -> set[str]:
    """Record the configuration; refuse to resume a folder made with another one. Returns the
    top-level files an earlier run listed (kept in the record)."""
    import json

    current = json.loads(json.dumps(dataclasses.asdict(config)))
    files: set[str] = set()
    if path.is_file():
        try:
            previous = json.loads(path.read_text())
        except (ValueError, RecursionError):
            raise StafError(f"{path} is damaged (not JSON); use a new --out folder") from None
        if not isinstance(previous, dict):
            raise StafError(f"{path} is not a staf synth record (a JSON object); use a new --out folder")
        files = SYNTH_OUTPUT.listed(path.parent)
        previous.pop("files", None)
        if previous.get("sequences", 0) > config.sequences:
            raise StafError(f"{path.parent} holds {previous['sequences']} sequences; --sequences {config.sequences} "
                            f"would shrink its ground truth to the first {config.sequences}: pass --sequences "
                            f"{previous['sequences']} (or more) or use a new --out folder")
        defaults = json.loads(json.dumps(dataclasses.asdict(SynthConfig())))
        previous = {**defaults, **previous}      # a setting added since the folder was made has its default
        keep = {k: v for k, v in previous.items() if k != "sequences"}
        if keep != {k: v for k, v in current.items() if k != "sequences"}:
            changed = sorted(k for k in current if k != "sequences" and previous.get(k) != current[k])
            raise StafError(f"{path.parent} holds sequences made with other settings ({', '.join(changed)}); "
                            "use a new --out folder, or the same settings to resume or extend it")
    _record(path, config, files)
    return files


def merge_sequences(out: Path, count: int) -> dict[str, np.ndarray]:
    """Concatenate the finished sequences' ground truth into one db dict."""
    parts = [dict(np.load(out / f"seq_{i:04d}" / "gt.npz")) for i in range(count)]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def contact_sheet(out: Path, database: Path, path: Path, tiles: int = 12, columns: int = 4, tile_size: int = 160) -> None:
    """A grid of crops (one per sequence, middle frame, ``tile_size`` pixels) with the LSP-14 joints
    drawn (green: visible, red: occluded or out of frame)."""
    import cv2

    from staf.data.db import read_db, split_sequences

    data = read_db(database)
    chosen = [seq.rows[len(seq.rows) // 2] for seq in split_sequences(data)[:tiles]]
    images = []
    for row in chosen:
        image = cv2.imread(str(out / str(data["crop_name"][row])))
        scale = tile_size / image.shape[0]
        image = cv2.resize(image, (tile_size, tile_size), interpolation=cv2.INTER_AREA)
        for x, y, visible in data["joints2D_crop"][row][SPIN49_LSP14]:
            centre = (int(round((x + 0.5) * scale - 0.5)), int(round((y + 0.5) * scale - 0.5)))
            cv2.circle(image, centre, 2, (0, 255, 0) if visible else (0, 0, 255), -1)
        cv2.putText(image, str(data["family"][row]), (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        images.append(image)
    while len(images) % columns:
        images.append(np.zeros_like(images[0]))
    rows = [np.concatenate(images[i : i + columns], axis=1) for i in range(0, len(images), columns)]
    ok, encoded = cv2.imencode(".png", np.concatenate(rows, axis=0))
    if not ok:
        raise StafError(f"could not encode {path.name} as PNG")
    atomic_write(path, lambda handle: handle.write(encoded.tobytes()))
