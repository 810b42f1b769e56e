"""Frames per second of ``staf synth`` (render + crops + JPEG + ground truth), 224×224.

    python benchmarks/bench_synth.py --sequences 8 --frames 64
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from staf.data.synthetic import SynthConfig, synthesize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    config = SynthConfig(sequences=args.sequences, frames=args.frames, size=args.size, crop_size=args.size, seed=0)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        synthesize(config, folder, progress=False)
        seconds = time.perf_counter() - started
    from staf.render import MeshRenderer

    renderer = MeshRenderer(8, 8, torch.zeros(1, 3, dtype=torch.long).numpy())
    print(json.dumps({"renderer": renderer.renderer_name, "threads": torch.get_num_threads(), "size": args.size,
                      "frames": args.sequences * args.frames, "seconds": seconds,
                      "frames_per_second": args.sequences * args.frames / seconds}, indent=2))


if __name__ == "__main__":
    main()
