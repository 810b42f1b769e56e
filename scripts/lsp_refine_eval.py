"""The refine stage on real still images with human labels (LSP layout), one-frame tracks.

    python scripts/lsp_refine_eval.py [--data-root ../shared/real_images/lsp_dev] [--checkpoint FILE]
        [--limit N] [--set NAME=VALUE ...] [--landmark-model full|heavy] [--json OUT.json]
        [--detector-set FIELD=VALUE ...] [--detector-only]

Per image: the network sees the crop of the labelled joints' box (as ``staf eval --data lsp``);
BlazePose (the detector staf ships) runs on the whole image as the demo runs it, and the person
whose box overlaps the labelled box best (IoU ≥ 0.3) is taken; where none is found the landmark
model runs in a square region around the labelled box. The fit (:mod:`staf.inference.refine`,
turned round per image, no smoothness term, β per image) starts from the network's bodies and,
as a control, from the mean pose. Reported, as ``../shared/real_images/README.md`` asks: PCK@0.1 /
@0.2 on the 12 limb joints and on all 14 (BlazePose lacks neck and head top: 12 only), each also
against the labels with left and right swapped.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import torch
import yaml
from tqdm import tqdm

from staf.body.landmarks import LandmarkMap
from staf.data.crops import read_image
from staf.data.lsp import read_lsp
from staf.evaluation.pck import box_sides, label_boxes, one_image_track, summary
from staf.geometry.boxes import box_iou, corners_to_centre_size
from staf.geometry.cameras import cliff_translation, crop_to_image_points, default_focal_length
from staf.inference.blazepose import BlazePoseDetector, Roi, detector_config
from staf.inference.refine import BodyState, Observations, RefineConfig, refine_track
from staf.inference.stages.refine import refined_prediction
from staf.models import load
from staf.models.base import BodyPrediction

#: BlazePose landmarks of LSP-14 rows 0–11
BLAZEPOSE12 = [28, 26, 24, 23, 25, 27, 16, 14, 12, 11, 13, 15]
#: LSP-14 with left and right exchanged
LSP14_SWAPPED = [5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13]


def detect(detector: BlazePoseDetector, image: np.ndarray, labelled_box: np.ndarray):
    """(33, 3) keypoints, (33, 3) world landmarks of the labelled person, and how they were found."""
    detector.reset()
    people = detector(image)
    overlaps = [box_iou(person.box, labelled_box) for person in people]
    if overlaps and max(overlaps) >= 0.3:
        person = people[int(np.argmax(overlaps))]
        return person.keypoints, person.world_landmarks, "detected"
    cx, cy, width, height = corners_to_centre_size(labelled_box[None])[0]
    person = detector.landmarks(image, Roi(cx, cy, 1.5 * max(width, height)))
    if person is None:
        return np.full((33, 3), np.nan), np.full((33, 3), np.nan), "missed"
    return person.keypoints, person.world_landmarks, "box"


def image_predictions(model, crop_rule, data, limit):
    """The network's one-frame predictions and each image's geometry."""
    squares = crop_rule.squares(corners_to_centre_size(label_boxes(data.joints[:limit])))
    predictions, geometry = [], []
    for row in tqdm(range(limit), desc="network", unit="image"):
        image = read_image(data.images[row])
        track = one_image_track(image, squares[row], model.config.image_size)
        predictions.append(model.predict_sequences([track.to(model.device)])[0].map(lambda t: t.float().cpu()))
        geometry.append((track.boxes, image.shape[1], image.shape[0]))
    return predictions, geometry


def refine_all(model, predictions, geometry, keypoints, world, settings, landmark_map):
    """Every image with keypoints fitted, in one batch (each image its own size and focal length)."""
    out = list(predictions)
    rows = [row for row in range(len(predictions)) if np.isfinite(keypoints[row]).all()]
    batch = BodyPrediction.cat([predictions[r] for r in rows])
    boxes = torch.cat([geometry[r][0] for r in rows])
    sizes = torch.tensor([[geometry[r][1], geometry[r][2]] for r in rows], dtype=torch.float32)
    focal = torch.tensor([default_focal_length(geometry[r][1], geometry[r][2]) for r in rows], dtype=torch.float32)
    transl = cliff_translation(batch.cam, boxes, sizes, focal) if model.camera.name == "cliff" else \
        torch.stack([model.camera.translation(batch.cam[i:i + 1], boxes[i:i + 1], (int(sizes[i, 0]), int(sizes[i, 1])),
                                              float(focal[i]))[0] for i in range(len(rows))])
    start = BodyState(batch.rotmat, batch.betas, transl)
    sides = torch.as_tensor(box_sides(keypoints[rows][:, BLAZEPOSE12, :2]), dtype=torch.float32)
    observed = Observations(torch.as_tensor(keypoints[rows], dtype=torch.float32),
                            torch.as_tensor(world[rows], dtype=torch.float32), sides, sizes, focal)
    refined, _ = refine_track(model.body, landmark_map, start, observed, settings)
    result = refined_prediction(model.body, refined, boxes, sizes, focal)
    for index, row in enumerate(rows):
        out[row] = result.map(lambda t, index=index: t[index:index + 1])
    return out


def lsp_pixels(predictions, geometry) -> np.ndarray:
    return np.stack([crop_to_image_points(p.joints2d["lsp14"], g[0]).numpy()[0] for p, g in zip(predictions, geometry)])


def rows_for(pixels: np.ndarray, labels: np.ndarray, joints: int = 14) -> dict[str, dict[str, float]]:
    out = {}
    for name, target in (("labels", labels), ("swapped", labels[:, LSP14_SWAPPED])):
        distance = np.linalg.norm(pixels[:, :joints] - target[:, :joints], axis=-1) / box_sides(labels)[:, None]
        if joints < 14:
            distance = np.concatenate([distance, np.full((len(distance), 14 - joints), np.nan)], axis=1)
        values = summary(distance)
        out[name] = {k: v for k, v in values.items() if joints == 14 or k.endswith("_12")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/real_images/lsp_dev")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--landmark-model", default="full", help="BlazePose landmark model: full or heavy")
    parser.add_argument("--json", default=None)
    parser.add_argument("--detector-set", nargs="+", action="extend", default=[], metavar="FIELD=VALUE",
                        help="DetectorConfig fields, as staf demo --detector-set (several after one flag)")
    parser.add_argument("--detector-only", action="store_true", help="only BlazePose's own keypoints (no network, no fit)")
    args = parser.parse_args()
    settings = RefineConfig(smoothness=0.0, turn_per_frame=True, shared_shape=False)
    settings = dataclasses.replace(settings, **{k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.overrides)})
    data = read_lsp(args.data_root)
    limit = min(args.limit or len(data), len(data))
    labels = data.joints[:limit]
    detector = BlazePoseDetector(detector_config(args.detector_set, threads=2, landmark_model=args.landmark_model))
    found = [detect(detector, read_image(data.images[row]), label_boxes(labels[row:row + 1])[0])
             for row in tqdm(range(limit), desc="blazepose", unit="image")]
    keypoints = np.stack([f[0] for f in found])
    world = np.stack([f[1] for f in found])
    how = [f[2] for f in found]
    landmark_map = LandmarkMap.shipped()
    report = {"images": limit, "found": {k: how.count(k) for k in ("detected", "box", "missed")},
              "settings": dataclasses.asdict(settings), "rows": {}}
    blazepose = np.where(np.isfinite(keypoints[:, BLAZEPOSE12, :2]), keypoints[:, BLAZEPOSE12, :2], 1e9)
    report["rows"]["BlazePose keypoints"] = rows_for(blazepose, labels, joints=12)
    found_rows = np.array([h != "missed" for h in how])          # a missed person counts as a miss in PCK;
    for name, row in rows_for(blazepose[found_rows], labels[found_rows], joints=12).items():   # its distance
        report["rows"]["BlazePose keypoints"][name]["distance_12"] = row["distance_12"]        # over people found
    for name, spec in () if args.detector_only else (("network", args.checkpoint), ("mean pose", "mean-pose")):
        loaded = load(spec)
        predictions, geometry = image_predictions(loaded.model, loaded.crop_rule, data, limit)
        report["rows"][name] = rows_for(lsp_pixels(predictions, geometry), labels)
        started = time.perf_counter()
        refined = refine_all(loaded.model, predictions, geometry, keypoints, world, settings, landmark_map)
        report["rows"][f"{name} + refine"] = rows_for(lsp_pixels(refined, geometry), labels)
        report["rows"][f"{name} + refine"]["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    print(f"{'method':<22} PCK@0.1/0.2 (12)   (14)          swapped @0.1 (12)")
    for name, row in report["rows"].items():
        own, swapped = row["labels"], row["swapped"]
        fourteen = f"{own['pck@0.1_14']:.3f} / {own['pck@0.2_14']:.3f}" if "pck@0.1_14" in own else "–"
        print(f"{name:<22} {own['pck@0.1_12']:.3f} / {own['pck@0.2_12']:.3f}   {fourteen:<13} {swapped['pck@0.1_12']:.3f}")


if __name__ == "__main__":
    main()
