"""The preprocessed ``*_db.pt`` files of VIBE / TCMR / MPS-Net / STAF.

Each file is a ``joblib.dump`` of a dict of per-frame arrays (N frames of many videos, in order):

| key | shape | meaning |
|---|---|---|
| ``vid_name`` | (N,) str | video (sequence) name |
| ``frame_id`` | (N,) int or str | frame number within the video (MPI-INF-3DHP: ``img_000001``) |
| ``img_name`` | (N,) str | path of the frame image |
| ``joints3D`` | (N, J, 3) | 3D joints in metres (3DPW: J = 14 LSP; H36M, MPI-INF-3DHP: 49 SPIN) |
| ``joints2D`` | (N, J2, 3) | 2D joints in pixels with confidence |
| ``pose`` | (N, 72) | SMPL θ (axis-angle) |
| ``shape`` | (N, 10) | SMPL β |
| ``bbox`` | (N, 4) | person box (cx, cy, w, h) in pixels |
| ``features`` | (N, 2048) | pre-computed image features (VIBE/TCMR) |
| ``valid`` / ``valid_i`` | (N,) or (N, 1) | frame validity flags (MPI-INF-3DHP's ``valid_i`` is (N, 1)) |

What the peers' preprocessing scripts write, and staf reads as they do:

- MPI-INF-3DHP (``mpii3d_val_scale12_db.pt``): ``valid_i`` (N, 1) from the annotation's
  ``valid_frame``; ``frame_id`` strings ``img_000001``; frames with a joint outside the image are
  left out and the rest of the video continues under a new ``vid_name`` (``subj1_seg1``).
- Human3.6M at 25 fps (``h36m_test_25fps_*_db.pt``): every second frame of the 50-fps video, so
  ``frame_id`` advances by 2 per row.
- 3DPW (``3dpw_test_db.pt``): rows with too few visible 2D keypoints are removed, leaving gaps in
  ``frame_id``; ``valid`` is the camera-pose validity of the remaining rows.

:func:`read_db` loads such a file with a restricted unpickler (numpy data only) and checks keys
and shapes; :func:`write_db` writes one; :func:`split_sequences` splits the frames into
sequences by video name, as the peers do (optionally also at frame-number gaps).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import numpy as np

from staf.body.safe_pickle import RestrictedUnpickler
from staf.errors import MalformedFileError, MissingAssetError, UnsafeFileError

REQUIRED_KEYS = ("vid_name", "frame_id", "img_name", "bbox")

#: expected trailing shape of each known key (None: any size on that axis)
SHAPES: dict[str, tuple[int | None, ...]] = {
    "vid_name": (),
    "frame_id": (),
    "img_name": (),
    "joints3D": (None, 3),
    "joints2D": (None, 3),
    "pose": (72,),
    "shape": (10,),
    "bbox": (4,),
    "features": (None,),
    "valid": (),
    "valid_i": (),
}

#: per-frame flags that some files store as (N, 1) columns; read as (N,)
FLAG_KEYS = ("valid", "valid_i")


def _joblib_unpickler():
    from joblib import numpy_pickle

    class RestrictedJoblibUnpickler(numpy_pickle.NumpyUnpickler):
        """joblib's unpickler with the body-model files' restricted globals (+ its array wrapper)."""

        def find_class(self, module: str, name: str) -> Any:
            if module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper":
                return numpy_pickle.NumpyArrayWrapper
            found = RestrictedUnpickler._lookup(module, name)
            if found is None:
                raise UnsafeFileError(
                    f"{self.filename}: refused to load '{module}.{name}'. staf reads only numpy data "
                    "from db files and never runs code from a file."
                )
            return found

    return numpy_pickle, RestrictedJoblibUnpickler


def read_db(path: str | Path, required: tuple[str, ...] = REQUIRED_KEYS) -> dict[str, np.ndarray]:
    """Read and validate a ``*_db.pt`` file.

    Raises:
        MissingAssetError: the file does not exist.
        UnsafeFileError: it names code.
        MalformedFileError: not a dict of arrays, a required key is missing, a known key has the
            wrong shape, or the keys disagree on the number of frames (each problem is named).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingAssetError(f"dataset file {path} does not exist")
    numpy_pickle, unpickler_class = _joblib_unpickler()
    try:
        with open(path, "rb") as handle, numpy_pickle._validate_fileobject_and_memmap(handle, str(path), None) as (stream, _):
            if isinstance(stream, str):
                raise MalformedFileError(f"{path}: written by joblib < 0.10, which staf does not read; "
                                         "re-save it with a current joblib")
            data = unpickler_class(str(path), stream, ensure_native_byte_order=True).load()
    except (UnsafeFileError, MalformedFileError):
        raise
    except Exception as exc:
        raise MalformedFileError(f"{path}: not a readable joblib file ({type(exc).__name__}: {exc})") from exc
    return validate_db(data, str(path), required)


