"""Would a foot-contact clean-up help? (issue 32, the optional part). It is measured here on the
world runs of ``scripts/world_synthetic_eval.py`` before anything is built into ``staf demo``.

The clean-up tried: while a foot is planted (``contacts`` of ``staf_output.pkl``, the rule of
:mod:`staf.geometry.ground`: slower than 1 m/s and within 6 cm of its lowest height, in two
frames running), the body is shifted along the ground by minus the mean step of its planted feet,
and the shifts add up, so a planted foot stays where it was (``lock``); ``lock_hpS`` keeps only
the part of the summed shift that changes within S seconds (its linear Savitzky–Golay trend
removed), so that the path keeps the network's course over longer times. For each, over the
clips: W-MPJPE₁₀₀, WA-MPJPE₁₀₀ and foot sliding (:mod:`staf.evaluation.world`), and the share of
frames whose feet are found planted, against the truth's (a foot that moves under 1 cm a frame):
how many of the true contacts are found, and how many found are true.

    python scripts/world_synthetic_eval.py runs/moving --out runs/moving_eval --true-focal --json runs/moving_eval.json
    python scripts/foot_lock_eval.py runs/moving runs/moving_eval --json runs/foot_lock.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import numpy as np
import torch
from scipy.signal import savgol_filter

from staf.body import BodyModel
from staf.data.db import read_db
from staf.evaluation.world import foot_sliding, world_mpjpe
from staf.geometry.ground import FEET_ON_GROUND
from world_synthetic_eval import world_joints   # (scripts/, run as python scripts/foot_lock_eval.py)

#: SMPL's feet (the joints of ``contacts``' last two columns)
FEET = [10, 11]


def locked(joints: np.ndarray, contacts: np.ndarray, keep_course: float | None = None, fps: float = 30.0) -> np.ndarray:
    """(T, 24, 3) world joints (y up), (T, 4) contacts → the joints shifted along the ground so
    that planted feet stay put (module docstring; ``keep_course`` S seconds: ``lock_hpS``)."""
    feet = joints[:, FEET][:, :, [0, 2]]
    planted = contacts[:-1, FEET_ON_GROUND] & contacts[1:, FEET_ON_GROUND]
    count = planted.sum(1, keepdims=True)
    slide = (np.diff(feet, axis=0) * planted[..., None]).sum(1) / np.maximum(count, 1)
    shift = np.concatenate([np.zeros((1, 2)), -np.cumsum(slide, axis=0)])
    if keep_course:
        window = min(round(keep_course * fps) | 1, len(shift) - (1 - len(shift) % 2))
        shift = shift - savgol_filter(shift, window, 1, axis=0)
    out = joints.copy()
    out[..., [0, 2]] += shift[:, None]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", type=Path, help="the staf synth folder")
    parser.add_argument("runs", type=Path, help="world_synthetic_eval.py's --out folder")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    database = read_db(next(args.data.glob("synth_*_db.pt")))
    body = BodyModel.load(dtype=torch.float64)
    variants = {"none": lambda j, c: j, "lock": locked, "lock_hp2": lambda j, c: locked(j, c, 2),
                "lock_hp4": lambda j, c: locked(j, c, 4)}
    rows = []
    for folder in sorted(path for path in args.runs.iterdir() if (path / "world" / "staf_output.pkl").is_file()):
        tracks = joblib.load(folder / "world" / "staf_output.pkl")
        track = max(tracks.values(), key=lambda t: len(t["frame_ids"]))
        rows_of = np.flatnonzero(database["vid_name"] == folder.name)
        extrinsics = database["cam_extrinsics"][rows_of]
        rotation, shift = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
        truth = np.einsum("tji,tnj->tni", rotation, database["joints3D_smpl24"][rows_of] - shift[:, None])
        truth = truth[track["frame_ids"]]
        joints, contacts = world_joints(body, track), np.asarray(track["contacts"], bool)
        still = np.linalg.norm(np.diff(truth[:, FEET], axis=0), axis=-1) < 0.01     # the true feet that stand
        found = contacts[1:, FEET_ON_GROUND]
        row = {"sequence": folder.name, "planted_share": float(contacts[:, FEET_ON_GROUND].mean()),
               "true_planted_share": float(still.mean()), "found_of_true": float(found[still].mean()),
               "true_of_found": float(still[found].mean()) if found.any() else float("nan")}
        for name, variant in variants.items():
            moved = variant(joints, contacts)
            row[name] = {"w_mpjpe": world_mpjpe(moved, truth, 2), "wa_mpjpe": world_mpjpe(moved, truth, None),
                         "foot_sliding": foot_sliding(moved[:, FEET], truth[:, FEET])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {name: {key: float(np.nanmean([row[name][key] for row in rows])) for key in ("w_mpjpe", "wa_mpjpe", "foot_sliding")}
               for name in variants}
    for key in ("planted_share", "true_planted_share", "found_of_true", "true_of_found"):
        summary[key] = float(np.nanmean([row[key] for row in rows]))
    print("all", json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"sequences": rows, "all": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
