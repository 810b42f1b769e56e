"""A restricted unpickler for body-model files.

The official SMPL ``.pkl`` files are Python-2 pickles holding numpy arrays, scipy sparse
matrices and ``chumpy.ch.Ch`` arrays. ``pickle.load`` would import and call whatever a file
names, so staf never uses it on a user's file. :class:`RestrictedUnpickler` rebuilds only

- numpy arrays, dtypes and scalars,
- scipy sparse matrices (csc/csr/coo, old and new module paths),
- chumpy arrays, as inert :class:`ChumpyStandIn` objects whose data is read from their
  pickled state (chumpy itself is never imported),
- a few inert builtins (``set``, ``frozenset``, ``object``, ``slice``, ``complex``) and
  ``_codecs.encode`` with latin-1 (how Python-3 protocol-2 pickles store bytes),

and refuses every other global with :class:`~staf.errors.UnsafeFileError`. The same rules
read object arrays inside ``.npz`` files (GraphCMR's ``mesh_downsampling.npz``), see
:func:`load_npz_restricted`.
"""

from __future__ import annotations

import copyreg
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from staf.errors import MalformedFileError, UnsafeFileError


class ChumpyStandIn:
    """Inert placeholder for a pickled ``chumpy`` object; keeps its state dict only."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}

    def to_array(self, where: str) -> np.ndarray:
        """The array a plain ``chumpy.ch.Ch`` holds (its ``x`` term)."""
        if "x" not in self.state:
            raise MalformedFileError(
                f"{where}: a chumpy expression without a plain array ('x') cannot be read "
                "without chumpy; save the file again with numpy arrays (e.g. as .npz)."
            )
        return np.asarray(self.state["x"])


def _numpy_global(name: str) -> Any:
    """The few numpy callables array pickles name (numpy 1.x and 2.x module paths)."""
    try:  # numpy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric  # type: ignore[no-redef]
    table = {
        "_reconstruct": multiarray._reconstruct,
        "scalar": multiarray.scalar,
        "ndarray": np.ndarray,
        "dtype": np.dtype,
        "_frombuffer": getattr(numeric, "_frombuffer", None),
    }
    return table.get(name)


_SPARSE = {
    "csc_matrix": sp.csc_matrix,
    "csr_matrix": sp.csr_matrix,
    "coo_matrix": sp.coo_matrix,
    "csc_array": sp.csc_array,
    "csr_array": sp.csr_array,
    "coo_array": sp.coo_array,
}
_NUMPY_MODULES = {
    "numpy", "numpy.core.multiarray", "numpy._core.multiarray", "numpy.core.numeric",
    "numpy._core.numeric",
}
_BUILTINS = {"set": set, "frozenset": frozenset, "object": object, "slice": slice, "complex": complex}


#: objects whose state a pickle may set (BUILD): instances of the array types only, never a class
_BUILDABLE = (np.ndarray, np.dtype, np.generic, ChumpyStandIn, *_SPARSE.values())


class RestrictedUnpickler(pickle._Unpickler):
    """Unpickler that builds only array data (see the module docstring).

    The pure-Python unpickler, so that BUILD can be checked too: a pickle may set the state of
    an allowed array object, never attributes of a class (which would change that class for the
    rest of the process) or of any other object.

    Args:
        file: binary file object.
        source: the file's name, used in error messages.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: io.BufferedIOBase, source: str = "<pickle>") -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def load_build(self) -> None:
        target = self.stack[-2]
        if isinstance(target, type) or not isinstance(target, _BUILDABLE):
            what = f"class {target.__name__}" if isinstance(target, type) else f"a {type(target).__name__} object"
            raise UnsafeFileError(f"{self.source}: refused to set the state of {what}; staf reads only array "
                                  "data from pickles")
        pickle._Unpickler.load_build(self)

    dispatch[pickle.BUILD[0]] = load_build

    def find_class(self, module: str, name: str) -> Any:
        found = self._lookup(module, name)
        if found is None:
            raise UnsafeFileError(
                f"{self.source}: refused to load '{module}.{name}'. staf reads only numpy, "
                "scipy.sparse and chumpy array data from pickles and never runs code from a "
                "file. If this is a real SMPL file it is damaged or not what it claims to be."
            )
        return found

    @staticmethod
    def _lookup(module: str, name: str) -> Any:
        if module in _NUMPY_MODULES:
            return _numpy_global(name)
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            return _safe_reconstructor
        if module in ("__builtin__", "builtins"):
            return _BUILTINS.get(name)
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module.startswith("scipy.sparse"):
            return _SPARSE.get(name)
        if module == "chumpy" or module.startswith("chumpy."):
            return ChumpyStandIn
        return None


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as Python-3 protocol-2 pickles use it for bytes (latin-1 only)."""
    if encoding.replace("-", "").lower() != "latin1" or not isinstance(text, str):
        raise UnsafeFileError(f"refused _codecs.encode with encoding {encoding!r}")
    return text.encode("latin1")


def _safe_reconstructor(cls: type, base: type, state: Any) -> Any:
    """``copyreg._reconstructor`` limited to the classes :meth:`find_class` allowed."""
    allowed = (ChumpyStandIn, np.ndarray, object, *_SPARSE.values())
    if not (isinstance(cls, type) and issubclass(cls, allowed) and base in (object, np.ndarray)):
        raise UnsafeFileError(f"refused to reconstruct {cls!r} from {base!r}")
    return copyreg._reconstructor(cls, base, state)


def loads_restricted(data: bytes, source: str = "<pickle>") -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), source).load()
    except (UnsafeFileError, MalformedFileError):
        raise
    except Exception as exc:  # truncated or corrupt pickles raise many types
        raise MalformedFileError(f"{source}: not a readable pickle ({exc})") from exc


def load_pickle_restricted(path: str | Path) -> Any:
    """Read a pickle file with :class:`RestrictedUnpickler`."""
    path = Path(path)
    return loads_restricted(path.read_bytes(), str(path))


def load_npz_restricted(path: str | Path) -> dict[str, Any]:
    """Read an ``.npz`` file; object arrays are unpickled with the restricted rules.

    ``np.load(..., allow_pickle=True)`` would run arbitrary pickles; this reads each member's
    ``.npy`` header and, for object arrays only, passes the payload to
    :func:`loads_restricted`.
    """
    path = Path(path)
    out: dict[str, Any] = {}
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise MalformedFileError(f"{path}: not an .npz (zip) file") from exc
    with archive:
        for member in archive.namelist():
            key = member[:-4] if member.endswith(".npy") else member
            out[key] = _read_npy_member(archive.read(member), f"{path}:{member}")
    return out


def _read_npy_member(raw: bytes, source: str) -> Any:
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)(stream)
    except ValueError as exc:
        raise MalformedFileError(f"{source}: not a .npy array ({exc})") from exc
    shape, fortran_order, dtype = header
    if dtype.hasobject:
        return loads_restricted(stream.read(), source)
    stream.seek(0)
    return np.lib.format.read_array(stream, allow_pickle=False)


__all__ = [
    "ChumpyStandIn",
    "RestrictedUnpickler",
    "load_npz_restricted",
    "load_pickle_restricted",
    "loads_restricted",
]
