"""What ``staf demo`` writes, by format: a registry of exporters chosen with ``--formats``.

An exporter has a ``name`` (its ``--formats`` entry) and one of two methods:

- ``write(folder, records, context) -> [file names]``: one file for the whole video
  (``pkl``: ``staf_output.pkl``, ``npz``: ``staf_output.npz``, VIBE's keys; ``trajectory``:
  ``trajectory.png``, every track's path over the ground seen from above);
- ``write_track(folder, record, context) -> [file names]``: files per person (``glb``:
  ``track_ID.glb``, ``bvh``: ``track_ID.bvh``, ``obj``: ``meshes/track_ID/frame_NNNNNN.obj``).

Whole-video exporters run first, then each track's, in registry order; names are relative to
``folder``. :func:`register_exporter` adds one (a class instance with those attributes), and
``--formats`` lists it from then on. The arrays of a track (:func:`track_arrays`) and its rest
body are computed once per run and shared by every exporter (:class:`ExportContext`).

``glb`` and ``bvh`` animate the bodies in the world of :mod:`staf.geometry.ground` (y up, the
ground at y = 0; the glb has the ground as a square under the track) unless the context's
``space`` is ``"camera"`` (OpenCV's first-camera axes: x right, y down, z forward).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.errors import InvalidInputError
from staf.geometry.cameras import CropCamera, crop_cam_to_orig_cam, crop_to_image_points
from staf.inference.formats import DEFAULT_FORMATS, DEPTH_WINDOW_SECONDS, EXPORT_SPACES
from staf.inference.record import PersonTrack
from staf.inference.stages.refine import network_arrays


@dataclasses.dataclass
class ExportContext:
    """What exporters read besides the records: the body model, the camera rule that places the
    bodies in the image, the frames' size (W, H), focal length and frame rate, where glb and bvh
    animate (``space``) and over how many seconds the world path's depth is steadied."""

    body: object
    camera: CropCamera
    image_size: tuple[int, int]
    focal: float
    fps: float
    space: str = "world"
    depth_window: float = DEPTH_WINDOW_SECONDS
    _arrays: dict = dataclasses.field(default_factory=dict, repr=False)
    ground_fitted: bool | None = None
    camera_height: float | None = None
    ground_disagreement: float | None = None
    camera_waver: float | None = None
    _rest: dict = dataclasses.field(default_factory=dict, repr=False)
    _root_joints: dict = dataclasses.field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.space not in EXPORT_SPACES:
            raise InvalidInputError(f"--export-space {self.space}: choose one of {', '.join(EXPORT_SPACES)}")

    def prepare(self, records: list[PersonTrack]) -> None:
        """Every record's arrays, and the world all of them share (:mod:`staf.geometry.ground`:
        the ground under the contact feet of every track, gravity along its normal)."""
        from staf.geometry.ground import SMPL_FEET, ground_and_world

        plain = {record.track_id: track_arrays(record, self.camera, self.image_size, self.focal) for record in records}
        steady = {record.track_id: steadied(plain[record.track_id]["transl"], self.fps, self.depth_window)
                  for record in records}
        check = travel_check(records, self.fps)
        self.ground_disagreement, self.camera_waver = check.disagreement, check.waver
        self.camera_height = camera_height(check.moving, steady) if check.believed else None
        first = {record.track_id: first_camera_bodies(record, plain[record.track_id], self.body, steady[record.track_id],
                                                      self.camera_height, self.fps) for record in records}
        if not records:
            return
        bodies = [first[record.track_id] for record in records]
        contacts, gravity, origin, fitted = ground_and_world([b.joints[:, list(SMPL_FEET)] for b in bodies], self.fps,
                                                             bodies[0].joints[0, 0])
        self.ground_fitted = fitted
        for record, body, touching in zip(records, bodies, contacts):
            self._arrays[record.track_id] = {**plain[record.track_id], **world_arrays(body, gravity, origin, touching)}
            self._root_joints[record.track_id] = body.root_joint

    def arrays(self, record: PersonTrack) -> dict[str, np.ndarray]:
        """The record's per-frame arrays as written to ``staf_output.pkl`` (:meth:`prepare`d once)."""
        if record.track_id not in self._arrays:
            self.prepare([record])
        return self._arrays[record.track_id]

    def motion(self, record: PersonTrack) -> tuple[np.ndarray, np.ndarray]:
        """The record's (N, 24, 3, 3) local joint rotations and (N, 3) translation in the
        context's ``space``: in the world, the root turned by ``world_rotmat`` and moved by
        ``world_transl``; in the camera, the network's (``rotmat``, ``transl``)."""
        arrays = self.arrays(record)
        if self.space == "camera":
            return arrays["rotmat"], arrays["transl"]
        rotations = np.array(arrays["rotmat"], np.float64)
        rotations[:, 0] = arrays["world_rotmat"]
        return rotations, arrays["world_transl"]

    def world_vertices(self, record: PersonTrack) -> np.ndarray:
        """(N, V, 3) the record's meshes in the world: ``camera_Rᵀ (verts − j) + j + world_transl``
        for the rest root joint j of each frame's β (the world root rotation is camera_Rᵀ times
        the network's, about j; :mod:`staf.geometry.world`)."""
        arrays = self.arrays(record)
        joint = self._root_joints[record.track_id][:, None]
        return (np.einsum("tji,tvj->tvi", arrays["camera_R"].astype(np.float64), arrays["verts"] - joint)
                + joint + arrays["world_transl"][:, None])

    def rest(self, record: PersonTrack) -> tuple[np.ndarray, np.ndarray]:
        """The record's rest mesh (V, 3) and joints (24, 3) at its mean β (computed once)."""
        from staf.inference.export import rest_body

        if record.track_id not in self._rest:
            betas = torch.as_tensor(record.prediction.betas.numpy().mean(axis=0), device=self.body.v_template.device)
            self._rest[record.track_id] = rest_body(self.body, betas)
        return self._rest[record.track_id]


