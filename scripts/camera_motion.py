"""The camera's rotation and travel on real clips (issue 32, part 1): per-frame turn, the whole
clip's turn, the travel over the ground (in units of the camera's height: the share of frame
pairs where the ground moved, start to end and path length), and the speed of the estimate, with
the people (BlazePose's boxes) left out of the background; the rotation-only estimate
(``CameraMotionConfig(travel=False)``, the default until 2026-12-04) is run right after it on
the same frames for its speed and turn.

    python scripts/camera_motion.py --clips ../shared/media --only sports2d_walk.mp4 gvhmr_tennis.mp4 phalp_vid.mp4 --json runs/camera_motion.json

The focal length is ``staf demo``'s default (the image diagonal). Pan, tilt and roll are the
YXZ Euler angles of the last frame's camera against the first's (degrees; pan > 0: to the
right). Detector and camera-motion times are measured one after the other in the same process.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from staf.geometry.camera_motion import CameraMotionConfig, estimate_camera_rotations
from staf.geometry.cameras import default_focal_length, pinhole_intrinsics
from staf.inference.blazepose import BlazePoseDetector, DetectorConfig
from staf.inference.video import VideoSource


def clip_report(path: Path, detector: BlazePoseDetector, max_frames: int) -> dict:
    source = VideoSource(path)
    frames = [frame.image for frame in source][:max_frames]
    height, width = frames[0].shape[:2]
    focal = default_focal_length(width, height)
    intrinsics = pinhole_intrinsics(focal, width, height)
    detector.reset()
    clock = time.perf_counter()
    boxes = [np.array([person.box for person in detector(image)]).reshape(-1, 4) for image in frames]
    detect_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    found = estimate_camera_rotations(frames, intrinsics, boxes)
    motion_seconds, clock = time.perf_counter() - clock, time.perf_counter()
    rotation_only = estimate_camera_rotations(frames, intrinsics, boxes, CameraMotionConfig(travel=False))
    rotation_only_seconds = time.perf_counter() - clock
    steps_travelled = np.linalg.norm(np.diff(camera_centres(found), axis=0), axis=1)
    steps = found.angles_degrees()[1:]
    pan, tilt, roll = Rotation.from_matrix(found.rotations[-1].T).as_euler("yxz", degrees=True)
    return {"frames": len(frames), "size": [width, height], "known": float(found.known[1:].mean()),
            "median_inliers": float(np.median(found.inliers[1:])),
            "step_degrees_median": float(np.median(steps)), "step_degrees_max": float(steps.max()),
            "whole_clip_degrees": float(np.degrees(Rotation.from_matrix(found.rotations[-1]).magnitude())),
            "pan_tilt_roll_degrees": [float(pan), float(tilt), float(roll)],
            "moved": float(found.moved[1:].mean()),
            "travel_heights": float(np.linalg.norm(camera_centres(found)[-1])),
            "path_heights": float(steps_travelled.sum()),
            "rotation_only_whole_clip_degrees": float(np.degrees(Rotation.from_matrix(rotation_only.rotations[-1]).magnitude())),
            "camera_motion_fps": len(frames) / motion_seconds,
            "rotation_only_fps": len(frames) / rotation_only_seconds, "detector_fps": len(frames) / detect_seconds}


def camera_centres(found) -> np.ndarray:
    """(T, 3) the camera's centre in the first camera's frame, in units of its height (−Rᵀ c)."""
    return -np.einsum("tji,tj->ti", found.rotations, found.travels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=Path, required=True)
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--max-frames", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    detector = BlazePoseDetector(DetectorConfig())
    report = {}
    for path in sorted(p for p in args.clips.iterdir() if p.suffix in (".mp4", ".avi", ".mov", ".webm")):
        if args.only and path.name not in args.only:
            continue
        report[path.name] = clip_report(path, detector, args.max_frames)
        print(path.name, json.dumps(report[path.name]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
