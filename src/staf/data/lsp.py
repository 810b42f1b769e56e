"""The Leeds Sports Pose layout: still images with 14 human-labelled 2D joints each.

A folder holds ``images/imNNNN.jpg`` (1-based, four digits or more) and the labels, either
``joints.npy`` (N × 14 × 3: x, y pixels and a flag) or the dataset's own ``joints.mat`` (a
MATLAB array ``joints`` of 3 × 14 × N; the extended set's 14 × 3 × N is read too). Row i labels
the i-th image in name order. Joints are in staf's ``lsp14`` order (right ankle … head top,
:data:`staf.body.joint_sets.LSP14_JOINT_NAMES`). The flag is not used: every joint of LSP is
labelled (in some copies it marks occlusion, in others visibility).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from staf.errors import MalformedFileError, MissingAssetError

NUM_JOINTS = 14


@dataclasses.dataclass
class LabelledImages:
    """``images`` (N,) paths, ``joints`` (N, 14, 2) float64 pixels."""

    root: Path
    images: list[Path]
    joints: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def read_lsp(root: str | Path) -> LabelledImages:
    """Read an LSP-layout folder (module docstring); refuses missing images and malformed labels."""
    root = Path(root)
    if not root.is_dir():
        raise MissingAssetError(f"--data-root {root}: not a folder (give the folder with images/ and joints.mat "
                                "or joints.npy)")
    joints = _read_labels(root)
    folder = root / "images"
    images = sorted(folder.glob("im*.jpg"), key=lambda path: (len(path.stem), path.stem)) if folder.is_dir() else []
    if len(images) < len(joints):
        raise MissingAssetError(f"{root}: the labels have {len(joints)} rows but {folder} holds {len(images)} "
                                "images imNNNN.jpg; give the complete dataset folder")
    return LabelledImages(root, images[: len(joints)], joints)


def _read_labels(root: Path) -> np.ndarray:
    npy, mat = root / "joints.npy", root / "joints.mat"
    if npy.is_file():
        try:
            values = np.load(npy, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise MalformedFileError(f"{npy}: not a numpy array ({exc})") from None
        return _checked(values, npy, "N × 14 × 3")
    if mat.is_file():
        import scipy.io

        try:
            content = scipy.io.loadmat(str(mat))
        except (ValueError, OSError, TypeError, NotImplementedError, scipy.io.matlab.MatReadError) as exc:
            raise MalformedFileError(f"{mat}: not a MATLAB file scipy can read ({exc})") from None
        if "joints" not in content:
            names = ", ".join(k for k in content if not k.startswith("__")) or "none"
            raise MalformedFileError(f"{mat}: holds no array 'joints' (found: {names}); LSP's joints.mat has a "
                                     "3 × 14 × N array 'joints'")
        values = np.asarray(content["joints"])
        if values.ndim == 3 and values.shape[:2] == (3, NUM_JOINTS):
            values = values.transpose(2, 1, 0)
        elif values.ndim == 3 and values.shape[:2] == (NUM_JOINTS, 3):
            values = values.transpose(2, 0, 1)
        else:
            raise MalformedFileError(f"{mat}: 'joints' has shape {values.shape}; expected 3 × 14 × N (or 14 × 3 × N): "
                                     "x, y, flag of the 14 LSP joints per image")
        return _checked(values, mat, "3 × 14 × N (or 14 × 3 × N)")
    raise MissingAssetError(f"{root}: neither joints.npy nor joints.mat is there (the LSP labels)")


def _checked(values: np.ndarray, path: Path, layout: str) -> np.ndarray:
    """(N, 14, ≥2) numbers → (N, 14, 2) float64, refused with the layout expected otherwise."""
    if values.dtype.kind not in "fiu" or values.ndim != 3 or values.shape[1] != NUM_JOINTS or values.shape[2] < 2 \
            or len(values) == 0:
        raise MalformedFileError(f"{path}: joints of shape {values.shape} ({values.dtype}); expected {layout} numbers "
                                 "(x, y, flag per joint, the LSP joint order)")
    joints = values[..., :2].astype(np.float64)
    if not np.isfinite(joints).all():
        rows = [int(row) + 1 for row in np.flatnonzero(~np.isfinite(joints).all(axis=(1, 2)))]
        raise MalformedFileError(f"{path}: joints of image(s) {rows[:5]} are not finite numbers")
    return joints
