"""The output folder of ``staf demo``: everything is written into ``OUT/.staf-demo.partial`` and
moved into ``OUT`` once complete.

The overwrite rule (README, docs/demo.md):

- a file of ``OUT`` may be replaced only when staf wrote it there before: its name is one staf
  demo writes (:data:`OUTPUT_NAME`) *and* the earlier run's manifest (``staf_demo.json``)
  lists it; an ``OUT`` holding such results is refused unless ``force`` is set;
- a file under one of staf's output names that no manifest vouches for (a user's
  ``track_0.glb``) is refused without ``force``;
- the input (a video inside ``OUT``, or an image folder that is ``OUT`` or holds it) is never
  written over, ``force`` or not;
- ``force`` never deletes a file whose name staf does not produce, whatever a manifest lists.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from staf.errors import InvalidInputError

MANIFEST = "staf_demo.json"
PARTIAL = ".staf-demo.partial"
#: every name (relative to OUT) that ``staf demo`` writes
OUTPUT_NAME = re.compile(r"(staf_output\.pkl|staf_output\.npz|overlay\.mp4|staf_demo\.json|track_\d+\.(glb|bvh)|"
                         r"meshes/track_\d+/frame_\d{6,}\.obj)")


def is_output_name(name: str) -> bool:
    return OUTPUT_NAME.fullmatch(name) is not None


def listed_outputs(out: Path) -> set[str]:
    """The names an earlier run's manifest lists that are staf's output names (empty: none, or unreadable)."""
    try:
        files = json.loads((out / MANIFEST).read_text()).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {name for name in files if isinstance(name, str) and is_output_name(name)} if isinstance(files, list) else set()


def existing_outputs(out: Path) -> list[str]:
    """Files of ``out`` under staf's output names, relative (the obj meshes one level down)."""
    if not out.is_dir():
        return []
    names = [path.name for path in out.iterdir() if path.is_file()]
    meshes = out / "meshes"
    if meshes.is_dir():
        names += [str(path.relative_to(out)) for path in meshes.glob("track_*/*") if path.is_file()]
    return sorted(name for name in names if is_output_name(name))


def check_not_input(out: Path, video: Path) -> None:
    """Refuse an ``out`` that would write over the input (module docstring)."""
    out_path, source = out.absolute().resolve(), video.absolute().resolve()
    if source.is_dir() and (out_path == source or source in out_path.parents):
        raise InvalidInputError(f"--out {out} is the input folder {video} (or inside it); choose another folder")
    if source.is_file() and source.parent == out_path and is_output_name(source.name):
        raise InvalidInputError(f"--out {out} would write {source.name} over the input video {video}; choose another "
                                "folder (--force never replaces an input)")


def prepare_output(out: Path, force: bool, video: Path | None = None) -> Path:
    """Check ``out`` before any work (module docstring); returns the empty staging folder inside it."""
    try:
        return _prepare(out, force, video)
    except InvalidInputError:
        raise
    except OSError as exc:                   # a name too long for the file system, a loop of links, …
        raise InvalidInputError(f"--out {str(out)[:120]}{'…' if len(str(out)) > 120 else ''}: cannot write there "
                                f"({exc.strerror or exc})") from None


def _prepare(out: Path, force: bool, video: Path | None) -> Path:
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} is a file; give a folder")
    if video is not None:
        check_not_input(out, Path(video))
    present, listed = existing_outputs(out), listed_outputs(out)
    foreign = [name for name in present if name not in listed and name != MANIFEST]
    if foreign and not force:
        raise InvalidInputError(f"--out {out} holds files staf did not write there ({', '.join(foreign[:3])}"
                                f"{' …' if len(foreign) > 3 else ''}) under the names it writes; pass --force to "
                                "replace them or choose another folder")
    if present and not force:
        raise InvalidInputError(f"--out {out} already holds results ({', '.join(present[:4])}"
                                f"{' …' if len(present) > 4 else ''}); pass --force to replace them or choose another folder")
    staging = out / PARTIAL
    try:
        if staging.is_dir() and not staging.is_symlink():
            shutil.rmtree(staging)
        elif staging.exists() or staging.is_symlink():
            staging.unlink()
        staging.mkdir(parents=True)
    except OSError as exc:
        raise InvalidInputError(f"--out {out}: cannot write there ({exc.strerror or exc})") from exc
    return staging


def publish(staging: Path, out: Path, files: list[str]) -> None:
    """Replace an earlier run's listed output files by the new ones (manifest last); a listed
    name staf does not write is left alone."""
    for name in listed_outputs(out):
        target = out / name
        if name not in files and target.is_file() and target.resolve().is_relative_to(out.resolve()):
            target.unlink()
    for name in sorted(files, key=lambda n: n == MANIFEST):
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        (staging / name).replace(target)
    shutil.rmtree(staging, ignore_errors=True)


def discard(staging: Path, out: Path) -> None:
    """Remove the staging folder of a failed run (and ``out`` when that leaves it empty)."""
    shutil.rmtree(staging, ignore_errors=True)
    if out.exists() and not any(out.iterdir()):
        out.rmdir()


def write_manifest(path: Path, manifest: dict) -> None:
    from staf.io import atomic_write_text

    atomic_write_text(path, json.dumps(manifest, indent=2))
