"""Frames per second of ``staf demo``, per stage and end to end, against the network alone.

    python benchmarks/bench_demo.py                       # phalp_vid.mp4 resized to 640×360, 90 frames
    python benchmarks/bench_demo.py --precision bf16      # the network under bfloat16 autocast
    python benchmarks/bench_demo.py --precisions          # fp32 / bf16 / torch.compile, network only

One person, 640×360 input (the first ``--frames`` frames of ``../shared/media/phalp_vid.mp4``
resized, or a synthetic clip rendered by ``staf synth`` when the media are absent). The model is
STAF with the paper's ResNet-50 at 224×224 and random weights (speed does not depend on them),
saved as a staf checkpoint and loaded by the demo as a user's would be. "network" is
``model.predict_sequence`` on the same number of crops, timed alone; the goal is end to end ≥
70 % of it. ``--precisions`` compares the network's streaming frames/s in fp32, bf16 and with
``torch.compile``, back to back, on synthetic person crops, and the vertex differences to fp32
(use ``--checkpoint`` for a trained model: random weights exaggerate rounding effects).
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from staf.body import BodyModel
from staf.data.crops import CropRule
from staf.inference.pipeline import DemoConfig, run_demo
from staf.inference.video import VideoSource, VideoWriter
from staf.models import STAF, STAFConfig, SequenceInput
from staf.models.checkpoint import load_checkpoint, save_checkpoint

MEDIA = Path(__file__).resolve().parents[1] / ".." / "shared" / "media" / "phalp_vid.mp4"


def make_clip(path: Path, frames: int, width: int = 640, height: int = 360) -> str:
    """The benchmark input: real footage resized when present, else a synthetic clip."""
    import cv2

    writer = VideoWriter(path, width, height, 30.0)
    if MEDIA.is_file():
        source, origin = VideoSource(MEDIA, end=frames / 30.0), str(MEDIA)
        images = (frame.image for frame in source)
    else:
        from staf.data.synthetic import SynthConfig, synthesize

        folder = path.parent / "synth"
        synthesize(SynthConfig(sequences=1, frames=frames, size=height, seed=0, split="bench"), folder, progress=False)
        images = (VideoSource(folder / "seq_0000" / "frames").__iter__())
        images = (frame.image for frame in images)
        origin = "staf synth (one sequence)"
    for index, image in enumerate(images):
        if index == frames:
            break
        writer.write(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    writer.close()
    return origin


def network_fps(model, frames: int, size: int, precision: str = "fp32", repeats: int = 1) -> tuple[float, torch.Tensor]:
    crops = torch.randn(frames, 3, size, size, generator=torch.Generator().manual_seed(0))
    return _timed(model, SequenceInput(crops=crops), precision, repeats)


def _timed(model, track: SequenceInput, precision: str, repeats: int, autocast_all: bool = False):
    """Best-of-``repeats`` frames/s of ``predict_sequence`` and its vertices: ``precision``
    bf16 is ``model.set_inference_precision("bf16")`` (what ``staf demo --precision bf16``
    does: encoder and decoder); ``autocast_all`` autocasts the whole network instead."""
    model.set_inference_precision("fp32" if autocast_all else precision)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast_all):
        model.predict_sequence(SequenceInput(crops=track.crops[:9]))              # warm-up
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            output = model.predict_sequence(track)
            best = min(best, time.perf_counter() - started)
    model.set_inference_precision("fp32")
    return len(track.crops) / best, output.vertices.float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    parser.add_argument("--precisions", action="store_true", help="network only: fp32 vs bf16 vs torch.compile")
    parser.add_argument("--checkpoint", default=None, help="a trained staf checkpoint instead of random ResNet-50 weights")
    parser.add_argument("--out", default=None, help="write the JSON result here")
    args = parser.parse_args()

    torch.manual_seed(0)
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint)[0].eval()
        args.backbone = f"{model.config.backbone} ({args.checkpoint})"
    else:
        model = STAF(STAFConfig(backbone=args.backbone), BodyModel.load()).eval()
    result = {"threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
              "torch": torch.__version__, "backbone": args.backbone, "frames": args.frames}
    if args.precisions:
        result.update(compare_precisions(model, args.frames))
    else:
        result.update(end_to_end(model, args))
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


def end_to_end(model, args) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        origin = make_clip(folder / "clip.mp4", args.frames)
        save_checkpoint(folder / "model.pt", model)
        loaded, _ = load_checkpoint(folder / "model.pt")
        network, _ = network_fps(loaded, args.frames, loaded.config.image_size, args.precision)
        started = time.perf_counter()
        summary = run_demo(folder / "clip.mp4", folder / "out", loaded, CropRule(),
                           DemoConfig(precision=args.precision), progress=False)
        total = time.perf_counter() - started
    frames = summary.frames
    return {"input": f"{origin}, 640×360, {frames} frames", "precision": args.precision,
            "tracks": summary.tracks, "stage_fps": {k: frames / v for k, v in summary.seconds.items()},
            "network_fps": network, "end_to_end_fps": frames / total,
            "end_to_end_share_of_network": frames / total / network}


def synthetic_crops(frames: int, size: int) -> SequenceInput:
    """Crops of people (``staf synth``), so that trained weights see what they were trained on."""
    import cv2

    from staf.data.crops import normalise, read_image
    from staf.data.synthetic import SynthConfig, synthesize

    with tempfile.TemporaryDirectory() as folder:
        synthesize(SynthConfig(sequences=1, frames=frames, seed=0, split="bench"), folder, progress=False)
        images = [cv2.resize(read_image(path), (size, size), interpolation=cv2.INTER_AREA)
                  for path in sorted((Path(folder) / "seq_0000" / "crops").glob("*.jpg"))]
    return SequenceInput(crops=normalise(np.stack(images)))


def compare_precisions(model, frames: int) -> dict:
    """fp32 vs bf16 encoder vs bf16 everywhere vs torch.compile'd encoder, back to back."""
    track = synthetic_crops(frames, model.config.image_size)
    fp32, reference = _timed(model, track, "fp32", 2)
    out = {"fp32_fps": fp32}

    def compare(name: str, fps: float, vertices: torch.Tensor) -> None:
        distance = (vertices - reference).norm(dim=-1) * 1000
        out.update({f"{name}_fps": fps, f"{name}_speedup": fps / fp32, f"{name}_mean_vertex_mm": float(distance.mean()),
                    f"{name}_max_vertex_mm": float(distance.max())})

    compare("bf16_inference", *_timed(model, track, "bf16", 2))
    compare("bf16_everywhere", *_timed(model, track, "fp32", 2, autocast_all=True))
    try:
        model.encoder.forward = torch.compile(model.encoder.forward)
        compare("compiled_encoder", *_timed(model, track, "fp32", 2))
    except Exception as exc:  # noqa: BLE001 — report why compile is unavailable
        out["compile_error"] = str(exc).splitlines()[0]
    return out


if __name__ == "__main__":
    main()
