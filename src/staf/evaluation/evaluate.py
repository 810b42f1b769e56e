"""Run a model over every sequence of a db file and measure it (``staf eval``).

Each frame is predicted as the target of its own window, edges padded (the streaming runner);
metrics are computed per sequence (acceleration never spans two videos) and averaged over the
evaluated frames of all sequences. A :class:`~staf.evaluation.protocols.Match` preset changes
which frames are predicted and scored, and how acceleration is averaged, to reproduce a peer's
script (docs/evaluation.md).
"""

from __future__ import annotations

import csv
import io
import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.data.crops import DB_CROP_SCALE, crop, frame_image_size, normalise, read_image, resolve_image, square_box
from staf.data.db import REQUIRED_KEYS, Sequence, read_db, split_sequences
from staf.errors import StafError
from staf.io import atomic_write, atomic_write_text
from staf.outputs import OutputRule
from staf.evaluation import metrics
from staf.evaluation.protocols import MATCHES, Match, Protocol
from staf.geometry.cameras import default_focal_length
from staf.models.base import MeshRecoveryModel, SequenceInput

METRIC_NAMES = ("pa_mpjpe", "mpjpe", "pve", "accel", "accel_ms2", "pred_accel")


@dataclasses.dataclass
class SequenceResult:
    """Per-sequence means (mm; accel in mm/frame² and m/s²) and the accel-error curve."""

    name: str
    frames: int
    evaluated: int
    pa_mpjpe: float
    mpjpe: float
    pve: float | None
    accel: float
    accel_ms2: float
    pred_accel: float
    accel_frames: int
    accel_curve: list[float]


@dataclasses.dataclass
class EvaluationResult:
    protocol: str
    title: str
    data: str
    checkpoint: str
    metrics: dict[str, float | None]
    sequences: list[SequenceResult]
    notes: list[str]


def sequence_input(data: dict[str, np.ndarray], sequence: Sequence, image_root: Path | None, size: int,
                   scale: float) -> SequenceInput:
    """One sequence's frames as a model takes them (N leading): normalised crops (N, 3, size, size)
    (the db's own crops when it has them, resized as training resizes them; else cut from the
    frames by the box), the squares (N, 3), and the image size (N, 2) and focal length (N,) where
    known (from the frames, or the db's intrinsics)."""
    import cv2

    rows = sequence.rows
    boxes = torch.as_tensor(data["crop_box"][rows] if "crop_box" in data else square_box(data["bbox"][rows], scale))
    if "crop_name" in data:
        images = [cv2.resize(read_image(resolve_image(str(data["crop_name"][row]), image_root)), (size, size),
                             interpolation=cv2.INTER_AREA) for row in rows]
        width, height = frame_image_size(data, rows[0], image_root, boxes[0].numpy())
        image_size = torch.tensor([[width, height]], dtype=torch.float32).expand(len(rows), 2)
        return SequenceInput(crops=normalise(np.stack(images)), boxes=boxes.float(), image_size=image_size,
                             focal_length=_focal(data, rows, image_size))
    frames = [read_image(resolve_image(str(data["img_name"][row]), image_root)) for row in rows]
    image_size = torch.tensor([[frame.shape[1], frame.shape[0]] for frame in frames], dtype=torch.float32)
    crops = [crop(frame, box, size) for frame, box in zip(frames, boxes.numpy())]
    return SequenceInput(crops=normalise(np.stack(crops)), boxes=boxes.float(), image_size=image_size,
                         focal_length=_focal(data, rows, image_size))


def _focal(data: dict[str, np.ndarray], rows: np.ndarray, image_size: torch.Tensor | None) -> torch.Tensor | None:
    """Focal lengths in pixels: the db's intrinsics, else CLIFF's default (the image diagonal)."""
    if "cam_intrinsics" in data:
        return torch.as_tensor(data["cam_intrinsics"][rows][:, 0, 0], dtype=torch.float32)
    if image_size is None:
        return None
    return torch.tensor([default_focal_length(float(w), float(h)) for w, h in image_size.tolist()])


