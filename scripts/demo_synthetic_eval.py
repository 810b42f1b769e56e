"""``staf demo`` on synthetic videos whose truth is known: detection, tracking, 3D error, smoothing.

    staf synth --preset synthbench-test --out DATA/synthbench     # or any staf synth folder
    python scripts/demo_synthetic_eval.py DATA/synthbench --checkpoint RUN/staf/stage2/best.pt

Each sequence's full frames (``seq_*/frames``, one person) go through the whole pipeline with the
BlazePose detector, once per mode: as is (``raw``), with ``--smooth``, with ``--refine`` (``--modes``). Reported over all sequences: detection
recall at IoU 0.5 (per frame, against the rendered mesh's box), tracks per sequence and identity
switches (a one-person sequence split into several tracks, or a track on the wrong person), and
on the frames the demo returns PA-MPJPE / MPJPE (LSP-14 from the SPIN-49 sets, mid-hip pelvis,
as ``staf eval``'s synthetic protocol), PVE (the mesh from the returned θ and β against the true
one, both without translation, as ``staf eval``) and the acceleration error.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import torch
import yaml

from staf.body.joint_sets import LSP14_FROM_SPIN49, LSP14_HIPS
from staf.data.db import read_db
from staf.evaluation.metrics import accel_error, mpjpe, pa_mpjpe, pve
from staf.geometry.boxes import box_iou, centre_size_to_corners
from staf.inference.pipeline import DemoConfig, run_demo
from staf.inference.refine import RefineConfig
from staf.models.checkpoint import checkpoint_crop_rule, load_checkpoint


def evaluate_sequence(folder: Path, rows: np.ndarray, data: dict, model, crop_rule, mode: str,
                      refine_settings: RefineConfig) -> dict:
    with tempfile.TemporaryDirectory() as out:
        run_demo(folder / "frames", Path(out) / "demo", model, crop_rule,
                 DemoConfig(smooth=mode == "smooth", refine=mode == "refine", refine_settings=refine_settings, render=False,
                            fps=float(data["fps"][rows[0]])), progress=False)
        tracks = joblib.load(Path(out) / "demo" / "staf_output.pkl")
    truth_boxes = centre_size_to_corners(data["bbox"][rows])
    covered = np.zeros(len(rows), bool)
    on_person = []
    for track in tracks.values():
        ious = np.array([box_iou(centre_size_to_corners(b), truth_boxes[f]) for b, f in zip(track["bboxes"], track["frame_ids"])])
        covered[track["frame_ids"][ious >= 0.5]] = True
        on_person.append(np.mean(ious >= 0.5) >= 0.5)
    main = max(tracks.values(), key=lambda t: len(t["frame_ids"])) if tracks else None
    result = {"frames": len(rows), "tracks": len(tracks), "recall": float(covered.mean()),
              "switches": max(0, sum(on_person) - 1) + sum(not x for x in on_person)}
    if main is not None:
        frames = main["frame_ids"]
        pred = torch.as_tensor(main["joints3d"][:, LSP14_FROM_SPIN49]).double()
        gt = torch.as_tensor(data["joints3D"][rows][frames][:, LSP14_FROM_SPIN49, :3]).double()
        with torch.no_grad():
            mesh = model.body(torch.as_tensor(main["pose"]).float(), torch.as_tensor(main["betas"]).float()).vertices
            truth = model.body(torch.as_tensor(data["pose"][rows][frames]).float(),
                               torch.as_tensor(data["shape"][rows][frames]).float()).vertices
        result.update(pa_mpjpe=pa_mpjpe(pred, gt), mpjpe=mpjpe(pred, gt, LSP14_HIPS), pve=pve(mesh, truth),
                      accel=accel_error(pred, gt) if len(frames) >= 3 and np.all(np.diff(frames) == 1) else None)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", help="a staf synth output folder")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--max-sequences", type=int, default=None)
    parser.add_argument("--modes", default="raw,smooth", help="comma-separated: raw, smooth, refine (--refine)")
    parser.add_argument("--refine-set", action="append", default=[], metavar="NAME=VALUE",
                        help="a RefineConfig field for mode refine, e.g. iterations=100 (repeatable)")
    args = parser.parse_args()
    refine_settings = RefineConfig(**{name: yaml.safe_load(value) for name, value in
                                      (item.split("=", 1) for item in args.refine_set)})
    folder = Path(args.folder)
    database = sorted(folder.glob("synth_*_db.pt"))[0]
    data = read_db(database)
    model, payload = load_checkpoint(args.checkpoint)
    crop_rule = checkpoint_crop_rule(payload)
    names = sorted(set(data["vid_name"].tolist()))[: args.max_sequences]
    summary = {}
    started = time.perf_counter()
    for mode in args.modes.split(","):
        rows = [evaluate_sequence(folder / name, np.flatnonzero(data["vid_name"] == name), data, model, crop_rule, mode, refine_settings)
                for name in names]
        frames = sum(r["frames"] for r in rows)
        metrics = {key: float(torch.cat([r[key] for r in rows if r.get(key) is not None]).mean())
                   for key in ("pa_mpjpe", "mpjpe", "pve", "accel")}
        summary[mode] = {
            "sequences": len(rows), "frames": frames,
            "recall_iou50": sum(r["recall"] * r["frames"] for r in rows) / frames,
            "tracks_per_sequence": float(np.mean([r["tracks"] for r in rows])),
            "sequences_with_one_track": sum(r["tracks"] == 1 for r in rows),
            "identity_switches": sum(r["switches"] for r in rows), **metrics,
            "seconds": round(time.perf_counter() - started, 1)}
        started = time.perf_counter()
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
