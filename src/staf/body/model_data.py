"""The arrays of an SMPL-format body model, and readers for the files that hold them.

A :class:`BodyModelData` is what every body-model file becomes once read: the official SMPL
``.pkl``/``.npz`` files, the ``base_data`` folder of VIBE/TCMR/MPS-Net/STAF, or the bundled
open model. :class:`staf.body.BodyModel` turns it into tensors.

Array shapes: ``N`` vertices, ``J = 24`` joints, ``K`` shape components, ``F`` faces.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from staf.body.joint_sets import NUM_SMPL_JOINTS
from staf.body.safe_pickle import ChumpyStandIn, load_npz_restricted, load_pickle_restricted
from staf.errors import MalformedFileError

SMPL_REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")


@dataclasses.dataclass
class MeanParams:
    """Initial parameters of the IEF regressors (SPIN's ``smpl_mean_params.npz``).

    Attributes:
        pose_6d: (24·6,) mean pose in the 6D representation (SPIN layout).
        shape: (K,) mean β.
        cam: (3,) mean weak-perspective camera [s, tx, ty].
    """

    pose_6d: np.ndarray
    shape: np.ndarray
    cam: np.ndarray


@dataclasses.dataclass
class BodyModelData:
    """Arrays of an SMPL-format body model (float64 numpy).

    Attributes:
        name: short name ("open", "smpl-neutral", …).
        source: where it was read from.
        v_template: (N, 3) template vertices at θ = 0, β = 0.
        shapedirs: (N, 3, K) shape basis.
        posedirs: (N, 3, 9·(J−1)) pose-corrective basis, or None when it is zero.
        j_regressor: (J, N) rest-joint regressor.
        weights: (N, J) skinning weights.
        parents: (J,) parent of each joint, -1 for the root.
        faces: (F, 3) triangle vertex indices.
        regressors: extra joint regressors applied to the posed mesh, by name:
            ``"extra"`` (9, N) SPIN's ``J_regressor_extra``, ``"h36m"`` (17, N).
        vertex_keypoint_ids: (21,) vertex indices of smplx's face/feet/finger-tip keypoints.
        mean_params: initial regressor parameters, if known.
        downsampling: (M, N) sparse matrix to the down-sampled mesh (M = 431 for SMPL).
        part_segmentation: (N,) body-part index (a joint index) of each vertex.
        metadata: free-form facts (licence, build parameters, accuracy).
    """

    name: str
    source: str
    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray | None
    j_regressor: np.ndarray
    weights: np.ndarray
    parents: np.ndarray
    faces: np.ndarray
    regressors: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    vertex_keypoint_ids: np.ndarray | None = None
    mean_params: MeanParams | None = None
    downsampling: sp.csr_matrix | None = None
    part_segmentation: np.ndarray | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[-1])

    def validate(self) -> "BodyModelData":
        """Check shapes against each other; raise :class:`MalformedFileError` naming the array."""
        n, j = self.num_vertices, NUM_SMPL_JOINTS
        expect = {
            "v_template": (self.v_template.shape, (n, 3)),
            "shapedirs": (self.shapedirs.shape[:2], (n, 3)),
            "J_regressor": (self.j_regressor.shape, (j, n)),
            "weights": (self.weights.shape, (n, j)),
            "parents": (self.parents.shape, (j,)),
        }
        if self.posedirs is not None:
            expect["posedirs"] = (self.posedirs.shape, (n, 3, 9 * (j - 1)))
        for key, regressor in self.regressors.items():
            expect[f"regressor '{key}'"] = (regressor.shape[1:], (n,))
        if self.downsampling is not None:
            expect["downsampling"] = (self.downsampling.shape[1:], (n,))
        for key, (got, want) in expect.items():
            if tuple(got) != tuple(want):
                raise MalformedFileError(
                    f"{self.source}: {key} has shape {tuple(got)}, expected {want}"
                )
        if self.shapedirs.ndim != 3:
            raise MalformedFileError(f"{self.source}: shapedirs has shape {self.shapedirs.shape}, expected ({n}, 3, K)")
        parents = self.parents
        if parents[0] != -1 or any(not 0 <= parents[i] < i for i in range(1, len(parents))):
            raise MalformedFileError(f"{self.source}: the kinematic tree's parents {parents.tolist()} are not a tree "
                                     "in order (the root's parent -1, every other joint's parent a joint before it)")
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or not len(self.faces) or self.faces.min() < 0 \
                or self.faces.max() >= n:
            raise MalformedFileError(f"{self.source}: faces must be (F, 3) indices from 0 to {n - 1}")
        for key, ids, limit in (("vertex_keypoint_ids", self.vertex_keypoint_ids, n),
                                ("part_segmentation", self.part_segmentation, j)):
            if ids is not None and (ids.ndim != 1 or (len(ids) and (ids.min() < 0 or ids.max() >= limit))):
                raise MalformedFileError(f"{self.source}: {key} must be indices from 0 to {limit - 1}")
        if self.part_segmentation is not None and len(self.part_segmentation) != n:
            raise MalformedFileError(f"{self.source}: part_segmentation has {len(self.part_segmentation)} entries, "
                                     f"expected one per vertex ({n})")
        arrays = {"v_template": self.v_template, "shapedirs": self.shapedirs, "J_regressor": self.j_regressor,
                  "weights": self.weights, "posedirs": self.posedirs,
                  **{f"regressor '{key}'": value for key, value in self.regressors.items()}}
        for key, value in arrays.items():
            if value is not None and not np.isfinite(value).all():
                raise MalformedFileError(f"{self.source}: {key} holds NaN or infinite values; the file is damaged, "
                                         "use the original model file")
        return self


#: the most entries a sparse array of a body-model file may declare (it is made dense: 8 bytes each)
MAX_DENSE = 200_000_000


def as_array(value: Any, where: str) -> np.ndarray:
    """A dense float64/int array from a numpy array, scipy sparse matrix or chumpy stand-in."""
    if isinstance(value, ChumpyStandIn):
        value = value.to_array(where)
    if sp.issparse(value):
        return _rebuild_sparse(value, where).toarray()
    return np.asarray(value)


def _rebuild_sparse(matrix: sp.spmatrix, where: str) -> sp.spmatrix:
    """A sparse matrix unpickled from an older scipy (attributes set directly, ``_shape`` or
    ``shape``) rebuilt through the current constructor."""
    state = vars(matrix)
    shape = state.get("_shape", state.get("shape"))
    if not (isinstance(shape, tuple) and len(shape) == 2 and all(isinstance(d, (int, np.integer)) and d >= 0
                                                                   for d in shape)) or shape[0] * shape[1] > MAX_DENSE:
        raise MalformedFileError(f"{where}: the sparse matrix declares the shape {shape}; expected two sizes of at most "
                                 f"{MAX_DENSE:.0e} entries in all (an SMPL regressor is 24 × 6890)")
    try:
        if "indptr" in state:
            return type(matrix)((state["data"], state["indices"], state["indptr"]), shape=shape)
        if "row" in state:
            return sp.coo_matrix((state["data"], (state["row"], state["col"])), shape=shape)
    except (KeyError, ValueError, TypeError) as exc:
        raise MalformedFileError(f"{where}: damaged sparse matrix ({exc})") from exc
    raise MalformedFileError(f"{where}: unsupported sparse matrix layout ({sorted(state)})")


def _parents_from_kintree(kintree_table: np.ndarray) -> np.ndarray:
    parents = np.asarray(kintree_table[0], dtype=np.int64).copy()
    parents[0] = -1
    return parents


def read_smpl_file(path: str | Path, name: str | None = None) -> BodyModelData:
    """Read an official-format SMPL model file (``.pkl`` Python-2 pickle or ``.npz``).

    Pickles are read with :mod:`staf.body.safe_pickle` (no code is run). Both formats hold
    ``v_template, shapedirs, posedirs, J_regressor, weights, kintree_table, f``; staf-specific
    keys of the bundled open model (extra regressors, mean parameters, down-sampling,
    segmentation) are read when present.
    """
    path = Path(path)
    if path.suffix == ".pkl":
        raw = load_pickle_restricted(path)
    elif path.suffix == ".npz":
        raw = load_npz_restricted(path)
    else:
        raise MalformedFileError(f"{path}: a body model must be a .pkl or .npz SMPL file")
    if not isinstance(raw, dict):
        raise MalformedFileError(f"{path}: expected a dict of arrays, found {type(raw).__name__}")
    missing = [key for key in SMPL_REQUIRED_KEYS if key not in raw]
    if missing:
        raise MalformedFileError(
            f"{path}: not an SMPL model file, missing {', '.join(missing)} "
            f"(found: {', '.join(sorted(raw))})"
        )
    arrays = {key: as_array(raw[key], f"{path}:{key}") for key in raw if not key.startswith("meta")}
    used = (*SMPL_REQUIRED_KEYS, "posedirs", "J_regressor_extra", "J_regressor_h36m", "vertex_keypoint_ids",
            "mean_pose_6d", "mean_shape", "mean_cam", "part_segmentation", "downsampling_rows", "downsampling_cols",
            "downsampling_values", "downsampling_shape")
    for key, value in arrays.items():             # SMPL's own text keys (bs_style: 'lbs') are not read
        if key in used and value.dtype.kind not in "fiub":
            raise MalformedFileError(f"{path}: {key} holds {value.dtype} values, not numbers; the file is damaged "
                                     "or not a body model")
    kintree = arrays["kintree_table"]
    if kintree.ndim != 2 or kintree.shape != (2, NUM_SMPL_JOINTS):
        raise MalformedFileError(f"{path}: kintree_table has shape {kintree.shape}, expected (2, {NUM_SMPL_JOINTS}): "
                                 "the parent and the id of each joint")
    posedirs = arrays.get("posedirs")
    if posedirs is not None and not np.any(posedirs):
        posedirs = None
    data = BodyModelData(
        name=name or path.stem.lower(),
        source=str(path),
        v_template=arrays["v_template"].astype(np.float64),
        shapedirs=arrays["shapedirs"].astype(np.float64),
        posedirs=None if posedirs is None else posedirs.astype(np.float64),
        j_regressor=arrays["J_regressor"].astype(np.float64),
        weights=arrays["weights"].astype(np.float64),
        parents=_parents_from_kintree(arrays["kintree_table"]),
        faces=arrays["f"].astype(np.int64),
    )
    _read_staf_extras(data, arrays, raw)
    return data.validate()


def _read_staf_extras(data: BodyModelData, arrays: dict[str, np.ndarray], raw: dict) -> None:
    """Fill the optional staf keys of the bundled open model into ``data``."""
    for key, name in (("J_regressor_extra", "extra"), ("J_regressor_h36m", "h36m")):
        if key in arrays:
            data.regressors[name] = arrays[key].astype(np.float64)
    if "vertex_keypoint_ids" in arrays:
        data.vertex_keypoint_ids = arrays["vertex_keypoint_ids"].astype(np.int64)
    if {"mean_pose_6d", "mean_shape", "mean_cam"} <= arrays.keys():
        data.mean_params = MeanParams(
            arrays["mean_pose_6d"].astype(np.float64),
            arrays["mean_shape"].astype(np.float64),
            arrays["mean_cam"].astype(np.float64),
        )
    if {"downsampling_rows", "downsampling_cols", "downsampling_values"} <= arrays.keys():
        data.downsampling = _downsampling(arrays, data.num_vertices, data.source)
    if "part_segmentation" in arrays:
        data.part_segmentation = arrays["part_segmentation"].astype(np.int64)
    if "metadata_json" in raw:
        try:
            data.metadata = json.loads(str(np.asarray(raw["metadata_json"])))
        except (ValueError, RecursionError) as exc:
            raise MalformedFileError(f"{data.source}: metadata_json is not JSON ({exc})") from None
        if not isinstance(data.metadata, dict):
            raise MalformedFileError(f"{data.source}: metadata_json is not a JSON object")


def _downsampling(arrays: dict[str, np.ndarray], num_vertices: int, source: str) -> sp.csr_matrix:
    """The (M, N) down-sampling matrix of the open model's keys, checked before it is built: M at
    most N (it down-samples), every index inside the matrix."""
    rows, cols, values = (arrays[f"downsampling_{key}"].reshape(-1) for key in ("rows", "cols", "values"))
    shape = arrays.get("downsampling_shape", np.zeros(0)).reshape(-1)
    count = int(shape[0]) if len(shape) and shape[0] == int(shape[0]) else -1
    if not 0 < count <= num_vertices:
        raise MalformedFileError(f"{source}: downsampling_shape {shape.tolist()} declares {count} vertices; a "
                                 f"down-sampled mesh has 1 to {num_vertices}")
    if not len(rows) == len(cols) == len(values) or (len(rows) and (rows.min() < 0 or rows.max() >= count or
                                                                  cols.min() < 0 or cols.max() >= num_vertices)):
        raise MalformedFileError(f"{source}: the down-sampling indices do not fit a {count} × {num_vertices} matrix")
    return sp.csr_matrix((values, (rows, cols)), shape=(count, num_vertices))


def read_mean_params(path: str | Path) -> MeanParams:
    """Read SPIN's ``smpl_mean_params.npz`` (keys ``pose`` (144), ``shape`` (10), ``cam`` (3))."""
    raw = load_npz_restricted(path)
    missing = [key for key in ("pose", "shape", "cam") if key not in raw]
    if missing:
        raise MalformedFileError(f"{path}: missing {', '.join(missing)}")
    return MeanParams(*(np.asarray(raw[key], dtype=np.float64).reshape(-1) for key in ("pose", "shape", "cam")))


def read_downsampling(path: str | Path) -> sp.csr_matrix:
    """Read GraphCMR's ``mesh_downsampling.npz`` and return ``D[1] · D[0]`` (431 × 6890 for SMPL).

    The file stores object arrays of scipy sparse matrices; they are read with the restricted
    unpickler.
    """
    raw = load_npz_restricted(path)
    if "D" not in raw:
        raise MalformedFileError(f"{path}: missing 'D' (the down-sampling matrices)")
    stages = [sp.csr_matrix(matrix) for matrix in np.asarray(raw["D"], dtype=object).ravel()]
    if len(stages) < 2:
        raise MalformedFileError(f"{path}: expected at least two down-sampling matrices in 'D'")
    return (stages[1] @ stages[0]).tocsr()


def read_regressor(path: str | Path, num_vertices: int) -> np.ndarray:
    """Read a ``J_regressor_*.npy`` file (K, N) and check its vertex count."""
    try:
        regressor = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise MalformedFileError(f"{path}: not a plain numpy array ({exc})") from exc
    if regressor.ndim != 2 or regressor.shape[1] != num_vertices:
        raise MalformedFileError(
            f"{path}: regressor has shape {regressor.shape}, expected (K, {num_vertices})"
        )
    return regressor.astype(np.float64)