def evaluate(model: MeshRecoveryModel, data_path: str | Path, protocol: Protocol, image_root: str | Path | None = None,
             crop_scale: float = DB_CROP_SCALE, checkpoint: str = "", max_sequences: int | None = None,
             progress: bool = True, match: Match = MATCHES["staf"], split_at_gaps: bool = False) -> EvaluationResult:
    """Measure ``model`` on a db file with ``protocol``, frames chosen and averaged as ``match``
    says; sequences split by ``vid_name`` (and at frame gaps with ``split_at_gaps``)."""
    data = read_db(data_path, required=REQUIRED_KEYS + ("joints3D",))
    protocol = match.adapt(protocol)
    sequences = select_sequences(data, split_sequences(data, at_gaps=split_at_gaps)[:max_sequences], match,
                                 protocol.valid_key)
    image_root = Path(image_root) if image_root is not None else None
    key = protocol.valid_key
    if match.valid_mask and key and key in data and sequences and \
            not (np.asarray(data[key])[np.concatenate([s.rows for s in sequences])] > 0).any():
        raise StafError(f"{data_path}: no frame is marked valid ('{key}' is 0 everywhere): nothing to evaluate")
    fps = float(np.asarray(data["fps"]).reshape(-1)[0]) if "fps" in data else protocol.fps
    if not (np.isfinite(fps) and fps > 0):
        raise StafError(f"{data_path}: its 'fps' is {fps}; a frame rate must be a positive number")
    body = model.body
    notes = [f"match preset '{match.name}'"]
    with_mesh = _mesh_comparable(protocol, body.name, data, notes)
    results, centred = [], []
    with tqdm(total=sum(len(s) for s in sequences), unit="frame", desc=f"eval {protocol.name}",
              disable=not progress) as bar:                # closed before any error is reported
        for sequence in sequences:
            track = sequence_input(data, sequence, image_root, model.config.image_size, crop_scale)
            prediction = model.predict_sequence(track.to(model.device))
            result, pred_c, gt_c = _measure(sequence, data, prediction, protocol, fps, with_mesh, body,
                                            match.valid_mask, match.accel_rule)
            results.append(result)
            centred.append((pred_c, gt_c))
            bar.update(len(sequence))
            bar.set_postfix(sequences=f"{len(results)}/{len(sequences)}")
    if not results:
        raise StafError(f"{data_path}: no sequences to evaluate with --match {match.name} "
                        f"(it skips sequences shorter than {match.min_length} frames)")
    summary = _aggregate(results, with_mesh)
    if match.concat_accel:
        summary.update(_concatenated_accel(centred, fps))
    return EvaluationResult(protocol.name, protocol.title, str(data_path), checkpoint, summary, results, notes)


def select_sequences(data: dict[str, np.ndarray], sequences: list[Sequence], match: Match,
                     valid_key: str | None) -> list[Sequence]:
    """The sequences ``match`` runs the model on: invalid rows dropped (TCMR: only the ``valid``
    key), short sequences skipped, and chunks cut with their tails dropped (VIBE)."""
    chosen = []
    for sequence in sequences:
        rows = sequence.rows
        if match.drop_invalid and valid_key == "valid" and "valid" in data:
            rows = rows[np.asarray(data["valid"])[rows] > 0]
        if len(rows) == 0 or len(rows) < match.min_length:
            continue
        if match.chunk is None:
            chosen.append(Sequence(sequence.name, rows))
            continue
        for start in range(0, len(rows) - match.chunk + 1, match.chunk):
            chosen.append(Sequence(f"{sequence.name}[{start}:{start + match.chunk}]", rows[start : start + match.chunk]))
    return chosen


