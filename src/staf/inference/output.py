"""The output folder of ``staf demo``: everything is written into ``OUT/.staf-demo.partial`` and
moved into ``OUT`` once complete; an ``OUT`` that holds an earlier run's results is refused
unless ``force`` is set, in which case exactly the files that run listed (its manifest,
``staf_demo.json``) are replaced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from staf.errors import InvalidInputError

MANIFEST = "staf_demo.json"
PARTIAL = ".staf-demo.partial"
#: files of a finished run (besides those the manifest lists) that make OUT "hold results"
RESULT_FILES = ("staf_output.pkl", "staf_output.npz", "overlay.mp4", MANIFEST)


def prepare_output(out: Path, force: bool) -> Path:
    """Check ``out`` before any work; returns the empty staging folder inside it."""
    if out.exists() and not out.is_dir():
        raise InvalidInputError(f"--out {out} is a file; give a folder")
    held = [name for name in RESULT_FILES if (out / name).exists()]
    if held and not force:
        raise InvalidInputError(f"--out {out} already holds results ({', '.join(held)}); pass --force to replace "
                                "them or choose another folder")
    staging = out / PARTIAL
    try:
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir(parents=True)
    except OSError as exc:
        raise InvalidInputError(f"--out {out}: cannot write there ({exc.strerror})") from exc
    return staging


def publish(staging: Path, out: Path, files: list[str]) -> None:
    """Replace an earlier run's listed files by the new ones (manifest last)."""
    old = out / MANIFEST
    if old.exists():
        try:
            previous = json.loads(old.read_text()).get("files", [])
        except (OSError, ValueError):
            previous = []
        for name in previous:
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