def track_arrays(record: PersonTrack, camera: CropCamera, image_size: tuple[int, int], focal: float) -> dict[str, np.ndarray]:
    """The per-frame arrays of one record (VIBE's demo keys and staf's own; a refined record's
    network bodies under ``*_network`` keys). ``camera``: the model's rule, unless the record has its own."""
    prediction, width, height = record.prediction, *image_size
    model_camera, camera = camera, record.camera or camera
    boxes = record.geometry.boxes
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
        "bboxes": record.centre_size().astype(np.float32),
        "frame_ids": record.frame_ids.astype(np.int64),
        "transl": camera.translation(prediction.cam, boxes, image_size, focal).numpy(),
        "focal_length": np.full(len(record), focal, np.float32),
        "keypoints2d": record.keypoints.astype(np.float32),
        "detected": record.detected.astype(bool),
        "crop_boxes": record.squares.astype(np.float32),
        "rotmat": prediction.rotmat.numpy(),
        **(network_arrays(record, model_camera, image_size, focal) if record.network is not None else {}),
    }


#: the camera's travel is left out where the ground it was seen over tilts more than this many
#: degrees from the bodies' up (:func:`ground_disagreement`; in docs/demo.md the travels taken
#: were 1.5–9.8° off, a synthetic pan's spurious one 15.5°, openpose_video.avi's 10.3°)
MAX_GROUND_DISAGREEMENT = 10.0
#: the camera's travel is left out where its steadied path is longer than this many times its
#: start-to-end distance (:func:`travel_waver`; phalp_vid.mp4: 1.89, the synthetic tracking and
#: dolly shots of docs/demo.md whose travel was taken 1.00–1.13)
MAX_TRAVEL_WAVER = 1.5
#: the camera's path (its travel) is steadied over this many seconds (:func:`steady_travel`)
TRAVEL_WINDOW_SECONDS = 1.0
#: the glb's ground square reaches this far (metres) beyond the track's root path
GROUND_MARGIN = 1.0


@dataclasses.dataclass
class FirstCameraBodies:
    """One record's bodies in the first camera's frame, depth steadied: root rotations (N, 3, 3),
    translations (N, 3), rest root joints (N, 3), the 24 joints (N, 24, 3), the cameras
    ``x_camera = R x_first + c``: rotations R (N, 3, 3) and translations c (N, 3, metres)."""

    rotmat: np.ndarray
    transl: np.ndarray
    root_joint: np.ndarray
    joints: np.ndarray
    camera_rotations: np.ndarray
    camera_translations: np.ndarray


def steadied(transl: np.ndarray, fps: float, depth_window: float = DEPTH_WINDOW_SECONDS) -> np.ndarray:
    """(N, 3) camera-frame translations with the depth steadied over ``depth_window`` seconds
    (:func:`staf.geometry.world.steady_depth`; 0: as they are)."""
    from staf.geometry.world import steady_depth

    return steady_depth(transl, round(depth_window * fps) | 1)


