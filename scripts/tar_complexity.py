"""Parameters and FLOPs of TAR for one window, beside the paper's Table S3 (ResNet-50, 256×256,
T = 9, L = 5): S = 64 → 25.0 M, 184.6 GFLOPs; 32 → 29.9 M, 72.4; 16 → 34.3 M, 43.5; 8 → 38.5 M, 36.3.

    python scripts/tar_complexity.py                    # the tar-paper architecture, S = 64, 32, 16, 8
    python scripts/tar_complexity.py --preset tar-synth-cpu

FLOPs are counted by ``torch.utils.flop_counter`` (2 per multiply-add) on one forward pass of a
window, split by module; "GMACs" (multiply-adds) is the unit most papers call FLOPs (fvcore,
thop). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from importlib import resources

import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from staf.body import BodyModel
from staf.models import build_model

PAPER = {64: (25.0, 184.6), 32: (29.9, 72.4), 16: (34.3, 43.5), 8: (38.5, 36.3)}
PARTS = ("encoder", "local_head", "gte", "lte", "hidden_init", "regressor", "feedback", "gru")


def measure(config: dict, body: BodyModel) -> dict:
    model = build_model("tar", config, body).eval()
    size, length = model.config.image_size, model.config.seq_len
    params = {part: sum(p.numel() for p in getattr(model, part).parameters()) if getattr(model, part) is not None else 0
              for part in PARTS}
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, length, 3, size, size), meshes=False)
    flops = counter.get_flop_counts()
    by_part = {part: sum(flops.get(f"TAR.{part}", {}).values()) for part in PARTS}
    total = sum(flops.get("Global", {}).values())
    # the encoder runs through encode_levels (no module call the counter sees): the remainder
    by_part["encoder"] = total - sum(value for part, value in by_part.items() if part != "encoder")
    return {"params": params, "flops": by_part, "total_flops": total, "map": model.config.map_size}


def streaming(result: dict, length: int) -> float:
    """FLOPs per output frame when each frame's features are computed once (predict_sequence):
    the encoder and local head of one frame, plus one window's head."""
    flops = result["flops"]
    per_frame = (flops["encoder"] + flops["local_head"]) / length
    return per_frame + result["total_flops"] - flops["encoder"] - flops["local_head"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tar-paper")
    parser.add_argument("--sizes", default="0,32,16,8", help="lte_hidden_size values (0: the maps' own size)")
    args = parser.parse_args()
    text = resources.files("staf").joinpath("configs", f"{args.preset}.yaml").read_text()
    base = {k: v for k, v in yaml.safe_load(text)["model"].items() if k != "name"}
    body = BodyModel.load()
    print(f"TAR `{args.preset}` ({base.get('backbone')}, {base.get('image_size')}², T = {base.get('seq_len')}, "
          f"L = {base.get('local_window')}, D = {base.get('local_channels', 256)}), one window:\n")
    print("| S | params (M) | of which encoder / LTE / rest | GFLOPs | GMACs | of which encoder / local head / LTE | "
          "GMACs per frame, streaming | paper params (M) | paper GFLOPs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        result = measure({**base, "lte_hidden_size": size}, body)
        params, flops = result["params"], result["flops"]
        total = sum(params.values())
        hidden = size or result["map"]
        paper = PAPER.get(hidden, ("–", "–")) if args.preset == "tar-paper" else ("–", "–")
        print(f"| {hidden} | {total / 1e6:.1f} | {params['encoder'] / 1e6:.1f} / {params['lte'] / 1e6:.1f} / "
              f"{(total - params['encoder'] - params['lte']) / 1e6:.1f} | {result['total_flops'] / 1e9:.1f} | "
              f"{result['total_flops'] / 2e9:.1f} | {flops['encoder'] / 2e9:.1f} / {flops['local_head'] / 2e9:.1f} / "
              f"{flops['lte'] / 2e9:.1f} | {streaming(result, base['seq_len']) / 2e9:.1f} | {paper[0]} | {paper[1]} |")


if __name__ == "__main__":
    main()
