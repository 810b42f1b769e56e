"""Bodies seen by a moving camera, put in the first camera's frame (issue 32, part 2).

A body in camera t is ``x_cam = G (x − j) + j + transl`` for its rest-pose points x with root
joint j (SMPL's rule: the global rotation G turns the body about its root joint), and the camera
sees the world by ``x_cam = R_t x_world + c_t``. The same body in the world is then
``x_world = Rᵀ_t (x_cam − c_t) = (Rᵀ_t G) (x − j) + j + world_transl`` with

    world_rotmat = Rᵀ_t G,   world_transl = Rᵀ_t (j + transl − c_t) − j.

A body's distance from the camera comes from one frame at a time (CLIFF's rule from the box and
the network's scale) and swings from frame to frame; :func:`steady_depth` takes the swing out
before the bodies go into the world.
"""

from __future__ import annotations

import numpy as np


def bodies_in_world(root_rotmat: np.ndarray, transl: np.ndarray, root_joint: np.ndarray,
                    camera_rotations: np.ndarray, camera_translations: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(T, 3, 3) root rotations G and (T, 3) translations in the cameras, (T, 3) or (3,) rest
    root joints j, (T, 3, 3) camera rotations R_t and (T, 3) camera translations c_t (default 0)
    → the (T, 3, 3) world root rotations and (T, 3) world translations (module docstring)."""
    root_rotmat, transl = np.asarray(root_rotmat, np.float64), np.asarray(transl, np.float64)
    camera_rotations = np.asarray(camera_rotations, np.float64)
    joint = np.broadcast_to(np.asarray(root_joint, np.float64), transl.shape)
    shift = np.zeros_like(transl) if camera_translations is None else np.asarray(camera_translations, np.float64)
    world_rotmat = np.einsum("tji,tjk->tik", camera_rotations, root_rotmat)
    world_transl = np.einsum("tji,tj->ti", camera_rotations, joint + transl - shift) - joint
    return world_rotmat, world_transl


def steady_depth(transl: np.ndarray, window: int, order: int = 2) -> np.ndarray:
    """(T, 3) camera-frame translations with their depth steadied: the logarithm of z smoothed by
    a Savitzky–Golay filter (``scipy.signal.savgol_filter``: a polynomial of ``order`` fitted
    over ``window`` frames around each, odd, at most T) and each translation scaled to the new
    depth, so that every body stays on its ray through the camera (it projects where it did).
    Tracks shorter than ``order + 2`` frames, or ``window`` < 3, are returned unchanged."""
    from scipy.signal import savgol_filter

    transl = np.asarray(transl, np.float64)
    window = min(int(window), len(transl) - (1 - len(transl) % 2))
    if window < max(3, order + 2) or (transl[:, 2] <= 0).any():
        return transl.copy()
    depth = np.exp(savgol_filter(np.log(transl[:, 2]), window, order, mode="interp"))
    return transl * (depth / transl[:, 2])[:, None]
