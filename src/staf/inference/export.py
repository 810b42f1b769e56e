"""Files other tools read, written from per-track results (``staf demo`` step 7).

- :func:`write_results` (:func:`write_pkl`, :func:`write_npz`): ``staf_output.pkl`` (joblib, the layout VIBE/TCMR/STAF demos write: a
  dict keyed by track id, each a dict of per-frame arrays ``pred_cam``, ``orig_cam``, ``verts``,
  ``pose``, ``betas``, ``joints3d``, ``joints2d``, ``bboxes``, ``frame_ids``; further per-frame
  arrays a caller adds are kept) and the same as ``staf_output.npz`` (keys ``track{ID}/{key}``;
  no pickle needed to read it).
- :func:`write_bvh`: the 24-joint SMPL skeleton of one track as BVH (offsets from the track's
  rest joints, root translation, ZXY Euler angles per joint in degrees, centimetres, Y up).

- :func:`write_glb`: one track as an animated skinned glTF binary.

Every file is written to a temporary name in its folder and renamed when complete. Which of
them ``staf demo`` writes, and from what, is :mod:`staf.inference.exporters`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from staf.body.joint_sets import SMPL_JOINT_NAMES, SMPL_PARENTS
from staf.errors import InvalidInputError
from staf.io import atomic_write

#: the keys of a track in staf_output.pkl (VIBE's demo output plus frame_ids)
RESULT_KEYS = ("pred_cam", "orig_cam", "verts", "pose", "betas", "joints3d", "joints2d", "bboxes", "frame_ids")
#: BVH lengths are centimetres (what Blender and most BVH tools expect); staf works in metres
BVH_UNITS_PER_METRE = 100.0


def write_results(folder: str | Path, tracks: dict[int, dict[str, np.ndarray]]) -> list[Path]:
    """``staf_output.pkl`` and ``staf_output.npz`` in ``folder``; returns their paths."""
    folder = Path(folder)
    return [write_pkl(folder / "staf_output.pkl", tracks), write_npz(folder / "staf_output.npz", tracks)]


def write_pkl(path: str | Path, tracks: dict[int, dict[str, np.ndarray]]) -> Path:
    """The tracks' per-frame arrays as joblib's pickle, the layout of VIBE's demo output."""
    import joblib

    plain = _checked(tracks)
    return atomic_write(Path(path), lambda handle: joblib.dump(plain, handle))


def write_npz(path: str | Path, tracks: dict[int, dict[str, np.ndarray]]) -> Path:
    """The tracks' per-frame arrays as a compressed npz, keys ``track{ID}/{key}`` (no pickle)."""
    flat = {f"track{t}/{key}": value for t, track in _checked(tracks).items() for key, value in track.items()}
    return atomic_write(Path(path), lambda handle: np.savez_compressed(handle, **flat))


def _checked(tracks: dict[int, dict[str, np.ndarray]]) -> dict[int, dict[str, np.ndarray]]:
    """The tracks as plain numpy, refused when a key of :data:`RESULT_KEYS` is missing or the
    per-frame arrays differ in length."""
    for track_id, track in tracks.items():
        missing = [key for key in RESULT_KEYS if key not in track]
        if missing:
            raise InvalidInputError(f"track {track_id} lacks {', '.join(missing)}")
        lengths = {key: len(value) for key, value in track.items()}
        if len(set(lengths.values())) != 1:
            raise InvalidInputError(f"track {track_id}: per-frame arrays differ in length: {lengths}")
    return {int(t): {key: np.asarray(value) for key, value in track.items()} for t, track in tracks.items()}


def write_bvh(path: str | Path, rest_joints: np.ndarray, rotations: np.ndarray, translation: np.ndarray,
              fps: float) -> Path:
    """One track's skeleton as BVH.

    Args:
        rest_joints: (24, 3) the body's joints at θ = 0 (its shape β), metres.
        rotations: (T, 24, 3, 3) local joint rotations (θ as matrices).
        translation: (T, 3) body translation, metres (joint 0 is at ``rest_joints[0] + translation``
            when the root is not rotated, as in SMPL).
        fps: frame rate.
    """
    from scipy.spatial.transform import Rotation

    rest_joints, rotations = np.asarray(rest_joints, float), np.asarray(rotations, float)
    translation = np.asarray(translation, float)
    if rest_joints.shape != (24, 3) or rotations.shape[1:] != (24, 3, 3) or translation.shape != (len(rotations), 3):
        raise InvalidInputError(f"BVH needs rest joints (24, 3), rotations (T, 24, 3, 3) and translation (T, 3); got "
                                f"{rest_joints.shape}, {rotations.shape}, {translation.shape}")
    if not (np.isfinite(rotations).all() and np.isfinite(translation).all() and fps > 0):
        raise InvalidInputError("BVH: rotations and translation must be finite and fps positive")
    scale = BVH_UNITS_PER_METRE
    lines = ["HIERARCHY"] + _hierarchy(0, rest_joints * scale, 0)
    euler = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_euler("ZXY", degrees=True).reshape(len(rotations), 24, 3)
    root = (rest_joints[0] + translation) * scale
    lines += ["MOTION", f"Frames: {len(rotations)}", f"Frame Time: {1.0 / fps:.8f}"]
    order = depth_first_order()            # BVH lists channel values in the hierarchy's order
    for frame in range(len(rotations)):
        values = list(root[frame]) + list(euler[frame][order].reshape(-1))
        lines.append(" ".join(f"{v:.6f}" for v in values))
    path = Path(path)
    atomic_write(path, lambda handle: handle.write(("\n".join(lines) + "\n").encode()))
    return path


