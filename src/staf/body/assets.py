"""Where body-model files are found, and the one clear message when they are not.

- The bundled open model lives inside the package (``staf/body/data/open_body_model.npz``).
- A user's SMPL files live in a ``base_data`` folder laid out as in VIBE/TCMR/MPS-Net/STAF
  (``SMPL_NEUTRAL.pkl``, ``J_regressor_extra.npy``, ``J_regressor_h36m.npy``,
  ``smpl_mean_params.npz``, ``mesh_downsampling.npz``), given by a flag, by the environment
  variable :data:`BASE_DATA_ENV`, or found at ``./data/base_data``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from staf.body.joint_sets import SMPL_VERTEX_KEYPOINT_IDS
from staf.body.model_data import (
    BodyModelData,
    read_downsampling,
    read_mean_params,
    read_regressor,
    read_smpl_file,
)
from staf.errors import InvalidInputError, MissingAssetError

BASE_DATA_ENV = "STAF_BASE_DATA"
DEFAULT_BASE_DATA = Path("data") / "base_data"
SMPL_LICENCE_URL = "https://smpl.is.tue.mpg.de"
OPEN_MODEL_FILE = "open_body_model.npz"
GENDERS = ("neutral", "male", "female")

#: Optional files of a base_data folder and what each provides.
BASE_DATA_FILES = {
    "J_regressor_extra.npy": "the 9 extra joints of the 49-joint SPIN/VIBE keypoint set",
    "J_regressor_h36m.npy": "the H36M-17 / LSP-14 evaluation joints",
    "smpl_mean_params.npz": "the regressors' mean parameters",
    "mesh_downsampling.npz": "the 6890→431 vertex down-sampling for mesh-aligned sampling",
}


def bundled_model_path() -> Path:
    """Path of the open body model shipped in the package."""
    return Path(str(resources.files("staf.body") / "data" / OPEN_MODEL_FILE))


def base_data_folders(base_data: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for SMPL files, in order: the flag, ``$STAF_BASE_DATA``, ./data/base_data."""
    candidates = [base_data, os.environ.get(BASE_DATA_ENV), DEFAULT_BASE_DATA]
    folders: list[Path] = []
    for candidate in candidates:
        if candidate and Path(candidate) not in folders:
            folders.append(Path(candidate))
    return folders


def find_file(names: tuple[str, ...], folders: list[Path], purpose: str) -> Path:
    """The first of ``names`` present in ``folders``, or :class:`MissingAssetError` saying
    which file, the folders searched, the variable to set and where SMPL is licensed."""
    for folder in folders:
        for name in names:
            if (folder / name).is_file():
                return folder / name
    searched = "\n".join(f"  - {folder.resolve()}" for folder in folders) or "  (none)"
    raise MissingAssetError(
        f"{' or '.join(names)} ({purpose}) was not found. Folders searched:\n{searched}\n"
        f"Pass --base-data DIR or set {BASE_DATA_ENV}=DIR to the folder that holds it. "
        f"SMPL files are licensed and cannot ship with staf: register and download them at "
        f"{SMPL_LICENCE_URL} (the base_data folder of VIBE/TCMR/STAF has the rest). "
        "Without them, staf uses its bundled open body model (--body-model open)."
    )


def load_open_model_data() -> BodyModelData:
    """The bundled open body model (see docs/open_body_model.md)."""
    path = bundled_model_path()
    if not path.is_file():
        raise MissingAssetError(
            f"the bundled open body model {path} is missing: the installation is incomplete; "
            "reinstall staf, or rebuild it with scripts/build_open_body_model.py"
        )
    return read_smpl_file(path, name="open")


def load_smpl_base_data(
    base_data: str | os.PathLike | None = None, gender: str = "neutral"
) -> BodyModelData:
    """SMPL from a user's base_data folder, with every optional file that is present.

    Raises:
        MissingAssetError: when the SMPL model file itself is not found.
    """
    if gender not in GENDERS:
        raise InvalidInputError(f"gender must be one of {GENDERS}, got {gender!r}")
    folders = base_data_folders(base_data)
    stem = f"SMPL_{gender.upper()}"
    model_path = find_file((f"{stem}.pkl", f"{stem}.npz"), folders, f"the SMPL {gender} model")
    data = read_smpl_file(model_path, name=f"smpl-{gender}")
    attach_base_data_extras(data, [model_path.parent, *folders])
    return data


def attach_base_data_extras(data: BodyModelData, folders: list[Path]) -> None:
    """Read the optional base_data files found in ``folders`` into ``data``."""
    for name in BASE_DATA_FILES:
        path = next((folder / name for folder in folders if (folder / name).is_file()), None)
        if path is None:
            continue
        if name == "J_regressor_extra.npy":
            data.regressors["extra"] = read_regressor(path, data.num_vertices)
        elif name == "J_regressor_h36m.npy":
            data.regressors["h36m"] = read_regressor(path, data.num_vertices)
        elif name == "smpl_mean_params.npz":
            data.mean_params = read_mean_params(path)
        elif name == "mesh_downsampling.npz":
            data.downsampling = read_downsampling(path)
    if data.vertex_keypoint_ids is None and data.num_vertices == 6890:
        data.vertex_keypoint_ids = np.asarray(SMPL_VERTEX_KEYPOINT_IDS, dtype=np.int64)
    data.validate()


def load_body_model_data(
    spec: str = "open", base_data: str | os.PathLike | None = None, gender: str = "neutral"
) -> BodyModelData:
    """Resolve a body-model choice to its arrays.

    Args:
        spec: ``"open"`` (bundled, default), ``"smpl"`` (from the base_data folder), or the
            path of an SMPL-format ``.pkl``/``.npz`` file (base_data extras found beside it
            or in the base_data folders are attached).
        base_data: folder of the SMPL files (else ``$STAF_BASE_DATA`` or ./data/base_data).
        gender: for ``"smpl"``: neutral, male or female.
    """
    if spec == "open":
        return load_open_model_data()
    if spec == "smpl":
        return load_smpl_base_data(base_data, gender)
    path = Path(spec)
    if not path.is_file():
        raise MissingAssetError(
            f"body model '{spec}' is neither 'open', 'smpl' nor an existing file. "
            f"Give the path of an SMPL .pkl/.npz file, or 'smpl' with --base-data DIR "
            f"(or {BASE_DATA_ENV}); SMPL is licensed at {SMPL_LICENCE_URL}."
        )
    data = read_smpl_file(path)
    attach_base_data_extras(data, [path.parent, *base_data_folders(base_data)])
    return data