@dataclasses.dataclass
class TravelCheck:
    """Whether the camera stage's travel is believed: the records it travelled in (``moving``),
    the ground's tilt from the bodies' up (degrees, :func:`ground_disagreement`) and how much the
    camera's path wavers (:func:`travel_waver`); None where nothing travelled."""

    moving: list
    disagreement: float | None
    waver: float | None

    @property
    def believed(self) -> bool:
        return (bool(self.moving) and self.disagreement <= MAX_GROUND_DISAGREEMENT
                and self.waver <= MAX_TRAVEL_WAVER)


def travel_check(records: list[PersonTrack], fps: float) -> TravelCheck:
    """The :class:`TravelCheck` of a video's records (the waver of the longest one's camera)."""
    moving = travelling(records)
    if not moving:
        return TravelCheck([], None, None)
    return TravelCheck(moving, ground_disagreement(moving), travel_waver(max(moving, key=len), fps))


def camera_height(moving: list[PersonTrack], steady: dict[int, np.ndarray]) -> float:
    """The camera's height over the ground (metres) that gives the camera stage's travels (in
    units of that height) their scale: in every frame the body's lowest point (its mesh, the
    sole of the foot that stands) along the ground's normal seen from that frame (``R_t n``),
    the median over all frames of the ``moving`` records (:func:`travelling`)."""
    heights = []
    for record in moving:
        normals = np.einsum("tij,j->ti", np.asarray(record.camera_rotations, np.float64), record.ground_normal)
        lowest = np.einsum("tvi,ti->tv", record.prediction.vertices.double().numpy(), normals).max(axis=1)
        heights.append(lowest + np.einsum("ti,ti->t", steady[record.track_id], normals))
    return float(np.median(np.concatenate(heights)))


def travelling(records: list[PersonTrack]) -> list[PersonTrack]:
    """The records whose camera the camera stage saw travel over the ground."""
    return [record for record in records if record.ground_normal is not None and record.camera_travels is not None
            and np.any(record.camera_travels)]


def travel_waver(record: PersonTrack, fps: float) -> float:
    """The camera's steadied path over its start-to-end distance (:func:`steady_travel`; 1 for a
    straight travel, large for one that only wavers: measured from frame pairs one at a time,
    a camera that turns on the spot can seem to sway)."""
    rotations = np.asarray(record.camera_rotations, np.float64)
    centres = -np.einsum("tji,tj->ti", rotations, steady_travel(rotations, np.asarray(record.camera_travels), fps))
    span = float(np.linalg.norm(centres[-1] - centres[0]))
    path = float(np.linalg.norm(np.diff(centres, axis=0), axis=1).sum())
    return path / span if span > 0 else float("inf")


def ground_disagreement(records: list[PersonTrack]) -> float:
    """Degrees between the ground's up seen in the background (−n) and the bodies' up: the
    mean over all frames of the root's +y axis taken into the first camera (people stand and
    walk upright on average; a runner leans along the run, not towards the camera)."""
    ups = [np.einsum("tji,tj->ti", np.asarray(record.camera_rotations, np.float64),
                     record.prediction.rotmat[:, 0, :, 1].double().numpy()) for record in records]
    up = np.concatenate(ups).mean(axis=0)
    cosine = -records[0].ground_normal @ up / np.linalg.norm(up)
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def steady_travel(rotations: np.ndarray, shifts: np.ndarray, fps: float) -> np.ndarray:
    """(N, 3) camera translations ``x_camera = R x_first + c`` with the camera's path steadied:
    its centres ``−Rᵀ c`` smoothed by a quadratic Savitzky–Golay filter over
    :data:`TRAVEL_WINDOW_SECONDS` (each frame pair's travel is measured alone and wavers)."""
    from scipy.signal import savgol_filter

    window = min(round(TRAVEL_WINDOW_SECONDS * fps) | 1, len(shifts) - (1 - len(shifts) % 2))
    if window < 5:
        return shifts
    centres = savgol_filter(-np.einsum("tji,tj->ti", rotations, shifts), window, 2, axis=0, mode="interp")
    return -np.einsum("tij,tj->ti", rotations, centres)