def validate_db(data: Any, source: str, required: tuple[str, ...] = REQUIRED_KEYS) -> dict[str, np.ndarray]:
    """Check a db dict; returns it with every value as a numpy array."""
    if not isinstance(data, dict):
        raise MalformedFileError(f"{source}: expected a dict of per-frame arrays, found {type(data).__name__}")
    problems = [f"missing key '{key}'" for key in required if key not in data]
    arrays = {key: np.asarray(value) for key, value in data.items()}
    for key in FLAG_KEYS:
        if key in arrays and arrays[key].ndim == 2 and arrays[key].shape[1] == 1:
            arrays[key] = arrays[key][:, 0]
    lengths = {key: len(value) for key, value in arrays.items() if value.ndim > 0}
    if lengths and len(set(lengths.values())) > 1:
        counts = ", ".join(f"{key} {count}" for key, count in sorted(lengths.items()))
        problems.append(f"keys disagree on the number of frames ({counts})")
    for key, expected in SHAPES.items():
        if key not in arrays:
            continue
        got = arrays[key].shape[1:]
        if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected, got)):
            shown = ", ".join("J" if e is None else str(e) for e in expected)
            problems.append(f"'{key}' has shape {arrays[key].shape}, expected (N{', ' if expected else ''}{shown})")
    if lengths and max(lengths.values()) == 0:
        problems.append("it holds no frames")
    if "bbox" in arrays and arrays["bbox"].ndim == 2 and arrays["bbox"].shape[1:] == (4,) and \
            arrays["bbox"].dtype.kind in "fiu" and (arrays["bbox"][:, 2:] <= 0).any():
        problems.append(f"'bbox' has {int((arrays['bbox'][:, 2:] <= 0).any(axis=1).sum())} box(es) of zero or negative "
                        "width or height")
    for key, values in arrays.items():
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).reshape(len(values), -1).any(axis=1).sum()) if values.ndim else 1
            problems.append(f"'{key}' holds NaN or infinite values in {bad} frame(s)")
    if problems:
        raise MalformedFileError(f"{source}: " + "; ".join(problems))
    return arrays


def write_db(path: str | Path, data: dict[str, np.ndarray]) -> None:
    """Write a db dict with ``joblib.dump`` after validating it (the format VIBE/TCMR read)."""
    import joblib

    from staf.io import atomic_write

    arrays = validate_db(data, str(path))
    atomic_write(path, lambda handle: joblib.dump(arrays, handle))


@dataclasses.dataclass
class Sequence:
    """One continuous video sequence of a db: ``rows`` index its frames in the file."""

    name: str
    rows: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def frame_numbers(frame_ids: np.ndarray) -> np.ndarray:
    """(N,) frame numbers from a db's ``frame_id``: integers as they are, strings by their last
    run of digits (``img_000123`` → 123)."""
    frame_ids = np.asarray(frame_ids)
    if frame_ids.dtype.kind in "iuf":
        return frame_ids.astype(np.int64)
    numbers = [re.search(r"(\d+)\D*$", str(value)) for value in frame_ids]
    bad = next((str(value) for value, found in zip(frame_ids, numbers) if found is None), None)
    if bad is not None:
        raise MalformedFileError(f"frame_id '{bad}' has no frame number; split by video name only "
                                 "(the default) or fix the file")
    return np.array([int(found.group(1)) for found in numbers], dtype=np.int64)


def split_sequences(data: dict[str, np.ndarray], at_gaps: bool = False) -> list[Sequence]:
    """Split the rows into sequences: a new sequence wherever ``vid_name`` changes (the peers'
    rule, the default). With ``at_gaps``, also where ``frame_id`` jumps by more than the video's
    own step (its most common step, so Human3.6M's step of 2 at 25 fps is no gap; 3DPW's removed
    rows are).

    A name that comes back after another, or a video split at a gap, gives ``name``, ``name#2``,
    ``name#3``, … in order.
    """
    names = np.asarray(data["vid_name"]).astype(str)
    breaks = set((np.flatnonzero(names[1:] != names[:-1]) + 1).tolist())
    if at_gaps:
        frames = frame_numbers(data["frame_id"])
        for rows in np.split(np.arange(len(names)), sorted(breaks)):
            steps = np.diff(frames[rows])
            if len(steps):
                values, counts = np.unique(steps, return_counts=True)
                usual = values[np.argmax(counts)]
                breaks.update((rows[1:][steps != usual]).tolist())
    sequences: list[Sequence] = []
    seen: dict[str, int] = {}
    for rows in np.split(np.arange(len(names)), sorted(breaks)):
        if len(rows) == 0:
            continue
        name = str(names[rows[0]])
        seen[name] = seen.get(name, 0) + 1
        sequences.append(Sequence(name if seen[name] == 1 else f"{name}#{seen[name]}", rows))
    return sequences
