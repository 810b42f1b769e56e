"""Files other tools read, written from per-track results (``staf demo`` step 7).

- :func:`write_results`: ``staf_output.pkl`` (joblib, the layout VIBE/TCMR/STAF demos write: a
  dict keyed by track id, each a dict of per-frame arrays ``pred_cam``, ``orig_cam``, ``verts``,
  ``pose``, ``betas``, ``joints3d``, ``joints2d``, ``bboxes``, ``frame_ids``) and the same as
  ``staf_output.npz`` (keys ``track{ID}/{key}``; no pickle needed to read it).
- :func:`write_bvh`: the 24-joint SMPL skeleton of one track as BVH (offsets from the track's
  rest joints, root translation, ZXY Euler angles per joint in degrees, centimetres, Y up).

Every file is written to a temporary name in its folder and renamed when complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from staf.body.joint_sets import SMPL_JOINT_NAMES, SMPL_PARENTS
from staf.errors import InvalidInputError

#: the keys of a track in staf_output.pkl (VIBE's demo output plus frame_ids)
RESULT_KEYS = ("pred_cam", "orig_cam", "verts", "pose", "betas", "joints3d", "joints2d", "bboxes", "frame_ids")
#: BVH lengths are centimetres (what Blender and most BVH tools expect); staf works in metres
BVH_UNITS_PER_METRE = 100.0


def write_results(folder: str | Path, tracks: dict[int, dict[str, np.ndarray]]) -> list[Path]:
    """``staf_output.pkl`` and ``staf_output.npz`` in ``folder``; returns their paths."""
    import joblib

    folder = Path(folder)
    for track_id, track in tracks.items():
        missing = [key for key in RESULT_KEYS if key not in track]
        if missing:
            raise InvalidInputError(f"track {track_id} lacks {', '.join(missing)}")
        lengths = {key: len(track[key]) for key in RESULT_KEYS}
        if len(set(lengths.values())) != 1:
            raise InvalidInputError(f"track {track_id}: per-frame arrays differ in length: {lengths}")
    plain = {int(t): {key: np.asarray(track[key]) for key in RESULT_KEYS} for t, track in tracks.items()}
    pkl, npz = folder / "staf_output.pkl", folder / "staf_output.npz"
    _atomic(pkl, lambda handle: joblib.dump(plain, handle))
    flat = {f"track{t}/{key}": value for t, track in plain.items() for key, value in track.items()}
    _atomic(npz, lambda handle: np.savez_compressed(handle, **flat))
    return [pkl, npz]


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
    _atomic(path, lambda handle: handle.write(("\n".join(lines) + "\n").encode()))
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


def _atomic(path: Path, write) -> None:
    """Write through ``write(handle)`` to a temporary file beside ``path``, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def rest_joints_of(body, betas: torch.Tensor) -> np.ndarray:
    """(24, 3) joints of ``body`` at θ = 0 with shape ``betas`` (K,), metres."""
    with torch.no_grad():
        out = body(torch.zeros(1, 72, dtype=body.v_template.dtype), betas.reshape(1, -1).to(body.v_template.dtype))
    return out.joints[0].double().numpy()
