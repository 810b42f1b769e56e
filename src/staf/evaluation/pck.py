"""2D measurement on real still images with human-labelled joints (``staf eval --data lsp``).

Each image's person box is the box spanned by its 14 labelled joints; the model sees the crop
its crop rule makes of that box (a one-frame track: a video model's window is the image
repeated) and its ``lsp14`` joints are projected by its own camera into the image. Reported,
per method, following ``../shared/real_images/README.md``:

- PCK at 0.1 and 0.2: the share of joints within that fraction of the box's longer side of the
  label, on the 12 limb joints (all but neck and head top, which BlazePose lacks) and on all 14;
- the mean distance in the same units (box sides), on 12 and on 14 joints.

Methods: the model; the mean pose (the body model's mean pose, shape and crop camera); and
"camera fitted to the labels": the mean pose's joints under the per-image scale and translation
that fit the 14 labels best (least squares): what a perfect camera without any pose reaches.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.data.crops import CropRule, crop_antialiased, normalise, read_image
from staf.data.lsp import LabelledImages
from staf.geometry.boxes import corners_to_centre_size
from staf.geometry.cameras import crop_to_image_points, default_focal_length
from staf.models.base import MeshRecoveryModel, SequenceInput

#: LSP-14 rows of the 12 limb joints (ankles, knees, hips, wrists, elbows, shoulders)
LIMBS12 = tuple(range(12))
THRESHOLDS = (0.1, 0.2)
#: images cut and recovered per call
IMAGES_PER_CALL = 64


def label_boxes(labels: np.ndarray) -> np.ndarray:
    """(N, 14, 2) labelled joints → (N, 4) x1 y1 x2 y2 of the box they span."""
    return np.concatenate([labels.min(axis=1), labels.max(axis=1)], axis=1)


def box_sides(labels: np.ndarray) -> np.ndarray:
    """(N,) the longer side of each image's labelled-joint box, pixels (at least 1)."""
    extent = labels.max(axis=1) - labels.min(axis=1)
    return np.maximum(extent.max(axis=1), 1.0)


def distances(predicted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, 14) distance of each predicted joint from its label, in box sides."""
    return np.linalg.norm(predicted - labels, axis=-1) / box_sides(labels)[:, None]


def summary(distance: np.ndarray) -> dict[str, float]:
    """PCK@0.1/0.2 and the mean distance on the 12 limb joints and on all 14."""
    out: dict[str, float] = {}
    for name, joints in (("12", list(LIMBS12)), ("14", list(range(distance.shape[1])))):
        chosen = distance[:, joints]
        for threshold in THRESHOLDS:
            out[f"pck@{threshold}_{name}"] = float((chosen <= threshold).mean())
        out[f"distance_{name}"] = float(chosen.mean())
    return out


def fit_scale_translation(points: np.ndarray, targets: np.ndarray, use: np.ndarray | None = None) -> np.ndarray:
    """Per row, the scale and 2D translation that move (N, J, 2) ``points`` closest to ``targets``
    in least squares (over the joints where ``use`` (N, J) is True; rows with fewer than two
    get NaN) → the moved points (N, J, 2)."""
    use = np.ones(points.shape[:2], bool) if use is None else use
    out = np.full(points.shape, np.nan)
    for row, (source, goal, chosen) in enumerate(zip(points, targets, use)):
        if chosen.sum() < 2:
            continue
        source_mean, goal_mean = source[chosen].mean(0), goal[chosen].mean(0)
        centred_source, centred_goal = source[chosen] - source_mean, goal[chosen] - goal_mean
        scale = (centred_source * centred_goal).sum() / max((centred_source**2).sum(), 1e-12)
        out[row] = (source - source_mean) * scale + goal_mean
    return out


def predict_images(model: MeshRecoveryModel, data: LabelledImages, crop_rule: CropRule,
                   progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The model's ``lsp14`` joints in image pixels (N, 14, 2) and in 3D (N, 14, 3), each image a
    one-frame track cut around its labelled joints by ``crop_rule``."""
    size = model.config.image_size
    squares = crop_rule.squares(corners_to_centre_size(label_boxes(data.joints)))
    pixels, joints3d = [], []
    with tqdm(total=len(data), unit="image", desc="eval lsp", disable=not progress) as bar:
        for start in range(0, len(data), IMAGES_PER_CALL):
            rows = range(start, min(start + IMAGES_PER_CALL, len(data)))
            tracks = [one_image_track(read_image(data.images[row]), squares[row], size) for row in rows]
            predictions = model.predict_sequences([track.to(model.device) for track in tracks])
            for track, prediction in zip(tracks, predictions):
                crop_points = prediction.joints2d["lsp14"].float().cpu()
                pixels.append(crop_to_image_points(crop_points, track.boxes).numpy()[0])
                joints3d.append(prediction.joint_sets["lsp14"].float().cpu().numpy()[0])
            bar.update(len(rows))
    return np.asarray(pixels, np.float64), np.asarray(joints3d, np.float64)


