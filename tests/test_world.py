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
