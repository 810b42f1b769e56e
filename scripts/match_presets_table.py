"""Measure what each ``staf eval --match`` preset changes, on a file made like the peers' 3DPW db.

From a staf synthetic db (e.g. synthbench-test) it writes a copy in the peers' 3DPW style: rows
removed in some videos (gaps in ``frame_id``, as 3DPW's keypoint filter leaves), ``valid`` = 0
on a run of frames in others (3DPW's camera-pose validity), and some videos cut short (fewer than
16 frames). Then it evaluates a checkpoint on that copy with each preset and prints a markdown
table (frames scored, PA-MPJPE, MPJPE, accel).

    python scripts/match_presets_table.py --db DATA/synth/test/synth_test_db.pt \\
        --image-root DATA/synth/test --checkpoint RUNS/staf/stage2/best.pt --out RUNS/match
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from staf.data.db import read_db, split_sequences, write_db

PRESETS = ("staf", "tcmr", "vibe", "staf-official")


def peer_like(data: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    """A copy with gaps, invalid runs and short videos, chosen per video by a seeded draw."""
    rng = np.random.default_rng(seed)
    keep, valid = [], np.asarray(data.get("valid", np.ones(len(data["vid_name"])))).astype(bool).copy()
    for index, sequence in enumerate(split_sequences(data)):
        rows = sequence.rows
        kind = index % 4
        if kind == 1:                       # a gap: 3-6 rows removed from the middle
            start = int(rng.integers(10, len(rows) - 16))
            rows = np.r_[rows[:start], rows[start + int(rng.integers(3, 7)):]]
        elif kind == 2:                     # a run of 5 invalid frames
            start = int(rng.integers(5, len(rows) - 10))
            valid[rows[start : start + 5]] = False
        elif kind == 3:                     # a short video
            rows = rows[:12]
        keep.append(rows)
    rows = np.concatenate(keep)
    out = {key: np.asarray(value)[rows] for key, value in data.items() if np.ndim(value) > 0 and len(value) == len(valid)}
    out["valid"] = valid[rows]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True)
    parser.add_argument("--image-root", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    derived = out / "synth_peerlike_db.pt"
    write_db(derived, peer_like(read_db(args.db)))
    rows = ["| preset | frames scored | PA-MPJPE (mm) | MPJPE (mm) | Accel (mm/frame²) |", "|---|---|---|---|---|"]
    for preset in PRESETS:
        report = out / preset
        subprocess.run([sys.executable, "-m", "staf.cli", "eval", "--checkpoint", args.checkpoint, "--data", str(derived),
                        "--image-root", args.image_root, "--out", str(report), "--match", preset], check=True)
        m = json.loads((report / "metrics.json").read_text())["metrics"]
        rows.append(f"| `{preset}` | {int(m['frames'])} | {m['pa_mpjpe']:.1f} | {m['mpjpe']:.1f} | {m['accel']:.2f} |")
    table = "\n".join(rows)
    (out / "match_presets.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
