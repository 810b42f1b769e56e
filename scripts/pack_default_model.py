"""Pack a trained staf checkpoint as the shipped default model (int8 safetensors).

    python scripts/pack_default_model.py RUN/staf/stage2/best.pt \
        --command "staf train --preset train-synth-cpu --stage both --out RUN --data-root DATA" \
        --data "synth-train (staf synth --preset synth-train), synth-val" --seed 0

writes ``src/staf/models/weights/staf_synth_cpu.safetensors`` (see docs/default_model.md) and
prints its size and the largest weight change of the quantisation.
"""

from __future__ import annotations

import argparse
from pathlib import Path


from staf.models.checkpoint import checkpoint_crop_rule, load_checkpoint
from staf.models.packed import DEFAULT_MODEL, pack_model, read_packed

OUT = Path(__file__).resolve().parents[1] / "src" / "staf" / "models" / "weights" / DEFAULT_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--command", required=True, help="the training command, recorded in the file")
    parser.add_argument("--data", required=True, help="the data presets, recorded in the file")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    model, payload = load_checkpoint(args.checkpoint)
    training = payload.get("extra", {}).get("training", {})
    provenance = {"command": args.command, "data": args.data, "seed": args.seed, "source": Path(args.checkpoint).name,
                  "stage": training.get("stage"), "epoch": training.get("epoch"), "best_val_mpjpe": training.get("best"),
                  "quantisation": "int8 per output channel, symmetric; biases and normalisation float32"}
    path = pack_model(args.out, model, checkpoint_crop_rule(payload), provenance)
    loaded, _ = load_checkpoint(path)
    original, restored = model.state_dict(), loaded.state_dict()
    change = max(float((original[k].float() - restored[k].float()).abs().max()) for k in original)
    print(f"wrote {path}: {path.stat().st_size / 1e6:.1f} MB, {len(read_packed(path)[1])} tensors, "
          f"largest weight change {change:.2e}")


if __name__ == "__main__":
    main()