def _concatenated_accel(centred: list[tuple[torch.Tensor, torch.Tensor]], fps: float) -> dict[str, float]:
    """VIBE's and the official STAF script's acceleration: over every scored frame of every
    sequence concatenated, so stencils span sequence boundaries."""
    pred = torch.cat([p for p, _ in centred])
    gt = torch.cat([g for _, g in centred])
    if len(pred) < 3:
        return {"accel": float("nan"), "accel_ms2": float("nan"), "pred_accel": float("nan")}
    accel = float(metrics.accel_error(pred, gt).mean())
    return {"accel": accel, "accel_ms2": float(metrics.to_metres_per_second_squared(accel, fps)),
            "pred_accel": float(metrics.mean_acceleration(pred).mean())}


def _mesh_comparable(protocol: Protocol, body_name: str, data: dict, notes: list[str]) -> bool:
    if protocol.mesh is None or "pose" not in data or "shape" not in data:
        notes.append("PVE not computed: the protocol or the file has no ground-truth mesh")
        return False
    if protocol.mesh == "smpl" and not body_name.startswith("smpl"):
        notes.append(f"PVE not computed: the ground truth is SMPL but the body model is '{body_name}' "
                     "(use --body-model smpl)")
        return False
    return True


@torch.no_grad()
def _measure(sequence, data, prediction, protocol: Protocol, fps, with_mesh, body,
             use_valid: bool = True, accel_rule: str = "stencil") -> tuple[SequenceResult, torch.Tensor, torch.Tensor]:
    """One sequence's metrics, and its pelvis-centred prediction and ground truth (T, J, 3)."""
    rows = sequence.rows
    gt = torch.as_tensor(data["joints3D"][rows], dtype=torch.float32)
    gt = gt[:, list(protocol.gt_joints)] if protocol.gt_joints is not None else gt
    pred = prediction.joint_sets[protocol.pred_joint_set].float().cpu()
    pred = pred[:, list(protocol.pred_joints)] if protocol.pred_joints is not None else pred
    if pred.shape != gt.shape:
        raise StafError(f"prediction has joints {tuple(pred.shape[1:])} but the ground truth {tuple(gt.shape[1:])}; "
                        f"is '{protocol.name}' the right protocol for this file?")
    valid = torch.ones(len(rows), dtype=torch.bool)
    if use_valid and protocol.valid_key and protocol.valid_key in data:
        valid = torch.as_tensor(np.asarray(data[protocol.valid_key][rows]).reshape(len(rows)) > 0)
    pred_c, gt_c = metrics.centre(pred, protocol.pelvis), metrics.centre(gt, protocol.pelvis)
    per_frame_mpjpe = metrics.mpjpe(pred, gt, protocol.pelvis)[valid]
    per_frame_pa = metrics.pa_mpjpe(pred, gt)[valid]
    pve = None
    if with_mesh:
        gt_mesh = body(torch.as_tensor(data["pose"][rows], dtype=torch.float32),
                       torch.as_tensor(data["shape"][rows], dtype=torch.float32)).vertices
        pve = float(metrics.pve(prediction.vertices.float().cpu(), gt_mesh.cpu())[valid].mean()) if valid.any() else None
    interior = metrics.ACCEL_RULES[accel_rule](valid, len(rows))
    curve = metrics.accel_error(pred_c, gt_c) if len(rows) >= 3 else torch.zeros(0)
    own = metrics.mean_acceleration(pred_c) if len(rows) >= 3 else torch.zeros(0)
    accel = float(curve[interior].mean()) if interior.any() else float("nan")
    result = SequenceResult(
        name=sequence.name, frames=len(rows), evaluated=int(valid.sum()), pa_mpjpe=float(per_frame_pa.mean()),
        mpjpe=float(per_frame_mpjpe.mean()), pve=pve, accel=accel,
        accel_ms2=metrics.to_metres_per_second_squared(accel, fps),
        pred_accel=float(own.mean()) if len(own) else float("nan"), accel_frames=int(interior.sum()),
        accel_curve=curve.tolist())
    return result, pred_c, gt_c


