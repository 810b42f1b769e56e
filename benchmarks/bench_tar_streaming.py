"""Frames per second of TAR's streaming ``predict_sequence`` (each frame's static features once)
vs the naive per-window run (the encoder 9 times per frame), with equal outputs.

    python benchmarks/bench_tar_streaming.py --frames 24                 # ResNet-50, 256×256, T = 9, L = 5
    python benchmarks/bench_tar_streaming.py --frames 24 --lte-hidden-size 16

Random weights and crops, boxes in a 1280×720 frame: speed does not depend on them. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from staf.body import BodyModel
from staf.models import MeshRecoveryModel, SequenceInput, build_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--local-channels", type=int, default=256)
    parser.add_argument("--lte-hidden-size", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = torch.device(args.device)
    body = BodyModel.load(device=device)
    model = build_model("tar", {"backbone": args.backbone, "image_size": args.size, "local_channels": args.local_channels,
                                "lte_hidden_size": args.lte_hidden_size}, body).to(device).eval()
    count = args.frames
    track = SequenceInput(crops=torch.randn(count, 3, args.size, args.size),
                          boxes=torch.tensor([[640.0, 360.0, 400.0]]).expand(count, 3),
                          image_size=torch.tensor([[1280.0, 720.0]]).expand(count, 2),
                          focal_length=torch.full((count,), 1468.6)).to(device)
    model.predict_sequence(track.select(torch.arange(model.config.seq_len)))    # warm-up

    started = time.perf_counter()
    streamed = model.predict_sequence(track)
    streaming_seconds = time.perf_counter() - started
    result = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__, "backbone": args.backbone, "size": args.size, "local_channels": args.local_channels,
        "lte_hidden_size": args.lte_hidden_size or model.config.map_size, "frames": count,
        "streaming_fps": count / streaming_seconds,
    }
    if not args.skip_naive:
        started = time.perf_counter()
        naive = MeshRecoveryModel.predict_sequence(model, track)
        naive_seconds = time.perf_counter() - started
        result.update(naive_fps=count / naive_seconds, speedup=naive_seconds / streaming_seconds,
                      max_vertex_difference=float((streamed.vertices - naive.vertices).abs().max()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
