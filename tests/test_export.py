"""Exports read back by independent readers: joblib and numpy for the results, the `bvh`
package for BVH (the skeleton posed from the parsed file equals staf's joints)."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from staf.body import BodyModel
from staf.errors import InvalidInputError
from staf.geometry.rotations import axis_angle_to_matrix
from staf.inference.export import RESULT_KEYS, rest_joints_of, write_bvh, write_results


def fake_track(frames: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {"pred_cam": (3,), "orig_cam": (4,), "verts": (5, 3), "pose": (72,), "betas": (10,), "joints3d": (49, 3),
              "joints2d": (49, 2), "bboxes": (4,)}
    track = {key: rng.normal(size=(frames, *shape)).astype(np.float32) for key, shape in shapes.items()}
    track["frame_ids"] = np.arange(3, 3 + frames)
    return track


def test_results_pkl_and_npz_read_back(tmp_path):
    tracks = {0: fake_track(6, 0), 3: fake_track(4, 1)}
    pkl, npz = write_results(tmp_path, tracks)
    loaded = joblib.load(pkl)
    assert set(loaded) == {0, 3} and all(set(loaded[t]) == set(RESULT_KEYS) for t in loaded)
    with np.load(npz, allow_pickle=False) as arrays:
        for t, track in tracks.items():
            for key in RESULT_KEYS:
                np.testing.assert_array_equal(loaded[t][key], track[key])
                np.testing.assert_array_equal(arrays[f"track{t}/{key}"], track[key])
    assert not list(tmp_path.glob(".*partial"))
    with pytest.raises(InvalidInputError, match="per-frame arrays differ"):
        write_results(tmp_path, {1: dict(fake_track(5, 2), pose=np.zeros((4, 72)))})


def bvh_joint_positions(path) -> np.ndarray:
    """Forward kinematics of a parsed BVH file (bvh package): (T, J, 3) in file units."""
    from bvh import Bvh

    mocap = Bvh(path.read_text())
    names = mocap.get_joints_names()
    frames = np.array(mocap.frames, dtype=float)
    positions = np.zeros((len(frames), len(names), 3))
    world = {}
    column = 0
    for index, name in enumerate(names):
        channels = mocap.joint_channels(name)
        values = frames[:, column : column + len(channels)]
        column += len(channels)
        rotation_columns = [i for i, c in enumerate(channels) if c.endswith("rotation")]
        order = "".join(channels[i][0] for i in rotation_columns)
        local = Rotation.from_euler(order, values[:, rotation_columns], degrees=True).as_matrix()
        offset = np.array(mocap.joint_offset(name))
        parent = mocap.joint_parent(name)
        if parent is None:
            position = values[:, :3]
            world[name] = (local, position)
        else:
            parent_rotation, parent_position = world[parent.name]
            position = parent_position + np.einsum("tij,j->ti", parent_rotation, offset)
            world[name] = (parent_rotation @ local, position)
        positions[:, index] = position
    return positions, names


def test_bvh_skeleton_equals_the_body_models_joints(tmp_path):
    body = BodyModel.load(dtype=torch.float64)
    generator = torch.Generator().manual_seed(0)
    pose = torch.randn(5, 72, generator=generator, dtype=torch.float64) * 0.4
    betas = torch.randn(10, generator=generator, dtype=torch.float64)
    translation = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    rotations = axis_angle_to_matrix(pose.reshape(5, 24, 3))
    path = write_bvh(tmp_path / "track0.bvh", rest_joints_of(body, betas), rotations.numpy(), translation.numpy(), fps=30)
    positions, names = bvh_joint_positions(path)
    joints = (body(pose, betas.expand(5, -1)).joints + translation[:, None]).numpy() * 100.0   # cm
    from staf.body.joint_sets import SMPL_JOINT_NAMES

    ours = joints[:, [SMPL_JOINT_NAMES.index(name) for name in names]]
    assert len(names) == 24
    assert np.abs(positions - ours).max() < 0.1                       # < 1 mm (file units are cm)
    with pytest.raises(InvalidInputError, match="finite"):
        write_bvh(tmp_path / "bad.bvh", rest_joints_of(body, betas), rotations.numpy() * np.nan, translation.numpy(), 30)
