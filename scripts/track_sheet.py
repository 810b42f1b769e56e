"""Identity switches by eye: one row per track, the tracked person's crop every ``--every`` frames.

The detector and ``staf demo``'s tracker run over the clip; the sheet shows, for each track of at
least ``--min-length`` frames, who it follows through the clip. A row that changes person is an
identity switch (count them by eye). ``--detector-set`` and ``--tracker-boxes-only`` give the earlier rule
as in ``scripts/people_found.py``:

    python scripts/track_sheet.py ../shared/media/sam2_bedroom.mp4 --out runs/tracks/sam2_bedroom_after.png
    python scripts/track_sheet.py ../shared/media/sam2_bedroom.mp4 $BEFORE --tracker-boxes-only --out runs/tracks/sam2_bedroom_before.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    import cv2

    from staf.inference.blazepose import BlazePoseDetector, detector_config
    from staf.inference.people import FramePeople
    from staf.inference.tracking import TrackerConfig, track_boxes
    from staf.inference.video import VideoSource

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("video", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--every", type=int, default=15)
    parser.add_argument("--min-length", type=int, default=9)
    parser.add_argument("--detector-set", nargs="+", action="extend", default=[], metavar="FIELD=VALUE",
                        help="DetectorConfig fields, as staf demo --detector-set (several after one flag)")
    parser.add_argument("--tracker-boxes-only", action="store_true")
    args = parser.parse_args()
    detector = BlazePoseDetector(detector_config(args.detector_set))
    images, frames = [], []
    for frame in VideoSource(args.video):
        frames.append(FramePeople.from_people(detector(frame.image)))
        images.append(frame.image if frame.index % args.every == 0 else None)
    poses = None if args.tracker_boxes_only else [f.keypoints for f in frames]
    tracks = track_boxes([f.boxes for f in frames], TrackerConfig(min_length=args.min_length), poses)
    columns = list(range(0, len(frames), args.every))
    tile = 96
    sheet = np.full((max(1, len(tracks)) * tile, len(columns) * tile, 3), 32, np.uint8)
    for row, track in enumerate(tracks):
        where = dict(zip(track.frames.tolist(), track.boxes))
        for column, index in enumerate(columns):
            if index not in where:
                continue
            x1, y1, x2, y2 = where[index]
            height, width = images[index].shape[:2]
            crop = images[index][max(0, int(y1)):min(height, int(y2)), max(0, int(x1)):min(width, int(x2))]
            if crop.size == 0:
                continue
            scale = tile / max(crop.shape[:2])
            crop = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale))))
            sheet[row * tile:row * tile + crop.shape[0], column * tile:column * tile + crop.shape[1]] = crop
        cv2.putText(sheet, str(track.track_id), (2, row * tile + 14), 0, 0.5, (255, 255, 0), 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"{args.video.name}: {len(tracks)} tracks, frames each {[len(t.frames) for t in tracks]}; sheet {args.out}")


if __name__ == "__main__":
    main()
