"""Seconds per stage-1 training step (forward, eq. 11 loss, backward, Adam) in float32 and with
the encoder in bfloat16 (``precision: bf16``).

    python benchmarks/bench_train_step.py                 # the train-synth-cpu model: ResNet-18, 128², batch 32
    python benchmarks/bench_train_step.py --backbone resnet50 --size 224 --decoder 256 --device cuda

Random crops and targets: speed does not depend on them. Prints a JSON line per precision.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from staf.body import BodyModel
from staf.models import STAF, STAFConfig
from staf.training import LossWeights
from staf.training.losses import Targets, total_loss
from staf.training.trainer import flatten_frames


def random_targets(count: int, num_betas: int, device) -> Targets:
    return Targets(
        joints2d=torch.cat([torch.rand(count, 49, 2) * 2 - 1, torch.ones(count, 49, 1)], dim=-1).to(device),
        joints3d=(torch.randn(count, 49, 3) * 0.3).to(device), pose=(torch.randn(count, 72) * 0.2).to(device),
        betas=torch.randn(count, num_betas).to(device), has_2d=torch.ones(count, dtype=torch.bool, device=device),
        has_3d=torch.ones(count, dtype=torch.bool, device=device), has_smpl=torch.ones(count, dtype=torch.bool, device=device),
    )


def seconds_per_step(model: STAF, images: torch.Tensor, targets: Targets, steps: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    weights = LossWeights()

    def step() -> None:
        output = model(images, meshes=False)
        predictions = [flatten_frames(output.stage1), output.stage2, output.stage3]
        loss, _ = total_loss(predictions, targets, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    step()  # warm-up
    if images.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if images.device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--decoder", type=int, default=128, help="decoder channels (the MLP follows: C-64-32-5)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    torch.manual_seed(0)
    device = torch.device(args.device)
    body = BodyModel.load(device=device)
    config = STAFConfig(variant="base", seq_len=1, backbone=args.backbone, image_size=args.size,
                        decoder_channels=args.decoder, mlp_channels=(args.decoder, 64, 32, 5))
    model = STAF(config, body).to(device).train()
    images = torch.randn(args.batch, 1, 3, args.size, args.size, device=device)
    targets = random_targets(args.batch, body.num_betas, device)
    for precision in ("fp32", "bf16"):
        model.set_encoder_precision(precision)
        seconds = seconds_per_step(model, images, targets, args.steps)
        print(json.dumps({"precision": precision, "seconds_per_step": round(seconds, 3), "backbone": args.backbone,
                          "size": args.size, "batch": args.batch, "device": str(device),
                          "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}))


if __name__ == "__main__":
    main()
