"""Does a change of the demo pipeline change what ``staf demo`` writes?

    python scripts/check_demo_unchanged.py record --out /tmp/before      # with the old code
    python scripts/check_demo_unchanged.py record --out /tmp/after       # with the new code
    python scripts/check_demo_unchanged.py compare /tmp/before /tmp/after

``record`` runs ``staf demo`` (the shipped default model) on the four original videos of
``../shared/media``, with and without ``--smooth``, into ``OUT/VIDEO-MODE``. ``compare`` reads
both sides and prints, per run: the largest difference over every array of
``staf_output.npz`` (NaNs must sit in the same places), whether the overlay frames are equal
(decoded, largest pixel difference), whether ``staf_demo.json`` is equal apart from the timings
(``seconds``) and settings the old side did not have (named in the report), and whether the glb/bvh files are byte-equal. It exits 1 when an array differs by
more than ``--tolerance`` (1e-6) or anything else differs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"
VIDEOS = ("gvhmr_tennis.mp4", "phalp_vid.mp4", "openpose_video.avi", "mmaction2_basketball.mp4")
MODES = {"plain": [], "smooth": ["--smooth"]}


def record(out: Path) -> None:
    for video in VIDEOS:
        for mode, flags in MODES.items():
            target = out / f"{Path(video).stem}-{mode}"
            command = [sys.executable, "-m", "staf.cli", "demo", str(MEDIA / video), "--out", str(target),
                       "--quiet", "--force", *flags]
            print(" ".join(command[2:]), flush=True)
            subprocess.run(command, check=True)


def _frames(path: Path) -> list[np.ndarray]:
    from staf.inference.video import VideoSource

    return [frame.image for frame in VideoSource(path)]


def _array_difference(before: np.ndarray, after: np.ndarray) -> float:
    if before.shape != after.shape:
        return float("inf")
    if before.dtype.kind not in "fc":
        return 0.0 if np.array_equal(before, after) else float("inf")
    if not np.array_equal(np.isnan(before), np.isnan(after)):
        return float("inf")
    finite = ~np.isnan(before)
    return float(np.abs(before[finite].astype(np.float64) - after[finite]).max(initial=0.0))


def compare_run(before: Path, after: Path) -> dict:
    old, new = np.load(before / "staf_output.npz"), np.load(after / "staf_output.npz")
    keys_equal = sorted(old.files) == sorted(new.files)
    largest = max((_array_difference(old[key], new[key]) for key in old.files if key in new.files), default=0.0)
    manifest_old, manifest_new = (json.loads((side / "staf_demo.json").read_text()) for side in (before, after))
    for manifest in (manifest_old, manifest_new):
        manifest.pop("seconds", None)
    added = sorted(set(manifest_new.get("settings", {})) - set(manifest_old.get("settings", {})))
    for name in added:                      # settings that did not exist before (their defaults)
        manifest_new["settings"].pop(name)
    frames_old, frames_new = _frames(before / "overlay.mp4"), _frames(after / "overlay.mp4")
    same_count = len(frames_old) == len(frames_new)
    pixel = max((int(np.abs(a.astype(int) - b).max()) for a, b in zip(frames_old, frames_new)), default=0)
    exports = sorted(p.name for p in before.glob("track_*.*"))
    exports_equal = exports == sorted(p.name for p in after.glob("track_*.*")) and all(
        (before / name).read_bytes() == (after / name).read_bytes() for name in exports)
    return {"npz keys equal": keys_equal, "largest array difference": largest,
            "manifest equal but seconds": manifest_old == manifest_new, "new settings": ",".join(added) or "none",
            "overlay frames": len(frames_new), "overlay largest pixel difference": pixel if same_count else None,
            "glb/bvh byte-equal": exports_equal}


def compare(before: Path, after: Path, tolerance: float) -> int:
    failed = False
    for run in sorted(p.name for p in before.iterdir() if p.is_dir()):
        result = compare_run(before / run, after / run)
        good = (result["npz keys equal"] and result["largest array difference"] <= tolerance
                and result["manifest equal but seconds"] and result["overlay largest pixel difference"] == 0
                and result["glb/bvh byte-equal"])
        failed |= not good
        shown = ", ".join(f"{k}: {v:.2e}" if isinstance(v, float) else f"{k}: {v}" for k, v in result.items())
        print(f"{run:34s} {'same' if good else 'DIFFERENT'}  ({shown})")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("record")
    run.add_argument("--out", type=Path, required=True)
    check = commands.add_parser("compare")
    check.add_argument("before", type=Path)
    check.add_argument("after", type=Path)
    check.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out)
        return 0
    return compare(args.before, args.after, args.tolerance)


if __name__ == "__main__":
    sys.exit(main())
