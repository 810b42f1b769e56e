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


def glb_joint_positions(path):
    """Forward kinematics of a glb read with pygltflib: the document, an accessor reader, the
    animation's times (T,) and the 24 SMPL joints' positions (T, 24, 3), walked from the skin's
    skeleton node through the animated translations and rotations."""
    import pygltflib

    from staf.body.joint_sets import SMPL_JOINT_NAMES

    document = pygltflib.GLTF2().load(str(path))
    blob = document.binary_blob()

    def read(index):
        accessor = document.accessors[index]
        view = document.bufferViews[accessor.bufferView]
        dtype = {pygltflib.FLOAT: np.float32, pygltflib.UNSIGNED_SHORT: np.uint16,
                 pygltflib.UNSIGNED_INT: np.uint32}[accessor.componentType]
        width = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}[accessor.type]
        return np.frombuffer(blob, dtype, accessor.count * width, view.byteOffset).reshape(accessor.count, width)

    animation = document.animations[0]
    tracks = {(c.target.node, c.target.path): read(animation.samplers[c.sampler].output) for c in animation.channels}
    times = read(animation.samplers[0].input)[:, 0]
    positions = np.zeros((len(times), 24, 3))
    for frame in range(len(times)):
        world = {}

        def visit(node_index, parent_matrix):
            node = document.nodes[node_index]
            local = np.eye(4)
            moved = (node_index, "translation") in tracks
            local[:3, 3] = tracks[(node_index, "translation")][frame] if moved else node.translation
            if (node_index, "rotation") in tracks:
                local[:3, :3] = Rotation.from_quat(tracks[(node_index, "rotation")][frame]).as_matrix()
            world[node.name] = parent_matrix @ local
            for child in node.children or []:
                visit(child, world[node.name])

        visit(document.skins[0].skeleton, np.eye(4))
        positions[frame] = [world[name][:3, 3] for name in SMPL_JOINT_NAMES]
    return document, read, times, positions


def random_motion(frames: int, seed: int):
    """A float64 body model and a random track: pose (T, 72), betas (10,), translation (T, 3)."""
    generator = torch.Generator().manual_seed(seed)
    pose = torch.randn(frames, 72, generator=generator, dtype=torch.float64) * 0.4
    betas = torch.randn(10, generator=generator, dtype=torch.float64)
    translation = torch.randn(frames, 3, generator=generator, dtype=torch.float64)
    return BodyModel.load(dtype=torch.float64), pose, betas, translation


def test_bvh_skeleton_equals_the_body_models_joints(tmp_path):
    body, pose, betas, translation = random_motion(5, seed=0)
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


def test_glb_skeleton_animation_equals_the_body_models_joints(tmp_path):
    from staf.inference.export import write_glb

    body, pose, betas, translation = random_motion(4, seed=1)
    rest = body(torch.zeros(1, 72, dtype=torch.float64), betas[None])
    rotations = axis_angle_to_matrix(pose.reshape(4, 24, 3)).numpy()
    path = write_glb(tmp_path / "track0.glb", rest.vertices[0].numpy(), body.faces.numpy(), body.weights.numpy(),
                     rest.joints[0].numpy(), rotations, translation.numpy(), fps=30)

    document, read, times, positions = glb_joint_positions(path)
    assert times.tolist() == pytest.approx([0, 1 / 30, 2 / 30, 3 / 30])
    joints = (body(pose, betas.expand(4, -1)).joints + translation[:, None]).numpy()
    assert np.abs(positions - joints).max() < 1e-3                  # < 1 mm
    assert [node.name for node in document.nodes].count("ground") == 0
    # the skin: 24 joints, inverse bind matrices undo the rest positions, weights sum to 1
    inverse_bind = read(document.skins[0].inverseBindMatrices).reshape(24, 4, 4).transpose(0, 2, 1)
    assert np.allclose(inverse_bind[:, :3, 3], -rest.joints[0].numpy(), atol=1e-6)
    weights = read(document.meshes[0].primitives[0].attributes.WEIGHTS_0)
    assert np.allclose(weights.sum(axis=1), 1.0, atol=1e-5) and len(weights) == body.num_vertices
