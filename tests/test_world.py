"""Issue 32, part 2: bodies seen by a turning camera, put in the first camera's frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from staf.body import BodyModel
from staf.geometry.world import bodies_in_world


def test_world_bodies_match_a_float64_recomputation():
    """Five random bodies in five turned and shifted cameras: the body posed with the world root
    rotation and translated by the world translation is the camera-frame mesh taken back into
    the world, ``Rᵀ (x_cam − c)``, to 1e-7 m (float64, the body model run twice)."""
    rng = np.random.default_rng(32)
    body = BodyModel.load(dtype=torch.float64)
    count = 5
    pose = torch.tensor(rng.normal(0, 0.3, (count, 72)))
    betas = torch.tensor(rng.normal(0, 1, (count, body.num_betas)))
    transl = rng.normal(0, 1, (count, 3)) + [0, 0, 5]
    cameras = Rotation.random(count, random_state=1).as_matrix()
    shifts = rng.normal(0, 0.5, (count, 3))
    with torch.no_grad():
        posed = body(pose, betas)
        rest = body(torch.zeros(count, 72, dtype=torch.float64), betas)
    in_camera = posed.vertices.numpy() + transl[:, None]
    expected = np.einsum("tji,tnj->tni", cameras, in_camera - shifts[:, None])
    root = Rotation.from_rotvec(pose[:, :3].numpy()).as_matrix()
    world_rotmat, world_transl = bodies_in_world(root, transl, rest.joints[:, 0].numpy(), cameras, shifts)
    world_pose = pose.clone()
    world_pose[:, :3] = torch.tensor(Rotation.from_matrix(world_rotmat).as_rotvec())
    with torch.no_grad():
        again = body(world_pose, betas).vertices.numpy() + world_transl[:, None]
    assert np.abs(again - expected).max() < 1e-7                 # the rotation-vector round trip
    still_rotmat, still_transl = bodies_in_world(root, transl, rest.joints[:, 0].numpy(), np.broadcast_to(np.eye(3), (count, 3, 3)))
    assert np.allclose(still_rotmat, root) and np.allclose(still_transl, transl)


@pytest.mark.parametrize("static", [False, True])
def test_demo_writes_the_camera_and_the_world_bodies(tmp_path, static):
    """``staf demo`` on a rendered clip writes camera_R, camera_t, world_rotmat, world_transl and
    contacts per track, and they compose back: ``camera_R · world_rotmat`` is the root's rotation
    in the camera, ``camera_R (j + world_transl) + camera_t`` the root joint in the camera (its
    depth steadied); with --static-camera camera_R is the same in every frame."""
    import joblib

    from staf.cli import main
    from staf.data.synthetic import SynthConfig, synthesize
    from staf.geometry.world import steady_depth

    synthesize(SynthConfig(sequences=1, frames=12, size=160, seed=3, split="w"), tmp_path / "synth", progress=False)
    out = tmp_path / "out"
    argv = ["demo", str(tmp_path / "synth" / "seq_0000" / "frames"), "--out", str(out), "--quiet", "--mean-pose",
            "--no-render", "--no-refine", "--min-track-length", "3", "--formats", "pkl"]
    assert main(argv + (["--static-camera"] if static else [])) == 0
    tracks = joblib.load(out / "staf_output.pkl")
    assert tracks
    body = BodyModel.load(dtype=torch.float64)
    for track in tracks.values():
        count = len(track["frame_ids"])
        for key, shape in (("camera_R", (3, 3)), ("camera_t", (3,)), ("world_rotmat", (3, 3)), ("world_transl", (3,)),
                           ("contacts", (4,))):
            assert track[key].shape == (count, *shape)
        assert track["contacts"].dtype == bool
        rotations = track["camera_R"].astype(np.float64)
        assert np.allclose(np.einsum("tij,tkj->tik", rotations, rotations), np.eye(3), atol=1e-5)
        assert np.allclose(np.einsum("tij,tjk->tik", rotations, track["world_rotmat"]), track["rotmat"][:, 0], atol=1e-5)
        with torch.no_grad():
            joint = body(torch.zeros(count, 72, dtype=torch.float64), torch.tensor(track["betas"], dtype=torch.float64)
                         ).joints[:, 0].numpy()
        seen = np.einsum("tij,tj->ti", rotations, joint + track["world_transl"]) + track["camera_t"]
        steady = steady_depth(track["transl"].astype(np.float64), 61)            # 2 s at the folder's 30 fps
        assert np.allclose(seen, joint + steady, atol=1e-4)
        if static:
            assert np.allclose(rotations, rotations[:1], atol=1e-7)


def test_steady_depth_takes_the_swing_out_and_keeps_each_ray():
    """A walk across the view at 1.2 m/s, 6 m away, its depth swinging by ±10 % frame to frame
    (as CLIFF's per-frame depth does): steadied over 2 s the path is as long as the walk within
    10 % (raw: over twice), every translation stays on its ray through the camera, and a body
    approaching on a log-quadratic depth curve is left where it is (to 1e-9 m)."""
    from staf.geometry.world import steady_depth

    rng = np.random.default_rng(5)
    frames = 120
    t = np.arange(frames) / 30.0
    truth = np.stack([-1.0 + 1.2 * t, np.full(frames, 0.3), np.full(frames, 6.0)], 1)
    swung = truth * (1 + rng.uniform(-0.1, 0.1, frames))[:, None]
    steady = steady_depth(swung, 61)
    length = lambda path: np.linalg.norm(np.diff(path[:, [0, 2]], axis=0), axis=1).sum()  # noqa: E731
    walked = length(truth)
    assert length(swung) > 2 * walked and abs(length(steady) - walked) < 0.1 * walked
    assert np.abs(np.cross(steady, swung)).max() < 1e-9                      # the same rays
    approaching = np.stack([0.2 * t, 0.1 * t, np.exp(np.log(8.0) - 0.3 * t + 0.05 * t ** 2)], 1)
    assert np.abs(steady_depth(approaching, 61) - approaching).max() < 1e-9
    assert np.array_equal(steady_depth(swung[:3], 61), swung[:3])            # too short: unchanged


class _Record:
    """The parts of a PersonTrack that the world composition reads."""

    def __init__(self, **fields) -> None:
        self.__dict__.update(fields)

    def __len__(self) -> int:
        return len(self.frames)


def test_a_standing_person_seen_by_a_travelling_camera_stays_put():
    """A person standing on the ground (y = 1.6 m below the first camera, OpenCV axes) filmed by
    a camera that walks 2 m sideways while it turns 10°, at a constant height: the camera stage's
    travels are in units of that height. ``camera_height`` finds 1.6 m from the lowest point of
    the meshes along the ground's normal seen from each frame (to 1e-9), and with it the bodies
    in the first camera's frame stand still (1e-9 m), where without the travel they walk 2 m; a
    ground tilted 12° from the bodies' up is refused (no height: the travel is left out); the
    straight travel does not waver (path / start to end 1), one there and back does."""
    from staf.inference.exporters import (MAX_TRAVEL_WAVER, camera_height, first_camera_bodies, ground_disagreement,
                                          travel_check, travel_waver)

    count, height = 6, 1.6
    body = BodyModel.load(dtype=torch.float64)
    with torch.no_grad():
        rest = body(torch.zeros(1, 72, dtype=torch.float64), torch.zeros(1, body.num_betas, dtype=torch.float64))
    root_joint = rest.joints[0, 0].numpy()
    sole = float(rest.vertices[0, :, 1].min())               # y up in the body's frame: the lowest vertex
    facing = Rotation.from_euler("x", 180, degrees=True).as_matrix()    # body up = the camera's −y
    place = np.array([0.3, height, 4.0]) - facing @ (np.array([0, sole, 0]) - root_joint) - root_joint
    cameras = Rotation.from_euler("y", np.linspace(0, 10, count)[:, None], degrees=True).as_matrix().reshape(count, 3, 3)
    eyes = np.stack([np.linspace(0, 2, count), np.zeros(count), np.zeros(count)], 1)
    shifts = -np.einsum("tij,tj->ti", cameras, eyes)                     # x_cam = R x_first + c
    roots = np.einsum("tij,jk->tik", cameras, facing)
    pose = torch.zeros(count, 72, dtype=torch.float64)
    pose[:, :3] = torch.tensor(Rotation.from_matrix(roots).as_rotvec())
    with torch.no_grad():
        posed = body(pose, torch.zeros(count, body.num_betas, dtype=torch.float64))
    transl = np.einsum("tij,j->ti", cameras, root_joint + place) + shifts - root_joint
    arrays = {"betas": np.zeros((count, body.num_betas)),
              "rotmat": Rotation.from_rotvec(pose.reshape(-1, 3).numpy()).as_matrix().reshape(count, 24, 3, 3)}
    record = _Record(track_id=0, frames=np.arange(count), camera_rotations=cameras, camera_travels=shifts / height,
                     camera_turns=None,
                     ground_normal=np.array([0, 1.0, 0]),
                     prediction=_Record(joints=posed.joints, vertices=posed.vertices, rotmat=torch.tensor(arrays["rotmat"])))
    assert travel_check([record], 30.0).believed
    found = camera_height([record], {0: transl})
    assert abs(found - height) < 1e-9
    record.ground_normal = Rotation.from_euler("x", 12, degrees=True).apply([0, 1.0, 0])   # the bodies stand 12° off
    assert abs(ground_disagreement([record]) - 12.0) < 1e-6 and not travel_check([record], 30.0).believed
    record.ground_normal = np.array([0, 1.0, 0])
    assert abs(travel_waver(record, 30.0) - 1.0) < 1e-9                   # a straight travel
    there_and_back = _Record(camera_rotations=cameras, camera_travels=-np.einsum(
        "tij,tj->ti", cameras, np.stack([[0, 0.6, 1.2, 1.2, 0.6, 0.1], np.zeros(count), np.zeros(count)], 1)))
    assert travel_waver(there_and_back, 30.0) > MAX_TRAVEL_WAVER
    there_and_back.__dict__.update(ground_normal=record.ground_normal, prediction=record.prediction, frames=record.frames)
    assert not travel_check([there_and_back], 30.0).believed
    first = first_camera_bodies(record, arrays, body, transl, found)
    assert np.abs(first.joints - first.joints[:1]).max() < 1e-9
    assert np.abs(first.transl - place).max() < 1e-9 and np.abs(first.rotmat - facing).max() < 1e-9
    unmoved = first_camera_bodies(record, arrays, body, transl, None)
    assert np.linalg.norm(unmoved.joints[-1, 0] - unmoved.joints[0, 0]) > 1.9
    record.camera_turns = np.broadcast_to(np.eye(3), (count, 3, 3))    # the rotation-only fit, without travel
    assert np.allclose(first_camera_bodies(record, arrays, body, transl, None).camera_rotations, np.eye(3))
    assert np.allclose(first_camera_bodies(record, arrays, body, transl, found).camera_rotations, cameras)


def test_steady_travel_smooths_the_camera_path_and_keeps_a_steady_walk():
    """A camera walking 1.2 m/s while it turns, each frame's travel off by ±5 cm: the steadied
    centres are within 3 cm of the walk, their RMS error a third of the jittered path's; a
    straight walk without the jitter is kept to 1e-9 m (the filter keeps a quadratic path)."""
    from staf.inference.exporters import steady_travel

    count, fps = 90, 30.0
    rng = np.random.default_rng(5)
    rotations = Rotation.from_euler("y", np.linspace(0, 15, count)[:, None], degrees=True).as_matrix().reshape(count, 3, 3)
    centres = np.stack([np.arange(count) * 1.2 / fps, np.zeros(count), 0.002 * np.arange(count) ** 1.5 / 10], 1)
    shifts = -np.einsum("tij,tj->ti", rotations, centres)
    jittered = shifts + rng.uniform(-0.05, 0.05, shifts.shape)
    found = -np.einsum("tji,tj->ti", rotations, steady_travel(rotations, jittered, fps))
    raw = -np.einsum("tji,tj->ti", rotations, jittered)
    rms = lambda path: float(np.sqrt(((path - centres) ** 2).sum(1).mean()))  # noqa: E731
    assert np.abs(found - centres).max() < 0.03 and rms(found) < rms(raw) / 3
    straight = np.stack([np.arange(count) * 1.2 / fps, np.zeros(count), np.zeros(count)], 1)
    kept = steady_travel(rotations, -np.einsum("tij,tj->ti", rotations, straight), fps)
    assert np.abs(kept + np.einsum("tij,tj->ti", rotations, straight)).max() < 1e-9
