"""Shared test data: random SMPL-format models and base_data folders written to disk."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from staf.body.joint_sets import SMPL_PARENTS

SMPL_VERTICES = 6890


def random_smpl_arrays(num_vertices: int = SMPL_VERTICES, num_betas: int = 10, seed: int = 0) -> dict:
    """Arrays in the official SMPL layout, random but well-formed (non-zero pose correctives)."""
    rng = np.random.default_rng(seed)
    weights = rng.random((num_vertices, 24)) ** 8
    weights /= weights.sum(1, keepdims=True)
    regressor = np.zeros((24, num_vertices))
    for joint in range(24):
        chosen = rng.choice(num_vertices, 12, replace=False)
        regressor[joint, chosen] = rng.random(12)
    regressor /= regressor.sum(1, keepdims=True)
    kintree = np.array([[4294967295, *SMPL_PARENTS[1:]], list(range(24))], dtype=np.int64)
    return {
        "v_template": rng.normal(0, 0.3, (num_vertices, 3)),
        "shapedirs": rng.normal(0, 0.01, (num_vertices, 3, num_betas)),
        "posedirs": rng.normal(0, 0.01, (num_vertices, 3, 207)),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": rng.integers(0, num_vertices, (2 * num_vertices, 3)).astype(np.uint32),
    }


class _FakeCh:
    """Stands for chumpy.ch.Ch when writing test pickles (its pickled state holds ``x``)."""

    def __init__(self, array: np.ndarray) -> None:
        self.x = array
        self._dirty_vars = set()
        self._itr = None
        self._make_dense = False
        self._make_sparse = False
        self._depends_on_deps = {}


def write_chumpy_pickle(path: Path, arrays: dict) -> None:
    """An SMPL-style pickle: chumpy arrays, a scipy sparse J_regressor, plain numpy arrays."""
    chumpy = types.ModuleType("chumpy")
    chumpy_ch = types.ModuleType("chumpy.ch")
    _FakeCh.__module__, _FakeCh.__qualname__, _FakeCh.__name__ = "chumpy.ch", "Ch", "Ch"
    chumpy_ch.Ch = _FakeCh
    chumpy.ch = chumpy_ch
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = chumpy, chumpy_ch
    try:
        content = {
            "v_template": _FakeCh(arrays["v_template"]),
            "shapedirs": _FakeCh(arrays["shapedirs"]),
            "posedirs": arrays["posedirs"],
            "J_regressor": sp.csc_matrix(arrays["J_regressor"]),
            "weights": _FakeCh(arrays["weights"]),
            "kintree_table": arrays["kintree_table"],
            "f": arrays["f"],
            "bs_style": "lbs",
            "bs_type": "lrotmin",
        }
        path.write_bytes(pickle.dumps(content, protocol=2))
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]


def write_base_data(folder: Path, seed: int = 0) -> dict:
    """A complete base_data folder (random content, official file formats)."""
    rng = np.random.default_rng(seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = random_smpl_arrays(seed=seed)
    write_chumpy_pickle(folder / "SMPL_NEUTRAL.pkl", arrays)
    extra = rng.random((9, SMPL_VERTICES)) * (rng.random((9, SMPL_VERTICES)) > 0.995)
    extra /= extra.sum(1, keepdims=True)
    h36m = rng.random((17, SMPL_VERTICES)) * (rng.random((17, SMPL_VERTICES)) > 0.995)
    h36m /= h36m.sum(1, keepdims=True)
    np.save(folder / "J_regressor_extra.npy", extra)
    np.save(folder / "J_regressor_h36m.npy", h36m)
    np.savez(folder / "smpl_mean_params.npz", pose=rng.normal(size=144), shape=rng.normal(size=10),
             cam=np.array([0.9, 0.0, 0.0]))
    d0 = sp.random(1723, SMPL_VERTICES, density=0.001, random_state=seed, format="csr")
    d1 = sp.random(431, 1723, density=0.003, random_state=seed + 1, format="csr")
    write_object_npz(folder / "mesh_downsampling.npz", D=[d0, d1], U=[d0.T.tocsr(), d1.T.tocsr()], A=[d0, d1])
    return {"arrays": arrays, "extra": extra, "h36m": h36m, "D": (d0, d1)}


def write_object_npz(path: Path, **lists) -> None:
    """An .npz whose members are object arrays (as GraphCMR's mesh_downsampling.npz)."""
    members = {}
    for key, items in lists.items():
        array = np.empty(len(items), dtype=object)
        array[:] = items
        members[key] = array
    np.savez(path, **members)


@pytest.fixture
def base_data(tmp_path: Path) -> tuple[Path, dict]:
    folder = tmp_path / "base_data"
    return folder, write_base_data(folder)


def py2_pickle(content: dict) -> bytes:
    """A protocol-2 pickle as Python 2 wrote SMPL's files: numpy arrays whose data are py2
    ``str`` (BINSTRING) and scipy matrices under the old ``scipy.sparse.csc`` module path.

    ``content`` maps keys to float64 arrays or ``scipy.sparse.csc_matrix``.
    """
    import struct

    def string(text: bytes) -> bytes:
        return b"U" + bytes([len(text)]) + text if len(text) < 256 else b"T" + struct.pack("<I", len(text)) + text

    def integer(value: int) -> bytes:
        return b"J" + struct.pack("<i", value)

    def array(values: np.ndarray) -> bytes:
        values = np.ascontiguousarray(values)
        code = values.dtype.str[1:].encode()
        dtype = (b"cnumpy\ndtype\n" + string(code) + integer(0) + integer(1) + b"\x87R"
                 + b"(" + integer(3) + string(values.dtype.str[:1].encode()) + b"NNN" + integer(-1)
                 + integer(-1) + integer(0) + b"tb")
        shape = b"(" + b"".join(integer(n) for n in values.shape) + b"t"
        return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + integer(0) + b"\x85"
                + string(b"b") + b"\x87R" + b"(" + integer(1) + shape + dtype + b"\x89"
                + string(values.tobytes()) + b"tb")

    def sparse(matrix) -> bytes:
        fields = {b"data": matrix.data, b"indices": matrix.indices.astype(np.int32),
                  b"indptr": matrix.indptr.astype(np.int32)}
        body = b"".join(string(k) + array(v) for k, v in fields.items())
        body += string(b"_shape") + integer(matrix.shape[0]) + integer(matrix.shape[1]) + b"\x86"
        body += string(b"maxprint") + integer(50)
        return b"cscipy.sparse.csc\ncsc_matrix\n)\x81}(" + body + b"ub"

    items = b"".join(string(key.encode()) + (sparse(value) if sp.issparse(value) else array(value))
                     for key, value in content.items())
    return b"\x80\x02}(" + items + b"u."


@pytest.fixture(scope="session")
def body():
    """The bundled open body model (float32), shared by the tests that do not make their own."""
    from staf.body import BodyModel

    return BodyModel.load()


@pytest.fixture(scope="session")
def tiny_staf_config():
    """A STAF small enough for pipeline tests (ResNet-18 at 64 px, narrow heads)."""
    from staf.models import STAFConfig

    return STAFConfig(backbone="resnet18", image_size=64, decoder_channels=32, mlp_channels=(32, 16, 8, 5),
                      dropout=0.0, regressor_hidden=64, safm_hidden=16)
