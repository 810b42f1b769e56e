"""Collect RUNS/*/eval/metrics.json into the Markdown table of docs/RESULTS.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ORDER = ("mean-pose", "base", "base+apm", "base+stf", "staf", "tar-single", "tar-no-lte", "tar-no-gte", "tar")


def main() -> None:
    runs = Path(sys.argv[1])
    print("| model | PA-MPJPE ↓ | MPJPE ↓ | PVE ↓ | Accel ↓ (mm/frame²) | Accel (m/s²) |")
    print("|---|---|---|---|---|---|")
    names = [*ORDER, *sorted(p.name for p in runs.iterdir() if p.is_dir() and p.name not in ORDER)]
    for name in names:
        path = runs / name / "eval" / "metrics.json"
        if not path.is_file():
            continue
        m = json.loads(path.read_text())["metrics"]
        cell = lambda key: "–" if m.get(key) is None else f"{m[key]:.1f}"  # noqa: E731
        print(f"| {name} | {cell('pa_mpjpe')} | {cell('mpjpe')} | {cell('pve')} | {cell('accel')} | {cell('accel_ms2')} |")


if __name__ == "__main__":
    main()
