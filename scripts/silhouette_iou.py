"""An independent check of the refine stage on real footage: the rendered body's silhouette
against the detector's own person mask, before and after the fit.

    python scripts/silhouette_iou.py [--every 3] [--frames-out docs/images --frames-of a,b,c]

For each video of ../shared/media the demo pipeline runs (refine on, its default) with the BlazePose
detector keeping its segmentation (``DetectorConfig.masks``: the landmark model's 256 × 256
person probability in the person's ROI, put back in the image by ``PersonMask.in_image``).
A last stage, added to the pipeline's list, renders each track's network body (``record.network``,
placed by the network's camera) and refined body (``record.prediction``) in the overlay's camera
on every ``--every``-th frame that has a mask, and compares the silhouette with the mask
thresholded at 0.5: IoU, per frame, averaged per video and over all frames. The fit never sees the
mask (it fits keypoints and world landmarks), so this is not agreement with what was fitted.

On the same sampled frames it also reports what *was* fitted: the agreement of the projected
LSP limb joints (12: ankles, knees, hips, wrists, elbows, shoulders) with BlazePose's keypoints of
visibility ≥ 0.5, as PCK at 0.1 and 0.2 of the person box's longer side and the mean distance, for
the network's bodies and the refined ones.

With ``--frames-out`` one frame per listed video (the middle frame of its longest track) is
written there as ``refine_<video>.jpg``: the network's bodies on the left, the refined ones on
the right, around the people of that frame, 360 px high. Prints JSON (``--json`` also writes it).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from staf.body.joint_sets import LSP14_FROM_SPIN49
from staf.geometry.cameras import crop_to_image_points
from staf.inference.detectors import BlazePose
from staf.inference.overlay_video import camera_vertices
from staf.inference.pipeline import DemoConfig, run_demo
from staf.inference.refine import RefineConfig
from staf.inference.stages import STAGES
from staf.models import load

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media"
PANEL_HEIGHT = 360
#: LSP-14 rows 0–11 (R ankle … L wrist) and the BlazePose landmarks that name the same joints
LSP12 = [LSP14_FROM_SPIN49[row] for row in range(12)]
BLAZEPOSE12 = [28, 26, 24, 23, 25, 27, 16, 14, 12, 11, 13, 15]


def crop_region(boxes: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The (K, 4) boxes' union grown by half on each axis (at least 4:3 wide), inside the image."""
    x1, y1 = boxes[:, :2].min(0)
    x2, y2 = boxes[:, 2:].max(0)
    half_w, half_h = 0.75 * (x2 - x1), 0.75 * (y2 - y1)
    half_w = max(half_w, half_h * 4 / 3)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return (int(max(0, cx - half_w)), int(max(0, cy - half_h)), int(min(width, cx + half_w)), int(min(height, cy + half_h)))


def iou(silhouette: np.ndarray, mask: np.ndarray) -> float:
    union = (silhouette | mask).sum()
    return float((silhouette & mask).sum() / union) if union else float("nan")


