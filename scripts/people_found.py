"""People the detector finds in real clips, against people counted by eye (issue 33, part 1).

For each video in ``--clips``: the detector runs over the first ``--frame`` + 1 frames as a video
(so that following and the tiled pass act as in ``staf demo``); on the last of them it reports the
people found, those whose box is a fifth of the frame high or more, and the mean time per frame.
``--images DIR`` writes that frame with the boxes drawn (score at the top left), for counting by
eye. Run it twice, ``--detector-set tile_every=0`` (the whole-frame pass only) and the defaults:

    python scripts/people_found.py --clips ../shared/media --frame 30 --detector-set tile_every=0 --json runs/found_before.json
    python scripts/people_found.py --clips ../shared/media --frame 30 --images runs/found --json runs/found_after.json

``--tracks`` reads each whole clip instead and reports the tracks ``staf demo``'s tracker makes of
the detections (at least 9 frames long), with their lengths.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from staf.inference.blazepose import BlazePoseDetector, detector_config
from staf.inference.people import FramePeople
from staf.inference.tracking import track_boxes
from staf.inference.video import VideoSource


def draw(image: np.ndarray, people, path: Path) -> None:
    import cv2

    canvas = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    width = max(2, canvas.shape[1] // 400)
    for index, person in enumerate(people):
        x1, y1, x2, y2 = person.box.astype(int)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), (0, 255, 0), width)
        cv2.putText(canvas, f"{index}:{person.score:.2f}", (x1 + 2, y1 + 18 * width // 2), 0, 0.3 * width,
                    (0, 0, 255), width)
    scale = 960 / max(canvas.shape[:2])
    cv2.imwrite(str(path), cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, required=True)
    parser.add_argument("--frame", type=int, default=30)
    parser.add_argument("--detector-set", nargs="+", action="extend", default=[], metavar="FIELD=VALUE",
                        help="DetectorConfig fields, as staf demo --detector-set (several after one flag)")
    parser.add_argument("--images", type=Path)
    parser.add_argument("--tracks", action="store_true", help="read whole clips and report the tracks")
    parser.add_argument("--tracker-boxes-only", action="store_true", help="the tracker without keypoints (as before)")
    parser.add_argument("--only", nargs="*", default=None, help="clip names to run (default: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    detector = BlazePoseDetector(detector_config(args.detector_set))
    report = {"settings": args.detector_set, "frame": args.frame, "clips": {}}
    if args.images:
        args.images.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in args.clips.iterdir() if p.suffix in (".mp4", ".avi", ".mov", ".webm")):
        if args.only and path.name not in args.only:
            continue
        detector.reset()
        source = VideoSource(path)
        seconds, people, counts, everyone = 0.0, [], [], []
        for frame in source:
            clock = time.perf_counter()
            people = detector(frame.image)
            seconds += time.perf_counter() - clock
            counts.append(len(people))
            everyone.append(FramePeople.from_people(people) if args.tracks else None)
            if frame.index >= args.frame and not args.tracks:
                break
        if args.tracks:
            frames = everyone
            poses = None if args.tracker_boxes_only else [f.keypoints for f in frames]
            tracks = track_boxes([f.boxes for f in frames], keypoints=poses)
            report["clips"][path.name] = {"frames": len(frames), "tracks": len(tracks),
                                          "track_lengths": [len(track.frames) for track in tracks],
                                          "people_per_frame": float(np.mean(counts)),
                                          "ms_per_frame": 1000 * seconds / len(counts)}
            print(path.name, json.dumps(report["clips"][path.name]))
            continue
        tall = [p for p in people if p.box[3] - p.box[1] >= source.info.height / 5]
        report["clips"][path.name] = {"found": len(people), "found_fifth_high": len(tall),
                                      "people_per_frame": float(np.mean(counts)),
                                      "ms_per_frame": 1000 * seconds / len(counts)}
        print(path.name, json.dumps(report["clips"][path.name]))
        if args.images:
            draw(frame.image, people, args.images / f"{path.stem}.png")
    times = [clip["ms_per_frame"] for clip in report["clips"].values()]
    report["mean_ms_per_frame"] = float(np.mean(times))
    print(f"mean {report['mean_ms_per_frame']:.1f} ms/frame")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