def first_camera_bodies(record: PersonTrack, arrays: dict[str, np.ndarray], body, steady: np.ndarray,
                        height: float | None = None, fps: float = 30.0) -> FirstCameraBodies:
    """The record's bodies taken into the first camera's frame (:func:`staf.geometry.world.bodies_in_world`)
    with their (N, 3) ``steady`` translations (:func:`steadied`); the cameras travel by the camera
    stage's travels times ``height`` (None: they stand still and turn by the rotation-only fit,
    ``camera_turns``), their path steadied over
    :data:`TRAVEL_WINDOW_SECONDS` (:func:`steady_travel`; ``fps`` the video's)."""
    from staf.geometry.world import bodies_in_world

    count = len(record)
    turns = record.camera_rotations if height is not None or record.camera_turns is None else record.camera_turns
    rotations = (np.broadcast_to(np.eye(3), (count, 3, 3)) if turns is None else np.asarray(turns, np.float64))
    shifts = (np.zeros((count, 3)) if height is None or record.camera_travels is None
              else steady_travel(rotations, height * np.asarray(record.camera_travels, np.float64), fps))
    template = body.v_template
    with torch.no_grad():
        rest = body(torch.zeros(count, 72, dtype=template.dtype, device=template.device),
                    torch.as_tensor(arrays["betas"]).to(template))
    root_joint = rest.joints[:, 0].double().cpu().numpy()
    rotmat, transl = bodies_in_world(arrays["rotmat"][:, 0], steady, root_joint, rotations, shifts)
    camera_joints = record.prediction.joints.double().numpy() + steady[:, None] - shifts[:, None]
    joints = np.einsum("tji,tnj->tni", rotations, camera_joints)
    return FirstCameraBodies(rotmat, transl, root_joint, joints, rotations, shifts)


def world_arrays(first: FirstCameraBodies, gravity: np.ndarray, origin: np.ndarray, contacts: np.ndarray
                 ) -> dict[str, np.ndarray]:
    """One record's bodies in the world with gravity (:mod:`staf.geometry.ground`: ``x_world =
    R_g (x_first_camera − origin)``): ``world_rotmat`` (N, 3, 3) the root's rotation and
    ``world_transl`` (N, 3), so that ``body(θ with world_rotmat as its root, β) + world_transl``
    is the body in the world; ``camera_R`` (N, 3, 3) and ``camera_t`` (N, 3) with ``x_camera =
    camera_R x_world + camera_t`` (a still camera with ``--static-camera``; ``camera_t`` holds
    the camera's travel where the camera stage saw the ground move); ``contacts`` (N, 4) left and right ankle and foot on the ground."""
    from staf.geometry.world import bodies_in_world

    count = len(first.transl)
    rotmat, transl = bodies_in_world(first.rotmat, first.transl, first.root_joint,
                                     np.broadcast_to(gravity.T, (count, 3, 3)), np.broadcast_to(origin, (count, 3)))
    camera_rotation = np.einsum("tij,kj->tik", first.camera_rotations, gravity)
    camera_shift = np.einsum("tij,j->ti", first.camera_rotations, origin) + first.camera_translations
    return {"camera_R": camera_rotation.astype(np.float32), "camera_t": camera_shift.astype(np.float32),
            "world_rotmat": rotmat.astype(np.float32), "world_transl": transl.astype(np.float32),
            "contacts": np.asarray(contacts, bool)}


class PklExporter:
    name = "pkl"

    def write(self, folder: Path, records: list[PersonTrack], context: ExportContext) -> list[str]:
        from staf.inference.export import write_pkl

        write_pkl(folder / "staf_output.pkl", {record.track_id: context.arrays(record) for record in records})
        return ["staf_output.pkl"]


class NpzExporter:
    name = "npz"

    def write(self, folder: Path, records: list[PersonTrack], context: ExportContext) -> list[str]:
        from staf.inference.export import write_npz

        write_npz(folder / "staf_output.npz", {record.track_id: context.arrays(record) for record in records})
        return ["staf_output.npz"]


class TrajectoryExporter:
    """``trajectory.png``: every track's pelvis path over the ground seen from above, with the
    first camera (:func:`staf.render.trajectory.plot_trajectories`)."""

    name = "trajectory"

    def write(self, folder: Path, records: list[PersonTrack], context: ExportContext) -> list[str]:
        from staf.render.trajectory import plot_trajectories

        paths = {record.track_id: context.arrays(record)["world_transl"] + context.rest(record)[1][0]
                 for record in records}
        camera = None
        if records:
            first = context.arrays(records[0])
            camera = (camera_centres(first["camera_R"][:1], first["camera_t"][:1])[0], first["camera_R"][0][2])
        ground = "the ground fitted to the feet" if context.ground_fitted else "the ground under the first camera's up"
        plot_trajectories(folder / "trajectory.png", paths, camera, f"top view; {ground}")
        return ["trajectory.png"]


