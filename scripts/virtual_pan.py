"""A real clip filmed again by a camera that turns to follow its walker, where the truth is known
(issue 32, "a camera that follows a walker"): each frame of a still camera's clip is seen
through a narrower camera at the same place that turns (pans) so that the walker stays in the
middle of its view. The new frames are an exact turning pinhole camera's (the old frame warped
by the homography ``K_v R_t K⁻¹``), so the camera's true rotation is known, and the walker's world
path must come out as it does from the still clip.

Steps (one command):

1. ``staf demo CLIP`` on the still clip (``full/``): the longest track's boxes and world path;
2. the pan ``θ_t = atan((x_t − c_x) / f)`` that keeps the walker's box centre x_t (steadied over
   1 s, held before the walker comes in and after he leaves) in the middle, within what the old
   frame covers; ``pan.mp4`` written with PyAV (H.264);
3. ``staf demo pan.mp4 --focal f`` (``pan/``, the camera stage on) and with ``--static-camera``
   (``pan_static/``, the camera taken as still: what the world path would be without it);
4. the report: the camera rotation error against the true pan (``staf.evaluation.world``), and
   for each run the walker's path on the ground (start to end, path length) and its distance
   from the still clip's path after the best turn and shift about the vertical (RMS, metres);
   ``--plot``: a top view of the three paths.

    python scripts/virtual_pan.py ../shared/media/sports2d_walk.mp4 --out runs/virtual_pan --json runs/virtual_pan.json --plot docs/images/virtual_pan_sports2d_walk.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from staf.geometry.cameras import default_focal_length, pinhole_intrinsics


def yaw(angle: float) -> np.ndarray:
    """(3, 3) a camera's turn by ``angle`` radians about its y axis (OpenCV axes: y down; > 0 turns right)."""
    cosine, sine = np.cos(angle), np.sin(angle)
    return np.array([[cosine, 0, -sine], [0, 1, 0], [sine, 0, cosine]])


def pan_angles(centres: np.ndarray, known: np.ndarray, focal: float, width: int, fps: float, limit: float) -> np.ndarray:
    """(T,) box centre x per frame, (T,) where the walker was tracked → (T,) pan angles (radians)
    that keep the steadied centre in the middle, clipped to ±``limit``."""
    from scipy.signal import savgol_filter

    frames = np.arange(len(centres))
    x = np.interp(frames, frames[known], centres[known])
    window = min(round(fps) | 1, len(x) - (1 - len(x) % 2))
    x = savgol_filter(x, window, 2) if window >= 5 else x
    return np.clip(np.arctan((x - (width - 1) / 2) / focal), -limit, limit)


def pan_limit(focal: float, size: tuple[int, int], view: tuple[int, int]) -> float:
    """The largest pan (radians) at which a (w, h) view still sees only the (W, H) frame: its
    corner rays, turned, project inside the frame."""
    width, height = size
    corners = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]]) * (np.array(view) - 1) / 2
    rays = np.concatenate([corners / focal, np.ones((4, 1))], 1)
    for angle in np.radians(np.arange(0, 45, 0.05)):
        seen = rays @ yaw(angle)  # view rays in the old camera: R_tᵀ ray, row-wise
        pixels = seen[:, :2] / seen[:, 2:] * focal
        if (np.abs(pixels[:, 0]) > (width - 1) / 2).any() or (np.abs(pixels[:, 1]) > (height - 1) / 2).any():
            return float(angle - np.radians(0.05))
    return float(np.radians(45))


def write_pan(clip: Path, out: Path, angles: np.ndarray, focal: float, view: tuple[int, int]) -> None:
    import cv2
    from tqdm import tqdm

    from staf.inference.video import VideoSource, VideoWriter

    source = VideoSource(clip)
    old = pinhole_intrinsics(focal, source.info.width, source.info.height)
    new = pinhole_intrinsics(focal, *view)
    writer = VideoWriter(out, *view, source.info.fps)
    for frame, angle in tqdm(zip(source, angles), total=len(angles), desc="pan.mp4", unit="frame"):
        homography = new @ yaw(angle) @ np.linalg.inv(old)
        writer.write(cv2.warpPerspective(frame.image, homography, view, flags=cv2.INTER_LINEAR))
    writer.close()


