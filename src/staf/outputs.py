"""The output folder of a command that writes several files (``staf demo``, ``staf eval``):
everything is written into ``OUT/<partial>`` and moved into ``OUT`` once complete, with the
command's manifest last.

The overwrite rule (README, docs/demo.md), the same for every command:

- a file of ``OUT`` may be replaced only when staf wrote it there before: its name is one the
  command writes (:attr:`OutputRule.names`) *and* the earlier run's manifest lists it; an ``OUT``
  holding such results is refused unless ``force`` is set;
- a file under one of the command's output names that no manifest vouches for (a user's
  ``track_0.glb`` or ``metrics.json``) is refused without ``force``;
- an input (a file inside ``OUT`` under an output name, or an input folder that is ``OUT`` or
  holds it) is never written over, ``force`` or not;
- ``force`` never deletes a file whose name the command does not produce, whatever a manifest lists;
- a run that fails or is stopped leaves ``OUT`` as it was (the staging folder is removed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import shutil
from pathlib import Path

from staf.errors import InvalidInputError


@dataclasses.dataclass(frozen=True)
class OutputRule:
    """One command's output folder.

    Attributes:
        manifest: the manifest's file name (it lists the files under ``"files"``).
        partial: the staging folder's name inside ``OUT``.
        names: every name (relative to ``OUT``, ``/``-separated) the command writes.
        nested: glob patterns (relative to ``OUT``) of the files below its top level that it writes.
    """

    manifest: str
    partial: str
    names: re.Pattern
    nested: tuple[str, ...] = ()

    def is_output_name(self, name: str) -> bool:
        return self.names.fullmatch(name) is not None

    def listed(self, out: Path) -> set[str]:
        """The names an earlier run's manifest lists that are output names (empty: none, or unreadable)."""
        try:
            files = json.loads((out / self.manifest).read_text()).get("files", [])
        except (OSError, ValueError, AttributeError, RecursionError):
            return set()
        if not isinstance(files, list):
            return set()
        return {name for name in files if isinstance(name, str) and self.is_output_name(name)}

    def existing(self, out: Path) -> list[str]:
        """Files of ``out`` under output names, relative."""
        if not out.is_dir():
            return []
        names = [path.name for path in out.iterdir() if path.is_file()]
        for pattern in self.nested:
            names += [path.relative_to(out).as_posix() for path in out.glob(pattern) if path.is_file()]
        return sorted(name for name in names if self.is_output_name(name))

    def check_not_input(self, out: Path, source: Path) -> None:
        """Refuse an ``out`` that would write over the input ``source`` (module docstring)."""
        out_path, source_path = out.absolute().resolve(), source.absolute().resolve()
        if source_path.is_dir() and (out_path == source_path or source_path in out_path.parents):
            raise InvalidInputError(f"--out {out} is the input folder {source} (or inside it); choose another folder")
        if source_path.is_file() and source_path.parent == out_path and self.is_output_name(source_path.name):
            raise InvalidInputError(f"--out {out} would write {source_path.name} over the input file {source}; choose "
                                    "another folder (--force never replaces an input)")

    def prepare(self, out: Path, force: bool, inputs: tuple[Path | str | None, ...] = ()) -> Path:
        """Check ``out`` before any work (module docstring); returns the empty staging folder inside it."""
        try:
            return self._prepare(Path(out), force, [Path(p) for p in inputs if p is not None])
        except InvalidInputError:
            raise
        except OSError as exc:                   # a name too long for the file system, a loop of links, …
            shown = str(out)
            raise InvalidInputError(f"--out {shown[:120]}{'…' if len(shown) > 120 else ''}: cannot write there "
                                    f"({exc.strerror or exc})") from None

    def _prepare(self, out: Path, force: bool, inputs: list[Path]) -> Path:
        if out.exists() and not out.is_dir():
            raise InvalidInputError(f"--out {out} is a file; give a folder")
        for source in inputs:
            self.check_not_input(out, source)
        blocked = sorted(path.name for path in out.iterdir() if path.is_dir() and self.is_output_name(path.name)) \
            if out.is_dir() else []
        if blocked:
            raise InvalidInputError(f"--out {out} holds a folder where staf writes a file ({', '.join(blocked[:3])}); "
                                    "move it away or choose another folder")
        present, listed = self.existing(out), self.listed(out)
        foreign = [name for name in present if name not in listed and name != self.manifest]
        if foreign and not force:
            raise InvalidInputError(f"--out {out} holds files staf did not write there ({', '.join(foreign[:3])}"
                                    f"{' …' if len(foreign) > 3 else ''}) under the names it writes; pass --force "
                                    "to replace them or choose another folder")
        if present and not force:
            raise InvalidInputError(f"--out {out} already holds results ({', '.join(present[:4])}"
                                    f"{' …' if len(present) > 4 else ''}); pass --force to replace them or choose "
                                    "another folder")
        staging = out / self.partial
        if staging.is_dir() and not staging.is_symlink():
            shutil.rmtree(staging)
        elif staging.exists() or staging.is_symlink():
            staging.unlink()
        staging.mkdir(parents=True)
        return staging

    def publish(self, staging: Path, out: Path, files: list[str]) -> None:
        """Replace an earlier run's listed output files by the new ones (manifest last); a listed
        name the command does not write is left alone. A file in the way of a new one that is a
        folder is refused before anything moves."""
        from staf.io import OutputError

        for name in files:
            if (out / name).is_dir() and not (out / name).is_symlink():
                raise OutputError(f"cannot write {out / name}: a folder is in the way of the file: remove it or "
                                  "choose another output folder")
        for name in self.listed(out):
            target = out / name
            if name not in files and target.is_file() and target.resolve().is_relative_to(out.resolve()):
                target.unlink()
        for name in sorted(files, key=lambda n: n == self.manifest):
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            (staging / name).replace(target)
        shutil.rmtree(staging, ignore_errors=True)

    @contextlib.contextmanager
    def staged(self, out: Path, force: bool, inputs: tuple[Path | str | None, ...] = ()):
        """Check ``out`` (:meth:`prepare`) and yield the empty staging folder; when the block fails
        or is stopped, the staging folder is removed (``out`` stays as it was) and a write error
        names the file where it would have been published. Publishing is the block's own work."""
        staging = self.prepare(out, force, inputs)
        try:
            yield staging
        except BaseException as error:
            self.discard(staging, out)
            shown = self.in_out(error)
            if shown is error:
                raise
            raise shown from None

    def in_out(self, error: BaseException) -> BaseException:
        """``error`` with the staging folder's name taken out of its message: a file that could not
        be written is named where it would have been published."""
        from staf.io import OutputError

        if isinstance(error, OutputError):
            return OutputError(str(error).replace(f"/{self.partial}/", "/"))
        return error

    @staticmethod
    def discard(staging: Path, out: Path) -> None:
        """Remove the staging folder of a failed run (and ``out`` when that leaves it empty)."""
        shutil.rmtree(staging, ignore_errors=True)
        if out.exists() and not any(out.iterdir()):
            out.rmdir()


def write_manifest(path: Path, manifest: dict) -> None:
    from staf.io import atomic_write_text

    atomic_write_text(path, json.dumps(manifest, indent=2))