def camera_centres(camera_rotation: np.ndarray, camera_shift: np.ndarray) -> np.ndarray:
    """(N, 3, 3) R and (N, 3) t of ``x_camera = R x_world + t`` → (N, 3) the camera's centre in
    the world, −Rᵀ t (its view direction, +z of the camera, is R's third row)."""
    return -np.einsum("tji,tj->ti", np.asarray(camera_rotation, np.float64), np.asarray(camera_shift, np.float64))


class GlbExporter:
    name = "glb"

    def write_track(self, folder: Path, record: PersonTrack, context: ExportContext) -> list[str]:
        from staf.inference.export import write_glb

        vertices, joints = context.rest(record)
        rotations, translation = context.motion(record)
        name = f"track_{record.track_id}.glb"
        ground = None
        if context.space == "world":
            path = (joints[0] + translation)[:, [0, 2]]
            ground = (*(path.min(axis=0) - GROUND_MARGIN), *(path.max(axis=0) + GROUND_MARGIN))
        write_glb(folder / name, vertices, context.body.faces.cpu().numpy(), context.body.weights.detach().cpu().numpy(),
                  joints, rotations, translation, context.fps, ground)
        return [name]


class BvhExporter:
    name = "bvh"

    def write_track(self, folder: Path, record: PersonTrack, context: ExportContext) -> list[str]:
        from staf.inference.export import write_bvh

        rotations, translation = context.motion(record)
        name = f"track_{record.track_id}.bvh"
        write_bvh(folder / name, context.rest(record)[1], rotations, translation, context.fps)
        return [name]


class ObjExporter:
    name = "obj"

    def write_track(self, folder: Path, record: PersonTrack, context: ExportContext) -> list[str]:
        import trimesh

        faces, names = context.body.faces.cpu().numpy(), []
        for frame, vertices in zip(record.frame_ids, record.prediction.vertices.numpy()):
            name = f"meshes/track_{record.track_id}/frame_{int(frame):06d}.obj"
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            trimesh.Trimesh(vertices, faces, process=False).export(folder / name)
            names.append(name)
        return names


EXPORTERS: dict[str, object] = {}


def register_exporter(exporter) -> object:
    """Add an exporter (an object with ``name`` and ``write`` or ``write_track``) to the registry."""
    if not (hasattr(exporter, "write") or hasattr(exporter, "write_track")):
        raise TypeError(f"exporter {exporter!r} has neither write(folder, records, context) nor "
                        "write_track(folder, record, context)")
    EXPORTERS[exporter.name] = exporter
    return exporter


for _exporter in (PklExporter(), NpzExporter(), GlbExporter(), BvhExporter(), TrajectoryExporter(), ObjExporter()):
    register_exporter(_exporter)


def format_names() -> list[str]:
    """Every registered format, in registry order."""
    return list(EXPORTERS)


def parse_formats(text: str | None, obj: bool = False) -> tuple[str, ...]:
    """``--formats pkl,glb`` (None: :data:`DEFAULT_FORMATS`; ``obj`` adds ``obj``, the ``--obj``
    flag) → the chosen names in registry order; an unknown name is refused."""
    names = [name.strip() for name in text.split(",") if name.strip()] if text is not None else list(DEFAULT_FORMATS)
    unknown = [name for name in names if name not in EXPORTERS]
    if unknown or (text is not None and not names):
        raise InvalidInputError(f"--formats {text}: {'unknown ' + ', '.join(unknown) if unknown else 'no format'}; "
                                f"choose from {', '.join(EXPORTERS)} (comma-separated)")
    chosen = set(names) | ({"obj"} if obj else set())
    return tuple(name for name in EXPORTERS if name in chosen)


def export(folder: Path, records: list[PersonTrack], formats: tuple[str, ...], context: ExportContext,
           progress: bool = True) -> list[str]:
    """Write ``formats`` for ``records`` into ``folder``; the file names written, in order."""
    chosen = [EXPORTERS[name] for name in formats]
    context.prepare(records)
    files: list[str] = []
    for exporter in chosen:
        if hasattr(exporter, "write"):
            files += exporter.write(folder, records, context)
    per_track = [exporter for exporter in chosen if not hasattr(exporter, "write")]
    for record in tqdm(records, unit="track", desc="write", disable=not progress):
        for exporter in per_track:
            files += exporter.write_track(folder, record, context)
    return files
