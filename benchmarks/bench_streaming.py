"""Frames per second of streaming vs naive (window-by-window) STAF inference.

    python benchmarks/bench_streaming.py --frames 64            # ResNet-50, 224×224, full STAF

Both produce one prediction per frame (each frame the target of its own 9-frame window, edges
padded); the script checks they agree and prints frames/s and the speed-up. Random weights:
speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from staf.body import BodyModel
from staf.models.staf.streaming import StreamingRunner, naive_sequence
from staf.models import STAF, STAFConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--variant", default="staf")
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--window-batch", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-naive", action="store_true")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = torch.device(args.device)
    body = BodyModel.load(device=device)
    model = STAF(STAFConfig(variant=args.variant, backbone=args.backbone, image_size=args.size), body).to(device).eval()
    crops = torch.randn(args.frames, 3, args.size, args.size, device=device)
    runner = StreamingRunner(model, window_batch=args.window_batch)
    runner(crops[: model.config.seq_len])  # warm-up

    started = time.perf_counter()
    streamed = runner(crops)
    streaming_seconds = time.perf_counter() - started
    result = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__, "variant": args.variant, "backbone": args.backbone, "size": args.size,
        "frames": args.frames, "streaming_fps": args.frames / streaming_seconds,
    }
    if not args.skip_naive:
        started = time.perf_counter()
        naive = naive_sequence(model, crops)
        naive_seconds = time.perf_counter() - started
        result.update(naive_fps=args.frames / naive_seconds, speedup=naive_seconds / streaming_seconds,
                      max_vertex_difference=float((streamed.vertices - naive.vertices).abs().max()))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