class SilhouetteStage:
    """The last stage: per record and sampled frame, the IoU of the network's and the refined
    body's silhouettes with the detector's mask; optionally one before/after frame."""

    name = "silhouette"

    def __init__(self, every: int, frame_path: Path | None) -> None:
        self.every, self.frame_path = every, frame_path
        self.rows: list[dict] = []
        self.distances: dict[str, list[np.ndarray]] = {"network": [], "refined": []}

    def enabled(self, config) -> bool:
        return True

    def __call__(self, records, context):
        from staf.render.overlay import OverlayRenderer

        width, height = context.image_size
        body = context.model.body
        renderer = OverlayRenderer(width, height, body.faces.cpu().numpy(), body.v_template.shape[0], 1, context.focal)
        try:
            for record in records:
                if record.masks is None or record.network is None:
                    continue
                placed = self._placed(record, context)
                sampled = np.arange(0, len(record), self.every)
                for name, distance in keypoint_distances(record, sampled).items():
                    self.distances[name].append(distance)
                for row in sampled:
                    mask = record.masks[row]
                    if mask is None:
                        continue
                    truth = mask.in_image(width, height) > 0.5
                    scores = {name: iou(renderer.renderer.render(vertices[row], np.zeros_like(vertices[row]),
                                                                 renderer.intrinsics).mask, truth)
                              for name, vertices in placed.items()}
                    self.rows.append({"track": record.track_id, "frame": int(record.frame_ids[row]), **scores})
            if self.frame_path is not None and records:
                self._write_frame(records, context, renderer)
        finally:
            renderer.release()
        return records

    @staticmethod
    def _placed(record, context) -> dict[str, np.ndarray]:
        network = dataclasses.replace(record, prediction=record.network, camera=record.network_camera)
        return {"network": camera_vertices(network, context.model.camera, context.focal, context.image_size),
                "refined": camera_vertices(record, context.model.camera, context.focal, context.image_size)}

    def _write_frame(self, records, context, renderer) -> None:
        import cv2

        longest = max(records, key=len)
        frame_id = int(longest.frame_ids[len(longest) // 2])
        image = next(frame.image for frame in context.source if frame.index == frame_id)
        people = {name: [] for name in ("network", "refined")}
        boxes = []
        for record in records:
            rows = np.flatnonzero(record.frame_ids == frame_id)
            if len(rows) and record.network is not None:
                boxes.append(record.boxes[rows[0]])
                for name, vertices in self._placed(record, context).items():
                    people[name].append((record.track_id, vertices[rows[0]]))
        x1, y1, x2, y2 = crop_region(np.array(boxes), image.shape[1], image.shape[0])
        panels = []
        for name in ("network", "refined"):
            panel = image
            for person in people[name]:            # one person per render: the renderer holds one slot
                panel = renderer.draw(panel, [person])
            panel = panel[y1:y2, x1:x2]
            scale = PANEL_HEIGHT / panel.shape[0]
            panels.append(cv2.resize(panel, (round(panel.shape[1] * scale), PANEL_HEIGHT), interpolation=cv2.INTER_AREA))
        self.frame_path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(self.frame_path), cv2.cvtColor(np.concatenate(panels, axis=1), cv2.COLOR_RGB2BGR),
                    [cv2.IMWRITE_JPEG_QUALITY, 85])


def keypoint_distances(record, rows: np.ndarray) -> dict[str, np.ndarray]:
    """The distances (box sides) of the network's and the refined bodies' 12 projected limb
    joints from the detector's keypoints (visibility ≥ 0.5, detected frames) on ``rows``."""
    boxes = record.geometry.boxes[rows]
    truth = record.keypoints[rows][:, BLAZEPOSE12]
    size = record.boxes[rows, 2:] - record.boxes[rows, :2]
    keep = (truth[..., 2] >= 0.5) & record.detected[rows, None]
    result = {}
    for name, body in (("network", record.network), ("refined", record.prediction)):
        points = crop_to_image_points(body.joints2d["spin49"][rows][:, LSP12], boxes).numpy()
        distance = np.linalg.norm(points - truth[..., :2], axis=-1) / size.max(axis=1)[:, None]
        result[name] = distance[keep & np.isfinite(distance)]
    return result


def agreement(distances: list[np.ndarray]) -> dict:
    values = np.concatenate(distances) if distances else np.zeros(0)
    if not values.size:
        return {"joints": 0}
    return {"pck@0.1": float((values < 0.1).mean()), "pck@0.2": float((values < 0.2).mean()),
            "mean_distance": float(values.mean()), "joints": int(values.size)}


def summarise(rows: list[dict]) -> dict:
    network = np.array([r["network"] for r in rows], float)
    refined = np.array([r["refined"] for r in rows], float)
    return {"frames": len(rows), "iou_network": float(np.nanmean(network)) if rows else None,
            "iou_refined": float(np.nanmean(refined)) if rows else None,
            "refined_better": float(np.nanmean(refined > network)) if rows else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="default", help="a model name or checkpoint (staf.models.load)")
    parser.add_argument("--every", type=int, default=3, help="compare every n-th frame of each track")
    parser.add_argument("--videos", default=None, help="comma-separated file stems (default: all of ../shared/media)")
    parser.add_argument("--refine-set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--frames-out", type=Path, default=None)
    parser.add_argument("--frames-of", default="gvhmr_tennis,phalp_vid,sports2d_walk")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import yaml

    settings = RefineConfig(**{name: yaml.safe_load(value) for name, value in
                               (item.split("=", 1) for item in args.refine_set)})
    loaded = load(args.model)
    videos = sorted(p for p in MEDIA.iterdir() if p.suffix in (".mp4", ".avi"))
    if args.videos:
        videos = [v for v in videos if v.stem in args.videos.split(",")]
    report = {"videos": {}, "every": args.every, "refine": dataclasses.asdict(settings)}
    everything = []
    all_distances: dict[str, list[np.ndarray]] = {"network": [], "refined": []}
    for video in videos:
        began = time.perf_counter()
        frame_path = (args.frames_out / f"refine_{video.stem}.jpg"
                      if args.frames_out and video.stem in args.frames_of.split(",") else None)
        stage = SilhouetteStage(args.every, frame_path)
        with tempfile.TemporaryDirectory() as out:
            run_demo(video, Path(out) / "demo", loaded.model, loaded.crop_rule,
                     DemoConfig(refine=True, refine_settings=settings, render=False),
                     progress=False, detector=BlazePose(masks=True), stages=[*STAGES, stage])
        report["videos"][video.stem] = {**summarise(stage.rows),
                                        **{f"keypoints_{name}": agreement(values) for name, values in stage.distances.items()},
                                        "seconds": round(time.perf_counter() - began, 1)}
        everything += stage.rows
        for name, values in stage.distances.items():
            all_distances[name] += values
        print(video.stem, json.dumps(report["videos"][video.stem]), flush=True)
    report["all_frames"] = {**summarise(everything),
                            **{f"keypoints_{name}": agreement(values) for name, values in all_distances.items()}}
    per_video = [v for v in report["videos"].values() if v["frames"]]
    report["mean_over_videos"] = {key: float(np.mean([v[key] for v in per_video]))
                                  for key in ("iou_network", "iou_refined", "refined_better")}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
