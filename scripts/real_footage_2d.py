"""2D agreement on real footage without 3D truth: the model's projected joints against the
detector's BlazePose keypoints, per video of ../shared/media.

    python scripts/real_footage_2d.py [--checkpoint FILE ...] [--frames-out docs/images]

For each video the demo pipeline runs (detector, tracker, crops, ``predict_sequences``) with
three models on the same tracks:

- ``model``: the checkpoint (default: the model shipped with staf); with several
  ``--checkpoint`` flags, one ``model: FILE`` entry each, on the same tracks;
- ``mean pose``: the mean-pose baseline (mean pose, shape and crop camera for every frame);
- ``camera only``: the mean pose's joints with the best 2D scale and translation per frame
  (least squares to the keypoints): what a perfect camera and no pose can reach.

Twelve joints are compared (LSP-14 without neck and head top, which BlazePose lacks: ankles,
knees, hips, wrists, elbows, shoulders), where BlazePose's visibility ≥ 0.5 and the frame was
detected (not interpolated). Reported: PCK at 0.1 and 0.2 of the box size (the longer side of
the person box) and the mean distance in box units. With ``--frames-out`` one overlay frame per
video (the middle one, 480 px wide) is written there.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import joblib
import numpy as np

from staf.body.joint_sets import LSP14_FROM_SPIN49
from staf.cli import main as staf_main
from staf.evaluation.pck import fit_scale_translation

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"
#: LSP-14 rows 0–11 (R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow, R shoulder,
#: L shoulder, L elbow, L wrist) and the BlazePose landmarks that name the same joints
LSP12 = list(range(12))
BLAZEPOSE12 = [28, 26, 24, 23, 25, 27, 16, 14, 12, 11, 13, 15]


def run(video: Path, out: Path, model_flags: list[str], render: bool) -> dict:
    flags = ["--no-refine"] + ([] if render else ["--no-render"])        # the network, not the fit
    status = staf_main(["demo", str(video), "--out", str(out), "--quiet", "--force", *flags, *model_flags])
    if status != 0:
        raise SystemExit(f"staf demo failed on {video}")
    return joblib.load(out / "staf_output.pkl")


def predicted_2d(track: dict) -> np.ndarray:
    """(N, 12, 2) the model's LSP joints in image pixels."""
    return track["joints2d"][:, LSP14_FROM_SPIN49][:, LSP12]


def camera_only_2d(track: dict) -> np.ndarray:
    """(N, 12, 2) the mean pose's joints under the best per-frame scale and translation."""
    joints = track["joints3d"][:, LSP14_FROM_SPIN49][:, LSP12, :2]
    target = track["keypoints2d"][:, BLAZEPOSE12]
    return fit_scale_translation(joints, target[..., :2], target[..., 2] >= 0.5)


def agreement(tracks: dict, reference: dict, predict) -> dict:
    """PCK@0.1, PCK@0.2 and mean distance (box units) over all tracks' detected frames."""
    distances = []
    for track_id, track in tracks.items():
        truth = reference[track_id]["keypoints2d"][:, BLAZEPOSE12]
        size = reference[track_id]["bboxes"][:, 2:].max(axis=1)
        predicted = predict(track)
        keep = (truth[..., 2] >= 0.5) & reference[track_id]["detected"][:, None] & np.isfinite(predicted).all(-1)
        distance = np.linalg.norm(predicted - truth[..., :2], axis=-1) / size[:, None]
        distances.append(distance[keep])
    values = np.concatenate(distances)
    return {"pck@0.1": float((values < 0.1).mean()), "pck@0.2": float((values < 0.2).mean()),
            "mean_distance": float(values.mean()), "joints": int(values.size)}


def overlay_frame(out: Path, path: Path) -> None:
    import cv2

    from staf.inference.video import VideoSource

    frames = list(VideoSource(out / "overlay.mp4"))
    image = frames[len(frames) // 2].image
    width = 480
    image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(path), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", default=None,
                        help="default: the model shipped with staf; repeat to compare models on the same tracks")
    parser.add_argument("--frames-out", default=None, help="folder for one overlay frame per video")
    parser.add_argument("--tag", default="default", help="name of the overlay frames (real_VIDEO_TAG.jpg)")
    args = parser.parse_args()
    checkpoints = args.checkpoint or [None]
    labels = ["model"] if len(checkpoints) == 1 else [f"model: {path}" for path in checkpoints]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for video in sorted(MEDIA.glob("*.mp4")) + sorted(MEDIA.glob("*.avi")):
            out = Path(folder) / video.stem
            models = [run(video, out / f"model{index}", ["--checkpoint", path] if path else [],
                          render=args.frames_out is not None and index == 0)
                      for index, path in enumerate(checkpoints)]
            mean = run(video, out / "mean", ["--mean-pose"], render=False)
            reference = models[0]
            if any(set(tracks) != set(mean) for tracks in models):
                raise SystemExit(f"{video.name}: the runs followed different tracks")
            results[video.name] = {
                "tracks": len(reference), "frames": int(sum(len(t["frame_ids"]) for t in reference.values())),
                **{label: agreement(tracks, reference, predicted_2d) for label, tracks in zip(labels, models)},
                "mean pose": agreement(mean, reference, predicted_2d),
                "camera only": agreement(mean, reference, camera_only_2d)}
            if args.frames_out:
                Path(args.frames_out).mkdir(parents=True, exist_ok=True)
                overlay_frame(out / "model0", Path(args.frames_out) / f"real_{video.stem}_{args.tag}.jpg")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
