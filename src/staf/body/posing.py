"""A posed and shaped body as files (``staf body``): the pose from a spec, the mesh and the
joint sets, written atomically."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from staf.errors import StafError

MESH_SUFFIXES = (".obj", ".ply", ".glb", ".stl")


#: the largest axis-angle component ``--pose`` files may hold, radians (about 16 turns)
MAX_AXIS_ANGLE = 100.0


def read_pose(spec: str | None, body) -> torch.Tensor:
    """(1, 72) float64 axis-angle pose from ``spec``: None (the rest pose θ = 0), 'mean' (the
    regressors' mean pose) or a .npy file of 72 numbers."""
    from staf.geometry.rotations import rot6d_to_axis_angle

    if spec is None:
        return torch.zeros(1, 72, dtype=torch.float64)
    if spec == "mean":
        if body.mean_pose_6d is None:
            raise StafError(f"body model '{body.name}' has no mean pose; put smpl_mean_params.npz in base_data")
        return rot6d_to_axis_angle(body.mean_pose_6d.view(24, 6)).reshape(1, 72)
    path = Path(spec)
    if not path.is_file():
        raise StafError(f"--pose {spec}: no such file (give a .npy with 72 axis-angle values, or 'mean')")
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise StafError(f"--pose {spec}: not a numpy .npy array of numbers ({exc}); save one with numpy.save") from None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "fiu":
        raise StafError(f"--pose {spec}: holds {type(values).__name__} data, not numbers")
    if values.size != 72:
        raise StafError(f"--pose {spec}: has {values.size} values, expected 72 (24 joints × axis-angle)")
    if not np.isfinite(values).all():
        raise StafError(f"--pose {spec}: holds NaN or infinite values")
    if np.abs(values).max() > MAX_AXIS_ANGLE:
        raise StafError(f"--pose {spec}: holds {np.abs(values).max():.3g}; axis-angle values must lie within "
                        f"±{MAX_AXIS_ANGLE:g} rad")
    return torch.as_tensor(values, dtype=torch.float64).reshape(1, 72)


def shape_betas(values: list[float], body) -> torch.Tensor:
    """(1, K) float64 β: the given values first, zeros after; refused when not finite or too many."""
    if not all(math.isfinite(value) for value in values):
        raise StafError(f"--betas must be finite numbers, got {values}")
    if len(values) > body.num_betas:
        raise StafError(f"--betas has {len(values)} values; body model '{body.name}' has {body.num_betas}")
    betas = torch.zeros(1, body.num_betas, dtype=torch.float64)
    betas[0, : len(values)] = torch.tensor(values, dtype=torch.float64)
    return betas


def write_posed_body(body, pose: torch.Tensor, betas: torch.Tensor, mesh_path: Path, joints_path: Path) -> None:
    """The body at ``pose`` (1, 72) and ``betas`` (1, K) as a mesh file (its suffix: OBJ, PLY, GLB,
    STL) and a JSON of every joint set (metres, y up, facing +z)."""
    import trimesh

    from staf.io import atomic_write, atomic_write_text

    with torch.no_grad():
        out = body(pose, betas)
    mesh = trimesh.Trimesh(out.vertices[0].numpy(), body.faces.numpy(), process=False)
    joints = {"body_model": body.name, "units": "metres", "axes": "y up, facing +z",
              "pose": pose[0].tolist(), "betas": betas[0].tolist(), "smpl24": out.joints[0].tolist()}
    joints.update({name: value[0].tolist() for name, value in out.joint_sets.items()})
    atomic_write(mesh_path, lambda handle: mesh.export(handle, file_type=mesh_path.suffix[1:].lower()))
    atomic_write_text(joints_path, json.dumps(joints, indent=1))