def depth_first_order(joint: int = 0) -> list[int]:
    """SMPL joints in the order the BVH hierarchy lists them (children in index order)."""
    order = [joint]
    for child in (c for c, parent in enumerate(SMPL_PARENTS) if parent == joint):
        order += depth_first_order(child)
    return order


def _hierarchy(joint: int, rest: np.ndarray, depth: int) -> list[str]:
    """BVH hierarchy lines of ``joint`` and its children (depth-first, children in index order)."""
    pad = "  " * depth
    parent = SMPL_PARENTS[joint]
    offset = rest[joint] if parent < 0 else rest[joint] - rest[parent]
    kind = "ROOT" if parent < 0 else "JOINT"
    channels = ("CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if parent < 0
                else "CHANNELS 3 Zrotation Xrotation Yrotation")
    lines = [f"{pad}{kind} {SMPL_JOINT_NAMES[joint]}", f"{pad}{{",
             f"{pad}  OFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}", f"{pad}  {channels}"]
    children = [child for child, p in enumerate(SMPL_PARENTS) if p == joint]
    for child in children:
        lines += _hierarchy(child, rest, depth + 1)
    if not children:
        lines += [f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET 0.000000 0.000000 0.000000", f"{pad}  }}"]
    lines.append(f"{pad}}}")
    return lines


def rest_joints_of(body, betas: torch.Tensor) -> np.ndarray:
    """(24, 3) joints of ``body`` at θ = 0 with shape ``betas`` (K,), metres."""
    return rest_body(body, betas)[1]


