"""How straight a track's path is, in the camera and in the world (issue 32's measure), and a
top view of it.

Reads ``staf_output.pkl`` of a ``staf demo`` run. For each track, on the ground (x and z of
``transl``, the camera frame, and of ``world_transl``, the first camera's frame):

- the RMS distance of the path from its best-fitting line (principal axis) over the start-to-end
  distance (0 for a straight walk);
- the path length (sum of the per-frame steps) over the start-to-end distance (1 for a straight,
  jitter-free walk).

    staf demo ../shared/media/phalp_vid.mp4 --out runs/phalp --no-render
    python scripts/world_trajectory.py runs/phalp/staf_output.pkl --plot runs/phalp/trajectory.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def straightness(points: np.ndarray) -> dict:
    """(T, 2) ground positions → start-to-end distance, path length, their ratio, RMS off the line."""
    span = float(np.linalg.norm(points[-1] - points[0]))
    length = float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())
    centred = points - points.mean(0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    off = centred - np.outer(centred @ axis, axis)
    rms = float(np.sqrt((off ** 2).sum(1).mean()))
    return {"start_to_end_m": span, "path_m": length, "path_over_span": length / span if span else float("inf"),
            "rms_off_line_over_span": rms / span if span else float("inf")}


def plot(paths: dict[str, np.ndarray], path: Path, size: int = 640) -> None:
    """A top view (x right, z up the picture) of each named (T, 2) path, drawn with OpenCV."""
    import cv2

    everything = np.concatenate(list(paths.values()))
    low, high = everything.min(0), everything.max(0)
    scale = (size - 80) / max(float((high - low).max()), 1e-6)
    canvas = np.full((size, size, 3), 255, np.uint8)
    colours = [(200, 80, 30), (30, 140, 30), (30, 30, 200), (150, 30, 150)]
    for index, (name, points) in enumerate(paths.items()):
        pixels = np.stack([40 + (points[:, 0] - low[0]) * scale, size - 40 - (points[:, 1] - low[1]) * scale], 1)
        cv2.polylines(canvas, [pixels.round().astype(np.int32)], False, colours[index % 4], 2, cv2.LINE_AA)
        cv2.circle(canvas, tuple(pixels[0].round().astype(int)), 5, colours[index % 4], -1)
        cv2.putText(canvas, name, (10, 20 + 18 * index), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colours[index % 4], 1)
    cv2.putText(canvas, f"{1 / scale * 100:.1f} m per 100 px; dot: start", (10, size - 12), cv2.FONT_HERSHEY_SIMPLEX,
                0.45, (0, 0, 0), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), canvas)


def main() -> None:
    import joblib

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="staf_output.pkl")
    parser.add_argument("--plot", type=Path, help="top-view PNG")
    args = parser.parse_args()
    tracks = joblib.load(args.results)
    report, paths = {}, {}
    for track_id, track in tracks.items():
        for key in ("transl", "world_transl"):
            points = np.asarray(track[key], np.float64)[:, [0, 2]]
            report[f"track {track_id} {key}"] = straightness(points)
            paths[f"#{track_id} {'camera' if key == 'transl' else 'world'}"] = points
    print(json.dumps(report, indent=1))
    if args.plot:
        plot(paths, args.plot)


if __name__ == "__main__":
    main()
