"""Frames per second of the BlazePose detector with its full and its heavy landmark model, back to back.

    python benchmarks/bench_detector.py [--video ../shared/media/sports2d_walk.mp4] [--frames 120] [--rounds 3]

The frames are decoded once; in each round the detector with the full landmark model and the
detector with the heavy one each run over all of them (followed people, as in ``staf demo``),
alternating. Medians over rounds; prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from staf.inference.blazepose import BlazePoseDetector, DetectorConfig
from staf.inference.video import VideoSource

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=MEDIA / "sports2d_walk.mp4")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    images = []
    for frame in VideoSource(args.video):
        images.append(frame.image)
        if len(images) == args.frames:
            break
    detectors = {name: BlazePoseDetector(DetectorConfig(threads=args.threads, landmark_model=name))
                 for name in ("full", "heavy")}
    timings: dict[str, list[float]] = {name: [] for name in detectors}
    people: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, detector in detectors.items():
            detector.reset()
            began = time.perf_counter()
            found = sum(len(detector(image)) for image in images)
            timings[name].append(len(images) / (time.perf_counter() - began))
            people[name] = found
    report = {"video": args.video.name, "frames": len(images), "rounds": args.rounds, "threads": args.threads,
              "cpu": platform.processor() or platform.machine(),
              **{name: {"fps_median": round(statistics.median(values), 2), "fps": [round(v, 2) for v in values],
                        "people_found": people[name]} for name, values in timings.items()}}
    report["heavy_over_full"] = round(report["heavy"]["fps_median"] / report["full"]["fps_median"], 3)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
