"""Does a change of the demo pipeline change what ``staf demo`` writes?

    python scripts/check_demo_unchanged.py record --out /tmp/before      # with the old code
    python scripts/check_demo_unchanged.py record --out /tmp/after       # with the new code
    python scripts/check_demo_unchanged.py compare /tmp/before /tmp/after

``record`` runs ``staf demo`` (the shipped default model) on the four original videos of
``../shared/media``, with and without ``--smooth``, into ``OUT/VIDEO-MODE``. ``compare`` reads
both sides and prints, per run:

- the largest difference over every array of ``staf_output.npz`` (NaNs must sit in the same
  places), and the largest in units of float32 rounding steps (ulps) of the values;
- whether the overlay frames are equal (decoded, largest pixel difference);
- whether ``staf_demo.json`` is equal apart from the timings (``seconds``) and settings the old
  side did not have (named in the report);
- whether every ``track_*.glb`` / ``.bvh`` is byte-equal, else equal but for numbers within the
  tolerance (glb: its float32 words; bvh: its printed numbers).

Numbers pass when ``|a − b| ≤ atol + rtol·|a|`` with ``--atol`` 1e-6 and ``--rtol`` 2⁻²² (two
float32 ulps: a depth of 17 m cannot change by less than 1.9e-6 in float32). It exits 1 when
anything fails.
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
ATOL, RTOL = 1e-6, 2.0**-22


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


def _array_difference(before: np.ndarray, after: np.ndarray) -> tuple[float, float, bool]:
    """(largest absolute difference, largest in float32 ulps, within the tolerance)."""
    if before.shape != after.shape:
        return float("inf"), float("inf"), False
    if before.dtype.kind not in "fc":
        same = np.array_equal(before, after)
        return (0.0, 0.0, True) if same else (float("inf"), float("inf"), False)
    if not np.array_equal(np.isnan(before), np.isnan(after)):
        return float("inf"), float("inf"), False
    finite = ~np.isnan(before)
    old, new = before[finite].astype(np.float64), after[finite].astype(np.float64)
    difference = np.abs(old - new)
    ulps = difference / np.spacing(np.abs(old).astype(np.float32)).astype(np.float64)
    good = bool(np.all(difference <= ATOL + RTOL * np.abs(old)))
    return float(difference.max(initial=0.0)), float(ulps.max(initial=0.0)), good


def _numbers_close(before: np.ndarray, after: np.ndarray) -> bool:
    return before.shape == after.shape and bool(np.all(np.abs(before - after) <= ATOL + RTOL * np.abs(before)))


def _glb_close(before: bytes, after: bytes) -> bool:
    """Equal bytes but for float32 words within the tolerance (a glb's JSON, indices and weights
    must be byte-equal: their words differ only where a float differs)."""
    if len(before) != len(after) or len(before) % 4:
        return False
    old, new = np.frombuffer(before, np.uint32), np.frombuffer(after, np.uint32)
    differ = old != new
    return _numbers_close(old[differ].view(np.float32).astype(np.float64), new[differ].view(np.float32).astype(np.float64))


def _bvh_close(before: str, after: str) -> bool:
    """Equal words but for numbers within the tolerance."""
    old, new = before.split(), after.split()
    if len(old) != len(new):
        return False
    numbers = []
    for a, b in zip(old, new):
        if a != b:
            try:
                numbers.append((float(a), float(b)))
            except ValueError:
                return False
    values = np.array(numbers, np.float64).reshape(-1, 2)
    return _numbers_close(values[:, 0], values[:, 1])


def _exports(before: Path, after: Path) -> str:
    names = sorted(p.name for p in before.glob("track_*.*"))
    if names != sorted(p.name for p in after.glob("track_*.*")):
        return "DIFFERENT files"
    old = {name: (before / name).read_bytes() for name in names}
    new = {name: (after / name).read_bytes() for name in names}
    if all(old[name] == new[name] for name in names):
        return "byte-equal"
    close = all(old[name] == new[name] or (_glb_close(old[name], new[name]) if name.endswith(".glb")
                                           else _bvh_close(old[name].decode(), new[name].decode()))
                for name in names)
    return "equal within the tolerance" if close else "DIFFERENT"


def compare_run(before: Path, after: Path) -> dict:
    old, new = np.load(before / "staf_output.npz"), np.load(after / "staf_output.npz")
    keys_equal = sorted(old.files) == sorted(new.files)
    differences = {key: _array_difference(old[key], new[key]) for key in old.files if key in new.files}
    largest = max((value[0] for value in differences.values()), default=0.0)
    ulps = max((value[1] for value in differences.values()), default=0.0)
    arrays_good = all(value[2] for value in differences.values())
    changed = sorted({key.split("/", 1)[1] for key, value in differences.items() if value[0] > 0})
    manifest_old, manifest_new = (json.loads((side / "staf_demo.json").read_text()) for side in (before, after))
    for manifest in (manifest_old, manifest_new):
        manifest.pop("seconds", None)
    added = sorted(set(manifest_new.get("settings", {})) - set(manifest_old.get("settings", {})))
    for name in added:                      # settings that did not exist before (their defaults)
        manifest_new["settings"].pop(name)
    frames_old, frames_new = _frames(before / "overlay.mp4"), _frames(after / "overlay.mp4")
    same_count = len(frames_old) == len(frames_new)
    pixel = max((int(np.abs(a.astype(int) - b).max()) for a, b in zip(frames_old, frames_new)), default=0)
    return {"npz keys equal": keys_equal, "arrays within tolerance": arrays_good,
            "largest array difference": largest, "in float32 ulps": ulps, "arrays that differ": ",".join(changed) or "none",
            "manifest equal but seconds": manifest_old == manifest_new, "new settings": ",".join(added) or "none",
            "overlay frames": len(frames_new), "overlay largest pixel difference": pixel if same_count else None,
            "glb/bvh": _exports(before, after)}


def compare(before: Path, after: Path) -> int:
    failed = False
    for run in sorted(p.name for p in before.iterdir() if p.is_dir()):
        result = compare_run(before / run, after / run)
        good = (result["npz keys equal"] and result["arrays within tolerance"]
                and result["manifest equal but seconds"] and result["overlay largest pixel difference"] == 0
                and not result["glb/bvh"].startswith("DIFFERENT"))
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
    check.add_argument("--atol", type=float, default=1e-6)
    check.add_argument("--rtol", type=float, default=2.0**-22)
    args = parser.parse_args()
    if args.command == "record":
        record(args.out)
        return 0
    global ATOL, RTOL
    ATOL, RTOL = args.atol, args.rtol
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
