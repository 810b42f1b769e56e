"""Box jitter of the BlazePose detector on still videos and real clips (issue 33, part 3).

Stills: each LSP-dev image is repeated ``--repeat`` times as a video; the person whose box best
overlaps the labelled joints' box is followed frame to frame, and the jitter is the
frame-to-frame change of the box height over the box height, |h_t − h_{t−1}| / h_{t−1}. A still
should give the same box every frame (0 %).

Clips: every frame of each video; people matched frame to frame by box IoU (≥ 0.3, best first),
the same ratio over every matched pair.

    python scripts/box_jitter.py --lsp ../shared/real_images/lsp_dev --limit 200 --json runs/jitter_stills.json
    python scripts/box_jitter.py --clips ../shared/media --every 1 --max-frames 150 --json runs/jitter_clips.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from staf.data.crops import read_image
from staf.geometry.boxes import iou_matrix
from staf.inference.blazepose import BlazePoseDetector, detector_config


def still_jitter(detector: BlazePoseDetector, image: np.ndarray, target_box: np.ndarray, repeat: int) -> dict:
    """One image as ``repeat`` identical frames → the changes of the followed person's box height."""
    detector.reset()
    heights, missing = [], 0
    for _ in range(repeat):
        people = detector(image)
        if not people:
            missing += 1
            heights.append(np.nan)
            continue
        overlaps = iou_matrix(target_box, np.array([person.box for person in people])).reshape(-1)
        box = people[int(np.argmax(overlaps))].box
        heights.append(float(box[3] - box[1]) if overlaps.max() > 0.1 else np.nan)
    heights = np.array(heights)
    changes = np.abs(np.diff(heights)) / heights[:-1]
    return {"heights": heights.tolist(), "changes": changes[np.isfinite(changes)].tolist(), "missing": missing,
            "broken": int(np.isnan(heights).sum())}


def clip_jitter(detector: BlazePoseDetector, path: Path, every: int, max_frames: int) -> tuple[list[float], list[int]]:
    """Relative box-height changes of people matched frame to frame, and the people count per frame."""
    from staf.inference.video import VideoSource

    detector.reset()
    changes, previous, counts = [], np.zeros((0, 4)), []
    for frame in VideoSource(path):
        if frame.index >= max_frames:
            break
        if frame.index % every:
            continue
        boxes = np.array([person.box for person in detector(frame.image)]).reshape(-1, 4)
        counts.append(len(boxes))
        if len(previous) and len(boxes):
            overlaps = iou_matrix(previous, boxes)
            while overlaps.size and overlaps.max() >= 0.3:
                i, j = np.unravel_index(np.argmax(overlaps), overlaps.shape)
                before, after = previous[i, 3] - previous[i, 1], boxes[j, 3] - boxes[j, 1]
                changes.append(abs(after - before) / before)
                overlaps[i, :], overlaps[:, j] = -1, -1
        previous = boxes
    return changes, counts


def summary(changes: list[float]) -> dict:
    values = np.array(changes)
    return {"pairs": len(values), "median": float(np.median(values)) if len(values) else None,
            "p90": float(np.percentile(values, 90)) if len(values) else None,
            "worst": float(values.max()) if len(values) else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lsp", type=Path, help="LSP-dev folder (images/, joints.npy)")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--upscale", type=int, default=0, metavar="PX",
                        help="scale each still so that its longer side is PX (0: as stored), e.g. 2048 for a photo's size")
    parser.add_argument("--clips", type=Path, help="folder of videos")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--max-frames", type=int, default=150)
    parser.add_argument("--detector-set", nargs="+", action="extend", default=[], metavar="FIELD=VALUE",
                        help="DetectorConfig fields, as staf demo --detector-set (several after one flag)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    detector = BlazePoseDetector(detector_config(args.detector_set))
    report: dict = {"settings": args.detector_set}
    if args.lsp:
        joints = np.load(args.lsp / "joints.npy")
        stills, changes = [], []
        for index in tqdm(range(min(args.limit, len(joints))), desc="stills", unit="image"):
            image = read_image(args.lsp / "images" / f"im{index + 1:04d}.jpg")
            low, high = joints[index, :, :2].min(0), joints[index, :, :2].max(0)
            if args.upscale:
                import cv2

                factor = args.upscale / max(image.shape[:2])
                image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
                low, high = low * factor, high * factor
            result = still_jitter(detector, image, np.concatenate([low, high]), args.repeat)
            stills.append(result)
            changes += result["changes"]
        worst_per_image = [max(s["changes"]) for s in stills if s["changes"]]
        report["stills"] = {**summary(changes), "images": len(stills),
                            "images_with_a_change_over_5pct": int(sum(w > 0.05 for w in worst_per_image)),
                            "frames_without_the_person": int(sum(s["broken"] for s in stills)),
                            "median_of_worst_per_image": float(np.median(worst_per_image)) if worst_per_image else None}
        print("stills:", json.dumps(report["stills"]))
    if args.clips:
        report["clips"] = {}
        for path in sorted(p for p in args.clips.iterdir() if p.suffix in (".mp4", ".avi", ".mov", ".webm")):
            changes, counts = clip_jitter(detector, path, args.every, args.max_frames)
            report["clips"][path.name] = {**summary(changes), "people_per_frame": float(np.mean(counts))}
            print(path.name, json.dumps(report["clips"][path.name]))
        everything = [v["median"] for v in report["clips"].values() if v["median"] is not None]
        report["clips_median_of_medians"] = float(np.median(everything)) if everything else None
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