def demo(video: Path, out: Path, *flags: str) -> dict:
    import joblib

    subprocess.run([sys.executable, "-m", "staf.cli", "demo", str(video), "--out", str(out), "--no-render",
                    "--formats", "pkl", "--force", "--quiet", *flags], check=True)
    tracks = joblib.load(out / "staf_output.pkl")
    return max(tracks.values(), key=lambda track: len(track["frame_ids"]))


def ground_path(track: dict) -> dict[int, np.ndarray]:
    return {int(frame): point for frame, point in zip(track["frame_ids"], np.asarray(track["world_transl"])[:, [0, 2]])}


def path_measures(path: dict[int, np.ndarray], truth: dict[int, np.ndarray]) -> tuple[dict, np.ndarray]:
    """A ground path against the still clip's, over their common frames: start to end, the
    farthest point from the start, path length, and the RMS distance after the best turn and
    shift in the ground plane (Kabsch); and the (N, 2) path so turned and shifted."""
    frames = sorted(set(path) & set(truth))
    points, reference = np.stack([path[f] for f in frames]), np.stack([truth[f] for f in frames])
    centred, target = points - points.mean(0), reference - reference.mean(0)
    u, _, vt = np.linalg.svd(centred.T @ target)
    turn = u @ np.diag([1, np.sign(np.linalg.det(u @ vt))]) @ vt
    rms = float(np.sqrt(((centred @ turn - target) ** 2).sum(1).mean()))
    return ({"frames": len(frames), "start_to_end_m": float(np.linalg.norm(points[-1] - points[0])),
             "farthest_from_start_m": float(np.linalg.norm(points - points[0], axis=1).max()),
             "path_m": float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum()), "rms_from_still_m": rms},
            centred @ turn + reference.mean(0))


def rotation_report(track: dict, angles: np.ndarray) -> dict:
    from staf.evaluation.world import camera_rotation_error

    frames = np.asarray(track["frame_ids"])
    found = np.asarray(track["camera_R"], np.float64)
    found = np.einsum("tij,kj->tik", found, found[0])  # each camera against the track's first
    truth = np.stack([yaw(angle) for angle in angles[frames]])
    truth = np.einsum("tij,kj->tik", truth, truth[0])
    return {**camera_rotation_error(found, truth), "true_turn_degrees": float(np.degrees(np.ptp(angles[frames])))}


def main() -> None:
    import joblib

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", type=Path, help="a still camera's clip with one walker")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--view", type=int, nargs=2, default=(400, 560), metavar=("W", "H"), help="the panning view's size")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path, help="top view of the three paths (PNG)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    still = demo(args.clip, args.out / "full")
    info = joblib.load(args.out / "full" / "staf_output.pkl")
    video = json.loads((args.out / "full" / "staf_demo.json").read_text())["video"]
    width, height, fps, frame_count = video["width"], video["height"], video["fps"], video["frames_read"]
    focal = default_focal_length(width, height)
    centres, known = np.zeros(frame_count), np.zeros(frame_count, bool)
    centres[still["frame_ids"]], known[still["frame_ids"]] = np.asarray(still["bboxes"])[:, 0], True
    limit = pan_limit(focal, (width, height), tuple(args.view))
    angles = pan_angles(centres, known, focal, width, fps, limit)
    write_pan(args.clip, args.out / "pan.mp4", angles, focal, tuple(args.view))
    report = {"clip": args.clip.name, "tracks_in_still_clip": len(info), "focal": focal, "view": list(args.view),
              "pan_limit_degrees": float(np.degrees(limit)),
              "pan_range_degrees": [float(np.degrees(angles.min())), float(np.degrees(angles.max()))]}
    truth = ground_path(still)
    report["still"], drawn = path_measures(truth, truth)
    paths = {"still camera": drawn}
    for name, flags in (("pan", ()), ("pan_static", ("--static-camera",))):
        track = demo(args.out / "pan.mp4", args.out / name, "--focal", f"{focal}", *flags)
        report[name], paths[f"{name} (turned onto the still)"] = path_measures(ground_path(track), truth)
        report[name]["camera"] = rotation_report(track, angles)
    print(json.dumps(report, indent=1))
    if args.plot:
        from world_trajectory import plot

        plot(paths, args.plot)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