def one_image_track(image: np.ndarray, square: np.ndarray, size: int) -> SequenceInput:
    """One image as a one-frame track: its crop of ``square`` [cx, cy, side] at ``size`` px and geometry."""
    height, width = image.shape[:2]
    crops = normalise(crop_antialiased(image, square, size)[None])
    return SequenceInput(crops=crops, boxes=torch.as_tensor(square[None], dtype=torch.float32),
                         image_size=torch.tensor([[width, height]], dtype=torch.float32),
                         focal_length=torch.tensor([default_focal_length(width, height)], dtype=torch.float32))


@dataclasses.dataclass
class PCKReport:
    """Rows ``{method: summary}``, the model's per-image distances (N, 14), the images."""

    data: str
    model: str
    rows: dict[str, dict[str, float]]
    per_image: np.ndarray
    images: list[str]
    notes: list[str]


def evaluate_lsp(model: MeshRecoveryModel, data: LabelledImages, crop_rule: CropRule, name: str,
                 progress: bool = True) -> PCKReport:
    """The model, the mean pose and the camera fitted to the labels on ``data`` (module docstring)."""
    from staf.models.registry import build_model

    predicted, joints = predict_images(model, data, crop_rule, progress)
    model_distance = distances(predicted, data.joints)
    rows = {name: summary(model_distance)}
    if model.name != "mean-pose":
        mean_pose = build_model("mean-pose", {}, model.body).to(model.device)
        mean_pixels, joints = predict_images(mean_pose, data, crop_rule, progress=False)
        rows["mean pose"] = summary(distances(mean_pixels, data.joints))
    fitted = fit_scale_translation(joints[..., :2], data.joints)
    rows["camera fitted to the labels"] = summary(distances(fitted, data.joints))
    notes = [f"{len(data)} images; boxes from the labelled joints, crop rule {crop_rule.rule} × {crop_rule.scale}"]
    return PCKReport(str(data.root), name, rows, model_distance, [path.name for path in data.images], notes)


def format_pck_table(report: PCKReport) -> str:
    """The rows as a text table (PCK in %, distances in box sides)."""
    columns = ("PCK@0.1 (12)", "PCK@0.2 (12)", "dist (12)", "PCK@0.1 (14)", "PCK@0.2 (14)", "dist (14)")
    keys = ("pck@0.1_12", "pck@0.2_12", "distance_12", "pck@0.1_14", "pck@0.2_14", "distance_14")
    width = max(len(name) for name in report.rows)
    header = f"{'Method':<{width}} | " + " | ".join(f"{c:>12}" for c in columns)
    rule = "-" * len(header)
    lines = [f"LSP-layout images {report.data} ({len(report.images)} images; PCK of the box's longer side)", rule,
             header, rule]
    for name, values in report.rows.items():
        lines.append(f"{name:<{width}} | " + " | ".join(f"{values[k]:>12.3f}" for k in keys))
    return "\n".join(lines + [rule])


def write_pck_report(report: PCKReport, out_dir: str | Path) -> list[Path]:
    """metrics.json (every row) and per_image.csv (the model's distances) into ``out_dir``."""
    from staf.io import atomic_write_text

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.json", out / "per_image.csv"]
    payload = {"protocol": "lsp", "data": report.data, "checkpoint": report.model,
               "units": {"pck": "share of joints", "distance": "box sides"}, "rows": report.rows,
               "notes": report.notes}
    atomic_write_text(paths[0], json.dumps(payload, indent=2) + "\n")
    table = io.StringIO()
    writer = csv.writer(table)
    from staf.body.joint_sets import LSP14_JOINT_NAMES

    writer.writerow(["image", *LSP14_JOINT_NAMES])
    for image, row in zip(report.images, report.per_image):
        writer.writerow([image, *(f"{value:.5f}" for value in row)])
    atomic_write_text(paths[1], table.getvalue())
    return paths
