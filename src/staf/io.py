"""Safe file output, shared by every command.

- :func:`atomic_write`: write through a callback into a temporary file beside the target,
  fsync, rename; the temporary file is removed whatever happens, so a failed or interrupted
  write never leaves a partial file under either name.
- :func:`check_output_file`: an output path that is an input, a folder, or an existing file
  (without ``force``) is refused before any work is done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable

from staf.errors import InvalidInputError


def atomic_write(path: str | Path, write: Callable) -> Path:
    """Write ``path`` through ``write(binary_handle)``: temporary file, fsync, rename."""
    path = Path(path)
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
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda handle: handle.write(text.encode()))


def check_output_file(path: str | Path, flag: str, inputs: Iterable[str | Path | None] = (), force: bool = False) -> Path:
    """Refuse an output file that is one of ``inputs``, a folder, or exists (unless ``force``)."""
    path = Path(path)
    for source in inputs:
        if source is not None and Path(source).exists() and path.exists() and path.resolve() == Path(source).resolve():
            raise InvalidInputError(f"{flag} {path} is the same file as an input; choose another output path")
    if path.is_dir():
        raise InvalidInputError(f"{flag} {path} is a folder; give a file path")
    if path.exists() and not force:
        raise InvalidInputError(f"{flag} {path} already exists; pass --force to replace it or choose another path")
    check_writable(path.parent, flag, path)
    return path


def check_output_folder(path: str | Path, flag: str) -> Path:
    """Refuse an output folder that is a file or cannot be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{flag} {path} is a file; give a folder")
    check_writable(path, flag, path)
    return path


def check_writable(folder: Path, flag: str, shown: Path) -> None:
    """Refuse ``folder`` when nothing can be created in it (or in its nearest existing parent,
    where it would be made): a probe file is created there and removed, so a read-only disk,
    a permission (for users other than root) or a pseudo file system is caught before any work."""
    import tempfile

    existing = Path(folder).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInputError(f"{flag} {shown}: {existing} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise InvalidInputError(f"{flag} {shown}: cannot write there ({exc.strerror or exc})") from None
