"""Seconds per stage-1 training step (forward, eq. 11 loss, backward, Adam): the encoder in float32
or bfloat16 (``precision: bf16``), its weights NCHW or channels-last, Adam as a per-tensor loop or
fused (the trainer: bf16 where configured, channels-last, fused).

    python benchmarks/bench_train_step.py                 # the train-synth-cpu model: ResNet-18, 128², batch 16
    python benchmarks/bench_train_step.py --backbone resnet50 --size 224 --decoder 256 --device cuda
    python benchmarks/bench_train_step.py --model tar --settings fp32-nhwc-fused   # tar-synth-cpu's stage 1

Random crops and targets: speed does not depend on them. Prints a JSON line per setting (median over rounds).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from staf.body import BodyModel
from staf.models import STAFConfig, build_model
from staf.models.tar import TARConfig
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


# (encoder precision, encoder memory layout, Adam implementation): the old defaults first, the
# trainer's configuration (bf16, channels-last, fused) last
SETTINGS = (("fp32", "nchw", "loop"), ("bf16", "nchw", "loop"), ("bf16", "nchw", "fused"), ("bf16", "nhwc", "fused"),
            ("fp32", "nhwc", "fused"))


def make_step(model, images: torch.Tensor, targets: Targets, adam: str):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, foreach=False if adam == "loop" else None,
                                 fused=adam == "fused")
    weights = LossWeights()

    def step() -> None:
        output = model(images, meshes=False)
        predictions = [*(flatten_frames(p) for p in output.frames), *output.targets]
        factors = [1.0] * len(output.frames) + (output.target_weights or [1.0] * len(output.targets))
        loss, _ = total_loss(predictions, targets, weights, factors)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if images.device.type == "cuda":
            torch.cuda.synchronize()

    step()  # warm-up
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--decoder", type=int, default=128, help="decoder channels (the MLP follows: C-64-32-5)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3, help="steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the settings alternate within each")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--model", default="staf", choices=("staf", "tar"),
                        help="staf: train-synth-cpu's stage 1; tar: tar-synth-cpu's stage 1 (the per-frame model)")
    parser.add_argument("--settings", default="all",
                        help="comma-separated PRECISION-LAYOUT-ADAM keys (e.g. fp32-nhwc-fused,bf16-nhwc-fused) or all")
    args = parser.parse_args()

    device = torch.device(args.device)
    body = BodyModel.load(device=device)
    if args.model == "staf":
        config = STAFConfig(variant="base", seq_len=1, backbone=args.backbone, image_size=args.size,
                            decoder_channels=args.decoder, mlp_channels=(args.decoder, 64, 32, 5))
    else:
        config = TARConfig(variant="single", seq_len=1, local_window=1, backbone=args.backbone, image_size=args.size,
                           local_channels=32, gte_width=128, gte_heads=4, gte_feedforward=256)
    images = torch.randn(args.batch, 1, 3, args.size, args.size, device=device)
    targets = random_targets(args.batch, body.num_betas, device)
    steps = {}
    chosen = SETTINGS if args.settings == "all" else [tuple(key.split("-")) for key in args.settings.split(",")]
    for precision, layout, adam in chosen:
        torch.manual_seed(0)
        model = build_model(args.model, config, body).to(device).train()
        model.encoder.set_precision(precision)
        if layout == "nchw":
            model.encoder.to(memory_format=torch.contiguous_format)
        steps[(precision, layout, adam)] = make_step(model, images, targets, adam)
    times = {key: [] for key in steps}
    for _ in range(args.rounds):  # alternate the settings so that a busy host slows all alike
        for key, step in steps.items():
            start = time.perf_counter()
            for _ in range(args.steps):
                step()
            times[key].append((time.perf_counter() - start) / args.steps)
    for (precision, layout, adam), values in times.items():
        print(json.dumps({"model": args.model, "precision": precision, "encoder_layout": layout, "adam": adam,
                          "seconds_per_step": round(statistics.median(values), 3), "backbone": args.backbone,
                          "size": args.size, "batch": args.batch, "device": str(device),
                          "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}))


if __name__ == "__main__":
    main()