def _aggregate(results: list[SequenceResult], with_mesh: bool) -> dict[str, float | None]:
    """Frame-weighted means over sequences (accel weighted by interior frames)."""
    weights = np.array([r.evaluated for r in results], dtype=np.float64)
    accel_weights = np.array([r.accel_frames for r in results], dtype=np.float64)

    def mean(name: str, w: np.ndarray) -> float | None:
        values = np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in results])
        keep = np.isfinite(values) & (w > 0)
        return float(np.average(values[keep], weights=w[keep])) if keep.any() else None

    summary = {name: mean(name, weights) for name in ("pa_mpjpe", "mpjpe")}
    summary["pve"] = mean("pve", weights) if with_mesh else None
    for name in ("accel", "accel_ms2", "pred_accel"):
        summary[name] = mean(name, accel_weights)
    summary["frames"] = float(weights.sum())
    summary["sequences"] = float(len(results))
    if summary["frames"] == 0:
        raise StafError("no frame is marked valid in the data (valid / valid_i are all 0): nothing to evaluate")
    return summary


# ----------------------------------------------------------------------- report


def format_table(result: EvaluationResult) -> str:
    """The results in the layout of the paper's Table I (one dataset block)."""
    columns = ("PA-MPJPE ↓", "MPJPE ↓", "PVE ↓", "ACCEL ↓")
    keys = ("pa_mpjpe", "mpjpe", "pve", "accel")
    cells = ["–" if result.metrics[k] is None else f"{result.metrics[k]:.1f}" for k in keys]
    name = Path(result.checkpoint).name or "model"
    width = max(len(name), 8)
    header = f"{'Method':<{width}} | " + " | ".join(f"{c:>10}" for c in columns)
    rule = "-" * len(header)
    title = f"{result.title} ({int(result.metrics['sequences'])} sequences, {int(result.metrics['frames'])} frames; mm, accel mm/frame²)"
    row = f"{name:<{width}} | " + " | ".join(f"{c:>10}" for c in cells)
    return "\n".join([title, rule, header, rule, row, rule])


#: ``staf eval``'s output folder (:mod:`staf.outputs`): the reports of 3D and of 2D (PCK) evaluation
EVAL_OUTPUT = OutputRule("staf_eval.json", ".staf-eval.partial",
                         re.compile(r"metrics\.json|per_sequence\.csv|accel_worst\.png|per_image\.csv|staf_eval\.json"))


def write_report(result: EvaluationResult, out_dir: str | Path, worst: int = 4) -> list[Path]:
    """metrics.json, per_sequence.csv and accel_worst.png into ``out_dir``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "metrics.json", out / "per_sequence.csv", out / "accel_worst.png"]
    payload = {"protocol": result.protocol, "data": result.data, "checkpoint": result.checkpoint,
               "units": {"pa_mpjpe": "mm", "mpjpe": "mm", "pve": "mm", "accel": "mm/frame^2",
                         "accel_ms2": "m/s^2", "pred_accel": "mm/frame^2"},
               "metrics": result.metrics, "notes": result.notes}
    atomic_write_text(paths[0], json.dumps(payload, indent=2) + "\n")
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["sequence", "frames", "evaluated", *METRIC_NAMES])
    for r in result.sequences:
        writer.writerow([r.name, r.frames, r.evaluated, *(("" if getattr(r, m) is None else f"{getattr(r, m):.3f}")
                                                          for m in METRIC_NAMES)])
    atomic_write_text(paths[1], table.getvalue())
    atomic_write(paths[2], lambda handle: _plot_worst(result, handle, worst))
    return paths


def _plot_worst(result: EvaluationResult, path, worst: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted((r for r in result.sequences if r.accel_curve), key=lambda r: -np.nan_to_num(r.accel))[:worst]
    figure, axis = plt.subplots(figsize=(8, 3.2), dpi=100)
    for r in ranked:
        axis.plot(np.arange(1, len(r.accel_curve) + 1), r.accel_curve, lw=1, label=f"{r.name} ({r.accel:.1f})")
    axis.set_xlabel("frame")
    axis.set_ylabel("accel error (mm/frame²)")
    axis.set_title(f"{result.title}: acceleration error over time, worst {len(ranked)} sequences")
    if ranked:
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, format="png")
    plt.close(figure)
