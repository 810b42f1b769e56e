"""World-frame joints on synthetic videos filmed by a moving camera (issue 32), against the truth.

Each sequence of a ``staf synth --preset synth-moving-camera`` folder whose camera turns by
``--min-turn`` degrees or moves ``--min-move`` metres goes through ``staf demo`` twice (as it
is, and with ``--static-camera``); cameras that turn more than ``--max-turn`` are left out (the
synthetic backdrop is a picture shifted by f·tan(turn), which fails near 90°); the longest track is compared with the truth's SMPL joints in
the synthetic world (:mod:`staf.evaluation.world`: W-MPJPE₁₀₀, WA-MPJPE₁₀₀, foot sliding, the
camera's rotation error). Three predictions:

- ``camera``: the camera-space bodies, ``body(rotmat) + transl``, as if the camera stood still
  (the baseline: no camera motion, no depth steadying, no ground);
- ``static``: ``world_rotmat``/``world_transl`` of the ``--static-camera`` run (depth steadied,
  gravity from the ground, the camera's rotation not found);
- ``world``: ``world_rotmat``/``world_transl`` of the default run (the camera's rotation and
  travel found).

Each row also holds the camera's travel from its first to its last frame and its mean height
over the ground, true and found (the found camera's centres ``−camera_Rᵀ camera_t`` in staf's
world, whose ground is at y = 0).

    staf synth --preset synth-moving-camera --out runs/moving        (or synth-tracking-camera)
    python scripts/world_synthetic_eval.py runs/moving --out runs/moving_eval --json runs/moving_eval.json [--true-focal]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import torch

from staf.body import BodyModel
from staf.data.db import read_db
from staf.inference.exporters import camera_centres
from staf.evaluation.world import camera_rotation_error, foot_sliding, rotation_angle, world_mpjpe

FEET = [10, 11]


def run_demo(frames: Path, out: Path, focal: float | None, *flags: str) -> dict:
    command = [sys.executable, "-m", "staf", "demo", str(frames), "--out", str(out), "--no-render",
               "--formats", "pkl", "--quiet", "--force", *flags]
    command += ["--focal", f"{focal:.6f}"] if focal else []
    subprocess.run(command, check=True)
    tracks = joblib.load(out / "staf_output.pkl")
    return max(tracks.values(), key=lambda track: len(track["frame_ids"]))


def posed_joints(body: BodyModel, rotations: np.ndarray, betas: np.ndarray, shift: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        joints = body(torch.as_tensor(rotations, dtype=torch.float64), torch.as_tensor(betas, dtype=torch.float64)).joints
    return joints.numpy() + shift[:, None]


def world_joints(body: BodyModel, track: dict) -> np.ndarray:
    rotations = np.array(track["rotmat"], np.float64)
    rotations[:, 0] = track["world_rotmat"]
    return posed_joints(body, rotations, track["betas"], track["world_transl"])


def measures(pred: np.ndarray, truth: np.ndarray) -> dict:
    return {"w_mpjpe": world_mpjpe(pred, truth, 2), "wa_mpjpe": world_mpjpe(pred, truth, None),
            "foot_sliding": foot_sliding(pred[:, FEET], truth[:, FEET])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="a staf synth folder (synth_moving_db.pt and seq_NNNN/frames)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--min-turn", type=float, default=5.0, help="degrees the camera turns, first to last frame")
    parser.add_argument("--min-move", type=float, default=0.3, help="metres the camera moves")
    parser.add_argument("--max-turn", type=float, default=60.0,
                        help="leave out cameras that turn more (the backdrop is a picture shifted by f·tan(turn))")
    parser.add_argument("--true-focal", action="store_true",
                        help="give staf demo the synthetic camera's focal length (default: its own rule, the diagonal)")
    parser.add_argument("--demo", nargs="+", action="extend", default=[], metavar="FLAG",
                        help="more staf demo flags for every run (e.g. --demo=--depth-window --demo=3)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    database = read_db(next(args.data.glob("synth_*_db.pt")))
    body = BodyModel.load(dtype=torch.float64)
    rows = []
    for name in sorted(set(database["vid_name"].tolist())):
        rows_of = np.flatnonzero(database["vid_name"] == name)
        extrinsics = database["cam_extrinsics"][rows_of]
        rotation, shift = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
        eye = -np.einsum("tji,tj->ti", rotation, shift)
        turn = float(rotation_angle(rotation[-1] @ rotation[0].T))
        move = float(np.linalg.norm(eye[-1] - eye[0]))
        if (turn < args.min_turn and move < args.min_move) or turn > args.max_turn:
            continue
        truth = np.einsum("tji,tnj->tni", rotation, database["joints3D_smpl24"][rows_of] - shift[:, None])
        frames = args.data / name / "frames"
        focal = float(database["cam_intrinsics"][rows_of][0, 0, 0]) if args.true_focal else None
        world = run_demo(frames, args.out / name / "world", focal, *args.demo)
        static = run_demo(frames, args.out / name / "static", focal, "--static-camera", *args.demo)
        ids = world["frame_ids"]
        row = {"sequence": name, "camera_path": str(database["camera_path"][rows_of][0]), "camera_turn": turn,
               "camera_move": move, "frames": len(ids), "of": len(rows_of),
               "truth_path": float(np.linalg.norm(np.diff(truth[:, 0, [0, 2]], axis=0), axis=1).sum())}
        camera = posed_joints(body, world["rotmat"], world["betas"], world["transl"])
        row["camera"] = measures(camera, truth[ids])
        same = np.isin(static["frame_ids"], ids)
        static_truth = truth[static["frame_ids"][same]]
        row["static"] = measures(world_joints(body, static)[same], static_truth)
        row["world"] = measures(world_joints(body, world), truth[ids])
        row["rotation"] = camera_rotation_error(world["camera_R"], rotation[ids])
        pelvis = world_joints(body, world)[:, 0]
        found_eye = camera_centres(world["camera_R"], world["camera_t"])
        row["camera_travel"] = {"true": float(np.linalg.norm(eye[ids[-1]] - eye[ids[0]])),
                                "found": float(np.linalg.norm(found_eye[-1] - found_eye[0])),
                                "true_height": float(eye[ids, 1].mean()),
                                "found_height": float(found_eye[:, 1].mean())}
        row["truth_span"] = float(np.linalg.norm(truth[ids[-1], 0, [0, 2]] - truth[ids[0], 0, [0, 2]]))
        row["world_span"] = float(np.linalg.norm(pelvis[-1, [0, 2]] - pelvis[0, [0, 2]]))
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {kind: {key: float(np.nanmean([row[kind][key] for row in rows]))
                      for key in ("w_mpjpe", "wa_mpjpe", "foot_sliding")} for kind in ("camera", "static", "world")}
    summary["rotation"] = {key: float(np.mean([row["rotation"][key] for row in rows]))
                           for key in ("per_frame", "accumulated", "mean_relative", "true_turn")}
    summary["sequences"] = len(rows)
    print("all", json.dumps(summary))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"sequences": rows, "all": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
