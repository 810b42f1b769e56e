"""Fit the BlazePose landmark map (:mod:`staf.body.landmarks`) on renders of the open body model.

    python scripts/fit_landmark_map.py [--work DIR] [--out src/staf/body/data/blazepose_landmarks.json]

Two sets of renders are made with ``staf synth`` (one person per sequence, where the mesh is
known): one to fit on (``--fit-seed``) and one held out (``--held-out-seed``). BlazePose (the
detector staf ships) runs on every full frame as on a video; the person whose box overlaps the
rendered body's box best (IoU ≥ 0.5) is taken. The body model's 54-joint array is projected
with each frame's camera; :func:`staf.body.landmarks.fit_landmark_map` fits the weights on the
first set. Printed and stored in the map's notes: on the held-out set, the mean distance
between BlazePose's keypoints (visibility ≥ 0.5) and the mapped landmarks, in box sides, per
landmark and over all, for the fitted map and for the semantic one (each landmark on its
namesake).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from staf.body import BodyModel
from staf.body.landmarks import BLAZEPOSE_NAMES, LandmarkMap, fit_landmark_map
from staf.cli import main as staf_main
from staf.data.crops import read_image
from staf.data.db import read_db
from staf.geometry.boxes import box_iou, centre_size_to_corners
from staf.inference.blazepose import BlazePoseDetector, DetectorConfig

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "staf" / "body" / "data" / "blazepose_landmarks.json"
#: BlazePose rows of the 12 limb joints (shoulders, elbows, wrists, hips, knees, ankles)
LIMBS12 = [11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]


def render(folder: Path, sequences: int, frames: int, seed: int, size: int) -> None:
    status = staf_main(["synth", "--out", str(folder), "--sequences", str(sequences), "--frames", str(frames),
                        "--seed", str(seed), "--size", str(size), "--crop-size", "64"])
    if status != 0:
        raise SystemExit(f"staf synth failed for {folder}")


def observations(folder: Path, body: BodyModel) -> dict[str, np.ndarray]:
    """BlazePose's keypoints and the projected 54-array on every frame where the person is found."""
    data = read_db(next(folder.glob("synth_*_db.pt")))
    detector = BlazePoseDetector(DetectorConfig(threads=2))
    keypoints, projected, sides = [], [], []
    for name in tqdm(sorted(set(data["vid_name"].tolist())), desc=f"blazepose {folder.name}", unit="sequence"):
        rows = np.flatnonzero(data["vid_name"] == name)
        detector.reset()
        with torch.no_grad():
            output = body(torch.as_tensor(data["pose"][rows]).float(), torch.as_tensor(data["shape"][rows]).float(),
                          torch.as_tensor(data["transl"][rows]).float())
            points = body.joints54(output.vertices, output.joints).double().numpy()
        for row, point in zip(rows, points):
            image = read_image(folder / data["img_name"][row])
            truth = centre_size_to_corners(data["bbox"][row])
            people = detector(image)
            overlaps = [box_iou(person.box, truth) for person in people]
            if not overlaps or max(overlaps) < 0.5:
                continue
            homogeneous = point @ np.asarray(data["cam_intrinsics"][row], np.float64).T
            projected.append(homogeneous[:, :2] / homogeneous[:, 2:])
            keypoints.append(people[int(np.argmax(overlaps))].keypoints)
            sides.append(max(data["bbox"][row][2:]))
    return {"keypoints": np.asarray(keypoints), "projected": np.asarray(projected), "sides": np.asarray(sides)}


def errors(landmark_map: LandmarkMap, seen: dict[str, np.ndarray]) -> np.ndarray:
    """(N, 33) distance of mapped landmarks from BlazePose's keypoints, box sides (NaN: not visible)."""
    mapped = landmark_map(torch.as_tensor(seen["projected"])).numpy()
    distance = np.linalg.norm(mapped - seen["keypoints"][..., :2], axis=-1) / seen["sides"][:, None]
    return np.where(seen["keypoints"][..., 2] >= 0.5, distance, np.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=None, help="where the renders go (default: a temporary folder)")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--sequences", type=int, default=40)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--fit-seed", type=int, default=101)
    parser.add_argument("--held-out-seed", type=int, default=102)
    args = parser.parse_args()
    body = BodyModel.load("open")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(args.work or temporary)
        seen = {}
        for split, seed in (("fit", args.fit_seed), ("held-out", args.held_out_seed)):
            render(work / split, args.sequences, args.frames, seed, args.size)
            seen[split] = observations(work / split, body)
    fit = seen["fit"]
    fitted = fit_landmark_map(fit["projected"], fit["keypoints"][..., :2], fit["keypoints"][..., 2] >= 0.5,
                              fit["sides"])
    report = {}
    for name, landmark_map in (("semantic", LandmarkMap.semantic()), ("fitted", fitted)):
        distance = errors(landmark_map, seen["held-out"])
        report[name] = {"mean_33": float(np.nanmean(distance)), "mean_limbs12": float(np.nanmean(distance[:, LIMBS12])),
                        "per_landmark": {n: round(float(np.nanmean(d)), 4) for n, d in zip(BLAZEPOSE_NAMES, distance.T)}}
    fitted.notes = {
        "source": "scripts/fit_landmark_map.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()
                                                            if k not in ("work", "out")),
        "body_model": body.name, "fit_frames": len(fit["sides"]), "held_out_frames": len(seen["held-out"]["sides"]),
        "held_out_mean_distance_box_sides": {name: {k: round(v, 4) for k, v in row.items() if k != "per_landmark"}
                                             for name, row in report.items()},
    }
    fitted.save(args.out)
    print(json.dumps({"frames": fitted.notes["fit_frames"], "held_out_frames": fitted.notes["held_out_frames"],
                      **report}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
