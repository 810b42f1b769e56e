"""Two rendered people passing each other, through the detector and ``staf demo``'s tracker,
scored against the truth (issue 33): recall, false people, identity switches.

Each scene is :func:`staf.data.synthetic.crossing.crossing_scene` with seed 0, 1, …: two people
walking across a static camera's view in opposite directions, the far one ``--depth-gaps`` metres
behind the near one (cycled over the seeds), hidden by the near one as they pass. Tracks are
``staf demo``'s (:func:`staf.inference.tracking.track_boxes` on boxes and keypoints, 9 frames or
more); the score is :func:`staf.evaluation.tracking.score_tracks` (CLEAR MOT's counts, IoU ≥ 0.5,
people counted where half of them or more is seen):

    python scripts/crossing_eval.py --scenes 6 --json runs/crossing_after.json
    python scripts/crossing_eval.py --scenes 6 --detector-set $BEFORE --tracker-boxes-only --json runs/crossing_before.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from staf.data.synthetic.crossing import CrossingConfig, crossing_scene
from staf.evaluation.tracking import score_tracks
from staf.inference.blazepose import BlazePoseDetector, detector_config
from staf.inference.people import FramePeople
from staf.inference.tracking import TrackerConfig, track_boxes


def run_scene(detector: BlazePoseDetector, config: CrossingConfig, boxes_only: bool) -> dict:
    frames, truth = crossing_scene(config)
    detector.reset()
    clock = time.perf_counter()
    people = [FramePeople.from_people(detector(image)) for image in frames]
    seconds = time.perf_counter() - clock
    poses = None if boxes_only else [found.keypoints for found in people]
    tracks = track_boxes([found.boxes for found in people], TrackerConfig(), poses)
    boxes = {track.track_id: dict(zip(track.frames.tolist(), track.boxes)) for track in tracks}
    score = score_tracks(boxes, truth.boxes, truth.visible)
    return {"seed": config.seed, "depth_gap": config.depth_gap, **score.as_dict(),
            "track_lengths": [len(track.frames) for track in tracks],
            "detections_per_frame": float(np.mean([len(found.boxes) for found in people])),
            "ms_per_frame": 1000 * seconds / len(frames)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--depth-gaps", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--detector-set", nargs="+", action="extend", default=[], metavar="FIELD=VALUE",
                        help="DetectorConfig fields, as staf demo --detector-set (several after one flag)")
    parser.add_argument("--tracker-boxes-only", action="store_true", help="the tracker without keypoints (as before)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    detector = BlazePoseDetector(detector_config(args.detector_set))
    rows = []
    for seed in range(args.scenes):
        config = CrossingConfig(frames=args.frames, seed=seed, depth_gap=args.depth_gaps[seed % len(args.depth_gaps)])
        rows.append(run_scene(detector, config, args.tracker_boxes_only))
        print(json.dumps(rows[-1]))
    total = {key: sum(row[key] for row in rows) for key in ("people", "found", "false", "switches", "frames")}
    total["recall"] = total["found"] / total["people"]
    total["ms_per_frame"] = float(np.mean([row["ms_per_frame"] for row in rows]))
    total["scenes_with_two_tracks"] = sum(row["tracks"] == 2 for row in rows)
    print("all", json.dumps(total))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"settings": args.detector_set, "scenes": rows, "all": total}, indent=2) + "\n")


if __name__ == "__main__":
    main()