def rest_body(body, betas: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The (V, 3) float32 mesh and (24, 3) float64 joints of ``body`` at θ = 0 with shape
    ``betas`` (K,), metres (one run of the body model)."""
    template = body.v_template
    with torch.no_grad():
        out = body(torch.zeros(1, 72, dtype=template.dtype, device=template.device),
                   betas.reshape(1, -1).to(template))
    return out.vertices[0].cpu().numpy(), out.joints[0].double().cpu().numpy()


def write_glb(path: str | Path, vertices: np.ndarray, faces: np.ndarray, weights: np.ndarray, rest_joints: np.ndarray,
              rotations: np.ndarray, translation: np.ndarray, fps: float,
              ground: tuple[float, float, float, float] | None = None) -> Path:
    """One track as an animated skinned glTF binary (opens in Blender): the rest mesh, a 24-node
    skeleton (local translations = rest offsets), a skin (4 strongest joint weights per vertex,
    renormalised) and one animation (root translation, every joint's rotation per frame).

    Args:
        vertices: (V, 3) the track's rest mesh (θ = 0, its β), metres; faces (F, 3).
        weights: (V, 24) skinning weights; rest_joints (24, 3).
        rotations: (T, 24, 3, 3) local joint rotations; translation (T, 3); fps.
        ground: ``(x_min, z_min, x_max, z_max)``: add the ground as a grey square at y = 0
            (a node ``ground``, facing +y), for bodies in a world with y up.
    """
    import pygltflib as gl
    from scipy.spatial.transform import Rotation

    vertices, rest_joints = np.asarray(vertices, np.float32), np.asarray(rest_joints, np.float64)
    rotations, translation = np.asarray(rotations, np.float64), np.asarray(translation, np.float64)
    if not (np.isfinite(rotations).all() and np.isfinite(translation).all() and fps > 0):
        raise InvalidInputError("glTF: rotations and translation must be finite and fps positive")
    frames = len(rotations)
    strongest = np.argsort(-weights, axis=1)[:, :4]
    joint_weights = np.take_along_axis(weights, strongest, axis=1)
    joint_weights = (joint_weights / joint_weights.sum(axis=1, keepdims=True)).astype(np.float32)
    strongest = np.where(joint_weights > 0, strongest, 0)       # glTF: unused influences point at joint 0
    inverse_bind = np.tile(np.eye(4), (24, 1, 1))
    inverse_bind[:, :3, 3] = -rest_joints                       # world rest transforms are translations
    offsets = np.array([rest_joints[j] - (rest_joints[p] if p >= 0 else 0) for j, p in enumerate(SMPL_PARENTS)])
    quaternions = Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_quat().reshape(frames, 24, 4)   # x y z w
    times = (np.arange(frames) / fps).astype(np.float32)
    root = (offsets[0] + translation).astype(np.float32)        # the root node's local translation

    blobs: list[bytes] = []
    views, accessors = [], []

    def add(array: np.ndarray, component: int, kind: str, target: int | None = None, bounds: bool = False) -> int:
        data = np.ascontiguousarray(array).tobytes()
        offset = sum(len(b) for b in blobs)
        blobs.append(data + b"\0" * (-len(data) % 4))
        views.append(gl.BufferView(buffer=0, byteOffset=offset, byteLength=len(data), target=target))
        count = array.shape[0]
        extra = ({"min": np.atleast_1d(array.min(axis=0)).tolist(), "max": np.atleast_1d(array.max(axis=0)).tolist()}
                 if bounds else {})
        accessors.append(gl.Accessor(bufferView=len(views) - 1, componentType=component, count=count, type=kind, **extra))
        return len(accessors) - 1

    position = add(vertices, gl.FLOAT, gl.VEC3, gl.ARRAY_BUFFER, bounds=True)
    joints_0 = add(strongest.astype(np.uint16), gl.UNSIGNED_SHORT, gl.VEC4, gl.ARRAY_BUFFER)
    weights_0 = add(joint_weights, gl.FLOAT, gl.VEC4, gl.ARRAY_BUFFER)
    indices = add(np.asarray(faces, np.uint32).reshape(-1), gl.UNSIGNED_INT, gl.SCALAR, gl.ELEMENT_ARRAY_BUFFER)
    matrices = add(inverse_bind.transpose(0, 2, 1).reshape(24, 16).astype(np.float32), gl.FLOAT, gl.MAT4)  # column-major
    time_accessor = add(times, gl.FLOAT, gl.SCALAR, bounds=True)
    channels, samplers = [], []
    root_output = add(root, gl.FLOAT, gl.VEC3)
    samplers.append(gl.AnimationSampler(input=time_accessor, output=root_output, interpolation="LINEAR"))
    channels.append(gl.AnimationChannel(sampler=0, target=gl.AnimationChannelTarget(node=1, path="translation")))
    for joint in range(24):
        output = add(quaternions[:, joint].astype(np.float32), gl.FLOAT, gl.VEC4)
        samplers.append(gl.AnimationSampler(input=time_accessor, output=output, interpolation="LINEAR"))
        channels.append(gl.AnimationChannel(sampler=len(samplers) - 1,
                                            target=gl.AnimationChannelTarget(node=1 + joint, path="rotation")))
    # node 0: the mesh; nodes 1..24: SMPL joints 0..23
    nodes = [gl.Node(name="body", mesh=0, skin=0)]
    for joint in range(24):
        children = [1 + child for child, parent in enumerate(SMPL_PARENTS) if parent == joint]
        nodes.append(gl.Node(name=SMPL_JOINT_NAMES[joint], translation=offsets[joint].tolist(), children=children))
    primitive = gl.Primitive(attributes=gl.Attributes(POSITION=position, JOINTS_0=joints_0, WEIGHTS_0=weights_0),
                             indices=indices)
    meshes, materials = [gl.Mesh(primitives=[primitive])], []
    if ground is not None:
        x_min, z_min, x_max, z_max = ground
        corners = np.array([[x_min, 0, z_min], [x_min, 0, z_max], [x_max, 0, z_max], [x_max, 0, z_min]], np.float32)
        square = gl.Primitive(attributes=gl.Attributes(POSITION=add(corners, gl.FLOAT, gl.VEC3, gl.ARRAY_BUFFER, True)),
                              indices=add(np.array([0, 1, 2, 0, 2, 3], np.uint32), gl.UNSIGNED_INT, gl.SCALAR,
                                          gl.ELEMENT_ARRAY_BUFFER), material=0)
        materials.append(gl.Material(name="ground", doubleSided=True, pbrMetallicRoughness=gl.PbrMetallicRoughness(
            baseColorFactor=[0.55, 0.55, 0.55, 1.0], metallicFactor=0.0, roughnessFactor=1.0)))
        meshes.append(gl.Mesh(name="ground", primitives=[square]))
        nodes.append(gl.Node(name="ground", mesh=1))
    roots = [0, 1] + ([len(nodes) - 1] if ground is not None else [])
    document = gl.GLTF2(
        scene=0, scenes=[gl.Scene(nodes=roots)], nodes=nodes, meshes=meshes, materials=materials,
        skins=[gl.Skin(joints=list(range(1, 25)), skeleton=1, inverseBindMatrices=matrices)],
        animations=[gl.Animation(name="track", channels=channels, samplers=samplers)],
        accessors=accessors, bufferViews=views, buffers=[gl.Buffer(byteLength=sum(len(b) for b in blobs))],
    )
    document.set_binary_blob(b"".join(blobs))
    path = Path(path)
    atomic_write(path, lambda handle: handle.write(b"".join(document.save_to_bytes())))
    return path
