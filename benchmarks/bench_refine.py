"""Frames per second of the refine stage's fit per person, against the recover stage, back to back.

    python benchmarks/bench_refine.py --frames 120 --rounds 3

One synthetic track (a person 5 m away, BlazePose-like keypoints and world landmarks made from a
known body plus noise, the start perturbed): ``refine_track`` with the default settings, and the
shipped model's ``predict_sequences`` on random crops of the same length (the recover stage's
work for that person). The two alternate within each round; medians over rounds. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from staf.body.landmarks import LandmarkMap
from staf.geometry.rotations import axis_angle_to_matrix
from staf.inference.refine import BodyState, LandmarkBody, Observations, RefineConfig, project, refine_track
from staf.models import load
from staf.models.base import SequenceInput


def synthetic_track(body, frames: int):
    generator = torch.Generator().manual_seed(0)
    pose = torch.zeros(frames, 24, 3)
    pose[:, 0] = torch.tensor([3.14159, 0.0, 0.0])
    pose[:, 1:] = 0.25 * torch.randn(1, 23, 3, generator=generator)
    rotmat, betas = axis_angle_to_matrix(pose), torch.zeros(1, 10)
    transl = torch.tensor([0.2, 0.1, 5.0]).repeat(frames, 1)
    landmarks, _ = LandmarkBody(body, LandmarkMap.shipped())(rotmat, betas, transl)
    pixels = project(landmarks, 1000.0, torch.tensor([640.0, 360.0]))
    pixels = pixels + 3 * torch.randn(pixels.shape, generator=generator)
    keypoints = torch.cat([pixels, torch.full((frames, 33, 1), 0.9)], -1)
    world = landmarks - landmarks[:, [23, 24]].mean(1, keepdim=True)
    observed = Observations(keypoints, world, torch.full((frames,), 300.0), (1280, 720), 1000.0)
    start = BodyState(rotmat @ axis_angle_to_matrix(0.15 * torch.randn(frames, 24, 3, generator=generator)),
                      betas.expand(frames, -1), transl * torch.tensor([1.0, 1.0, 1.1]))
    return start, observed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=RefineConfig().iterations)
    args = parser.parse_args()
    loaded = load("default")
    model, body = loaded.model, loaded.model.body
    start, observed = synthetic_track(body, args.frames)
    size = model.config.image_size
    crops = SequenceInput(crops=torch.randn(args.frames, 3, size, size),
                          boxes=torch.tensor([[640.0, 360.0, 400.0]]).expand(args.frames, 3),
                          image_size=torch.tensor([[1280.0, 720.0]]).expand(args.frames, 2),
                          focal_length=torch.full((args.frames,), 1000.0))
    timings: dict[str, list[float]] = {"refine": [], "recover": []}
    for _ in range(args.rounds):
        began = time.perf_counter()
        refine_track(body, LandmarkMap.shipped(), start, observed, RefineConfig(iterations=args.iterations))
        timings["refine"].append(time.perf_counter() - began)
        began = time.perf_counter()
        with torch.no_grad():
            model.predict_sequences([crops])
        timings["recover"].append(time.perf_counter() - began)
    result = {name: round(args.frames / statistics.median(values), 1) for name, values in timings.items()}
    print(json.dumps({"frames_per_second": result, "frames": args.frames, "iterations": args.iterations,
                      "threads": torch.get_num_threads(), "cpu": platform.machine()}))


if __name__ == "__main__":
    main()
