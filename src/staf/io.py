"""Safe file output, shared by every command.

- :func:`atomic_write`: write through a callback into a temporary file beside the target,
  fsync, rename; the temporary file is removed whatever happens, so a failed or interrupted
  write never leaves a partial file under either name. A write that fails (a full disk, a
  folder where the file goes, no permission) is an :class:`OutputError` whose message names the
  file and the cause (:func:`write_failure`), never a traceback.
- :func:`check_output_file`: an output path that is an input, a folder, or an existing file
  (without ``force``) is refused before any work is done.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Callable, Iterable

from staf.errors import InvalidInputError, StafError

#: errno values that mean "this output cannot be written here", with what to do
WRITE_ERRORS = {
    errno.ENOSPC: "the disk is full: free some space or choose another output folder",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another output folder",
    errno.EFBIG: "the file is larger than this file system allows: choose another output folder",
    errno.EROFS: "the file system is read-only: choose another output folder",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "not permitted: choose a folder you can write to",
    errno.EISDIR: "a folder is in the way of the file: remove it or choose another output folder",
    errno.ENOTDIR: "a file is in the way of a folder on the path: remove it or choose another output folder",
    errno.ENAMETOOLONG: "the name is too long for the file system: choose a shorter output path",
    errno.EIO: "the device reported an input/output error: check the disk",
}


#: the errno values that can only come from a write, whatever the call (PyAV's muxer, tensorboard)
DISK_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


class OutputError(StafError):
    """An output could not be written (a full disk, a folder in the way, no permission)."""


def write_failure(path: str | Path, error: OSError) -> OutputError | None:
    """The user's message for ``error`` raised while writing ``path``; None when it is not a
    write failure staf can explain (then it is a defect and stays one)."""
    advice = WRITE_ERRORS.get(error.errno)
    if advice is None:
        return None
    shown = str(path)
    return OutputError(f"cannot write {shown[:160]}{'…' if len(shown) > 160 else ''}: {advice}")


def _disk_full(folder: Path) -> bool:
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 1 << 20


def atomic_write(path: str | Path, write: Callable) -> Path:
    """Write ``path`` through ``write(binary_handle)``: temporary file, fsync, rename.

    Raises :class:`OutputError` when the write fails for a reason of the output's place (module
    docstring); ``torch.save``'s own report of a short write (a ``RuntimeError``) on a full disk
    is one too. Nothing is left under ``path`` or the temporary name."""
    path = Path(path)
    with signals_held():
        return _atomic_write(path, path.with_name(f".{path.name}.partial"), write)


_held = 0                              # how many signals_held() blocks are open
_pending: list[Callable[[], None]] = []


@contextlib.contextmanager
def signals_held():
    """Hold back the stop signals' handlers (those wrapped by :func:`deferrable`) while the block
    runs, and run the first one that came at its end: a file being written is finished (or
    removed) before the stop. Without this, SIGTERM's exception, raised inside ``torch.save``'s
    C++ writer, came out as torch's ``RuntimeError: unexpected pos``. (Blocking the signal with
    ``pthread_sigmask`` is not enough: torch's threads would take it.)"""
    global _held
    _held += 1
    try:
        yield
    finally:
        _held -= 1
        if _held == 0 and _pending:
            handler = _pending[0]
            _pending.clear()
            handler()


def deferrable(handler: Callable) -> Callable:
    """A signal handler that waits for the end of any :func:`signals_held` block it interrupts."""
    def held_back(number, frame):
        if _held:
            _pending.append(lambda: handler(number, frame))
            return
        handler(number, frame)

    return held_back


def _atomic_write(path: Path, temporary: Path, write: Callable) -> Path:
    try:
        if path.is_dir():
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except OSError as error:
        failure = write_failure(path, error)
        if failure is None:
            raise
        raise failure from None
    except RuntimeError:          # torch's zip writer: "... unexpected pos ..." on a short write
        if _disk_full(path.parent):
            raise OutputError(f"cannot write {path}: the disk is full: free some space or choose another output "
                              "folder") from None
        raise
    finally:
        try:
            temporary.unlink(missing_ok=True)
        except OSError:
            pass
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
