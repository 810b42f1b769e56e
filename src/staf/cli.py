"""The ``staf`` command line.

Sub-commands:

- ``staf info``: version, torch and devices, and which body models and assets are found where.
- ``staf body``: pose and shape a body model and write its mesh (OBJ/PLY/GLB) and joints (JSON).

Errors a user can cause print one message and exit with status 2 (see :mod:`staf.errors`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from pathlib import Path

import staf
from staf.body.assets import (
    BASE_DATA_ENV,
    BASE_DATA_FILES,
    GENDERS,
    base_data_folders,
    bundled_model_path,
)
from staf.errors import StafError
from staf.evaluation.protocols import MATCHES
from staf.io import atomic_write, atomic_write_text, check_output_file, check_output_folder


def add_body_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every command that needs a body model shares."""
    parser.add_argument("--body-model", default="open",
                        help="'open' (bundled, default), 'smpl' (from --base-data) or an SMPL .pkl/.npz file")
    parser.add_argument("--base-data", default=None,
                        help=f"folder with SMPL files and regressors (else ${BASE_DATA_ENV} or ./data/base_data)")
    parser.add_argument("--gender", default="neutral", choices=GENDERS, help="SMPL gender for --body-model smpl")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="staf", description="Video-based 3D human mesh recovery (STAF, TAR).")
    parser.add_argument("--version", action="version", version=f"staf {staf.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    info = commands.add_parser("info", help="show the version, devices and the body models and assets found")
    info.add_argument("--base-data", default=None, help=f"folder with SMPL files (else ${BASE_DATA_ENV})")
    info.add_argument("--json", action="store_true", help="print machine-readable JSON")
    info.set_defaults(handler=run_info)

    body = commands.add_parser("body", help="pose and shape a body model and write its mesh and joints")
    add_body_model_arguments(body)
    body.add_argument("--betas", type=float, nargs="*", default=[], help="shape coefficients β (up to the model's count)")
    body.add_argument("--pose", default=None,
                      help="a .npy file with 72 axis-angle values (θ), or 'mean' for the regressors' mean pose; "
                           "default: the rest pose θ = 0")
    body.add_argument("--out", default="outputs/body.obj", help="mesh file (.obj, .ply, .glb, .stl)")
    body.add_argument("--joints-out", default=None, help="JSON file for the joint sets (default: beside --out)")
    body.add_argument("--force", action="store_true", help="replace existing output files")
    body.set_defaults(handler=run_body)

    convert = commands.add_parser("convert", help="convert checkpoints from other code bases")
    sources = convert.add_subparsers(dest="source", required=True, metavar="SOURCE")
    official = sources.add_parser("official", help="the authors' STAF checkpoint (+ PyMAF backbone)")
    official.add_argument("--head", required=True, help="official STAF checkpoint (.pth.tar with gen_state_dict)")
    official.add_argument("--backbone", default=None, help="PyMAF base_model.pt with the ResNet-50 encoder")
    official.add_argument("--out", required=True, help="staf checkpoint to write")
    official.add_argument("--force", action="store_true", help="replace an existing --out file")
    add_body_model_arguments(official)
    official.set_defaults(handler=run_convert_official)

    evaluate = commands.add_parser("eval", help="evaluate a checkpoint on a benchmark or a db file")
    evaluate.add_argument("--checkpoint", default=None, help="staf checkpoint (default: the model shipped with staf)")
    evaluate.add_argument("--mean-pose", action="store_true",
                          help="evaluate the mean-pose baseline (the regressors' mean parameters for every frame)")
    evaluate.add_argument("--data", required=True, help="3dpw, mpii3d, h36m, synthetic, or the path of a *_db.pt file")
    evaluate.add_argument("--split", default="test", help="split of a named dataset (default: test)")
    evaluate.add_argument("--data-root", default=None, help=f"folder of the db files (else ${DB_DIR_ENV} or ./data/db)")
    evaluate.add_argument("--image-root", default=None, help="folder the db's img_name paths are relative to")
    evaluate.add_argument("--protocol", default=None, help="protocol for a db path (default: from its name)")
    evaluate.add_argument("--crop-scale", type=float, default=None,
                          help="square crop side = max(w, h) × this (default: the crop rule the checkpoint was "
                               "trained with, 1.3 for the peers' db files)")
    evaluate.add_argument("--out", default=None, help="output folder (default: outputs/eval/NAME-SPLIT)")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--max-sequences", type=int, default=None, help="evaluate only the first N sequences")
    evaluate.add_argument("--match", default="staf", choices=tuple(MATCHES),
                          help="select and average frames as that project's evaluation script does "
                               "(default: staf, every frame, validity masks, per-sequence accel; docs/evaluation.md)")
    evaluate.add_argument("--split-at-gaps", action="store_true",
                          help="also start a new sequence where frame_id jumps (default: split by vid_name only, "
                               "as the peers do)")
    evaluate.add_argument("--body-model", default=None, help="override the checkpoint's body model ('open', 'smpl', file)")
    evaluate.add_argument("--base-data", default=None, help=f"SMPL folder (else ${BASE_DATA_ENV} or ./data/base_data)")
    evaluate.set_defaults(handler=run_eval)

    synth = commands.add_parser("synth", help="generate labelled synthetic videos of the open body model")
    synth.add_argument("--out", required=True, help="output folder (finished sequences are kept and reused)")
    synth.add_argument("--preset", default=None, help="synthbench-test, synth-train, synth-val, or a YAML file")
    synth.add_argument("--sequences", type=int, default=None)
    synth.add_argument("--frames", type=int, default=None)
    synth.add_argument("--seed", type=int, default=None)
    synth.add_argument("--size", type=int, default=None, help="full-frame size in pixels (square, default 224)")
    synth.add_argument("--crop-size", type=int, default=None, help="person crop size (default 224)")
    synth.add_argument("--split", default=None, help="name in synth_SPLIT_db.pt (default train)")
    synth.add_argument("--backgrounds", default=None, help="folder of background images (default: procedural)")
    synth.add_argument("--motion-blur", action="store_true", default=None)
    synth.add_argument("--preview", action="store_true", help="also write a contact sheet, preview.png")
    synth.set_defaults(handler=run_synth)

    demo = commands.add_parser(
        "demo", help="find people in a video, recover their 3D bodies, write an overlay video and files",
        description="Find every person in VIDEO (a video file or a folder of images), follow each through the "
                    "video, recover a 3D body per frame and write, under --out: overlay.mp4, staf_output.pkl/.npz "
                    "(VIBE's keys), track_ID.glb (animated, skinned) and track_ID.bvh per track, staf_demo.json.",
        epilog="--boxes FILE: your own detections, JSON {\"FRAME\": [[x1, y1, x2, y2], ...]} or CSV with a header "
               "frame,x1,y1,x2,y2 (frames count from 0, pixels). Bad input exits with status 2.")
    demo.add_argument("video", help="video file (mp4, avi, mov, webm, mkv) or folder of images")
    demo.add_argument("--out", required=True, help="output folder")
    demo.add_argument("--checkpoint", default=None,
                      help="staf checkpoint (staf train / staf convert official); default: the model shipped with staf")
    demo.add_argument("--mean-pose", action="store_true", help="use the mean-pose baseline instead of a network")
    demo.add_argument("--body-model", default=None, help="override the checkpoint's body model ('open', 'smpl', file)")
    demo.add_argument("--base-data", default=None, help=f"SMPL folder (else ${BASE_DATA_ENV} or ./data/base_data)")
    demo.add_argument("--boxes", default=None, help="per-frame person boxes (JSON or CSV) instead of the detector")
    demo.add_argument("--start", type=float, default=0.0, help="first second to process (default 0)")
    demo.add_argument("--end", type=float, default=None, help="second to stop at (default: the end)")
    demo.add_argument("--fps", type=float, default=30.0, help="frame rate of an image folder (default 30)")
    demo.add_argument("--focal", type=float, default=None, help="focal length in pixels (default: image diagonal)")
    demo.add_argument("--max-people", type=int, default=None, help="keep the N longest tracks")
    demo.add_argument("--min-track-length", type=int, default=9, help="drop tracks shorter than N frames (default 9)")
    demo.add_argument("--smooth", action="store_true", help="One-Euro smoothing of rotations, shape and camera")
    demo.add_argument("--smooth-min-cutoff", type=float, default=1.0, help="One-Euro minimum cutoff in Hz (default 1)")
    demo.add_argument("--smooth-beta", type=float, default=0.5, help="One-Euro speed coefficient (default 0.5)")
    demo.add_argument("--no-render", action="store_true", help="skip overlay.mp4")
    demo.add_argument("--side-view", action="store_true", help="add a side view beside the overlay")
    demo.add_argument("--obj", action="store_true", help="also write an OBJ mesh per track and frame under meshes/")
    demo.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                      help="network precision (bf16: autocast, faster on CPUs with native bfloat16)")
    demo.add_argument("--device", default="cpu")
    demo.add_argument("--force", action="store_true", help="replace the results of an earlier run in --out")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=run_demo)

    train = commands.add_parser("train", help="train a model in the stages of its recipe (STAF, TAR: stage 1 per-frame model, stage 2 video model)")
    train.add_argument("--preset", required=True, help="train-paper, train-synth-gpu, train-synth-cpu, or a YAML file")
    train.add_argument("--out", required=True, help="run folder (stage1/, stage2/: last.pt, best.pt, tensorboard/)")
    train.add_argument("--stage", default="both", choices=("1", "2", "both"))
    train.add_argument("--init", default=None,
                       help="--stage 2: the stage-1 checkpoint (default: OUT/stage1/best.pt); --stage 1 or both: a trained "
                            "model of the same architecture to fine-tune from (a checkpoint or .safetensors file)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/stageN/last.pt exactly")
    train.add_argument("--force", action="store_true", help="start over in a run folder that holds checkpoints")
    train.add_argument("--data-root", default="data", help="folder the preset's relative db paths are under")
    train.add_argument("--device", default="cpu")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                       help="override a preset value, e.g. --set model.variant=base+apm --set stage2.epochs=3")
    train.set_defaults(handler=run_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``staf`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    debug = bool(os.environ.get("STAF_DEBUG"))
    try:
        return int(args.handler(args) or 0)
    except StafError as error:
        if debug:
            raise
        print(f"staf {args.command}: error: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"staf {args.command}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:  # noqa: BLE001 — a defect of staf, not of the input: say so in one line
        if debug:
            raise
        print(f"staf {args.command}: internal error: {type(error).__name__}: {one_line(str(error))} (a bug in staf; "
              "run again with STAF_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return 1


def one_line(message: str, limit: int = 600) -> str:
    """A message on one line (several lines joined with '; '), at most ``limit`` characters."""
    text = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- info


def collect_info(base_data: str | None) -> dict:
    """What ``staf info`` reports, as a dict."""
    import torch

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    open_path = bundled_model_path()
    open_model: dict = {"path": str(open_path), "found": open_path.is_file()}
    if open_path.is_file():
        from staf.body.assets import load_open_model_data

        data = load_open_model_data()
        open_model.update(vertices=data.num_vertices, betas=data.num_betas,
                          regressors=sorted(data.regressors), size_mb=round(open_path.stat().st_size / 2**20, 2))
    folders = []
    for folder in base_data_folders(base_data):
        names = [f"SMPL_{g.upper()}.{ext}" for g in GENDERS for ext in ("pkl", "npz")] + list(BASE_DATA_FILES)
        folders.append({"folder": str(folder.resolve()), "exists": folder.is_dir(),
                        "found": [name for name in names if (folder / name).is_file()]})
    return {
        "staf": staf.__version__,
        "default_model": default_model_info(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "devices": devices,
        "open_body_model": open_model,
        "base_data_env": {BASE_DATA_ENV: os.environ.get(BASE_DATA_ENV)},
        "base_data_folders": folders,
    }


def default_model_info() -> dict:
    """The shipped default model: path, size, model, config, provenance (or found: False)."""
    from staf.models.packed import default_model_path, read_packed

    path = default_model_path()
    if path is None:
        return {"found": False}
    payload, _ = read_packed(path, tensors=False)
    return {"found": True, "path": str(path), "size_mb": round(path.stat().st_size / 2**20, 1), "model": payload["model"],
            "backbone": payload["config"].get("backbone"), "image_size": payload["config"].get("image_size"),
            "body_model": payload["body_model"].get("name"), "provenance": payload["provenance"]}


def run_info(args: argparse.Namespace) -> int:
    info = collect_info(args.base_data)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"staf {info['staf']}  (python {info['python']}, torch {info['torch']}, {info['threads']} threads)")
    print(f"devices: {', '.join(info['devices'])}")
    default = info["default_model"]
    if default["found"]:
        print(f"default model (staf demo / staf eval without --checkpoint): {default['path']}  [{default['model']}, "
              f"{default['backbone']} at {default['image_size']} px, body model '{default['body_model']}', "
              f"int8, {default['size_mb']} MB; docs/default_model.md]")
    else:
        print("default model: none in this installation (give --checkpoint)")
    model = info["open_body_model"]
    if model["found"]:
        print(f"body model 'open' (bundled): {model['path']}  [{model['vertices']} vertices, "
              f"{model['betas']} betas, regressors: {', '.join(model['regressors'])}, {model['size_mb']} MB]")
    else:
        print(f"body model 'open' (bundled): MISSING at {model['path']}")
    env_value = info["base_data_env"][BASE_DATA_ENV]
    print(f"${BASE_DATA_ENV}: {env_value if env_value else '(not set)'}")
    print("SMPL base_data folders searched (for --body-model smpl):")
    for folder in info["base_data_folders"]:
        missing = "is a file, not a folder" if Path(folder["folder"]).is_file() else "does not exist"
        state = ", ".join(folder["found"]) if folder["found"] else ("no SMPL files" if folder["exists"] else missing)
        print(f"  {folder['folder']}: {state}")
    return 0


# --------------------------------------------------------------------------- body


def run_body(args: argparse.Namespace) -> int:
    import torch
    import trimesh

    from staf.body import BodyModel
    from staf.geometry.rotations import rot6d_to_axis_angle

    mesh_path = Path(args.out)
    if mesh_path.suffix.lower() not in (".obj", ".ply", ".glb", ".stl"):
        raise StafError(f"--out {mesh_path}: use a .obj, .ply, .glb or .stl file name")
    joints_path = Path(args.joints_out) if args.joints_out else mesh_path.with_suffix(".joints.json")
    if joints_path.resolve() == mesh_path.resolve():
        raise StafError(f"--joints-out {joints_path} is the same file as --out; give two different paths")
    inputs = [args.pose, args.body_model]
    check_output_file(mesh_path, "--out", inputs, args.force)
    check_output_file(joints_path, "--joints-out", inputs, args.force)
    if not all(math.isfinite(value) for value in args.betas):
        raise StafError(f"--betas must be finite numbers, got {args.betas}")
    body = BodyModel.load(args.body_model, args.base_data, args.gender, dtype=torch.float64)
    if len(args.betas) > body.num_betas:
        raise StafError(f"--betas has {len(args.betas)} values; body model '{body.name}' has {body.num_betas}")
    pose = _read_pose(args.pose, body, rot6d_to_axis_angle)
    betas = torch.zeros(1, body.num_betas, dtype=torch.float64)
    betas[0, : len(args.betas)] = torch.tensor(args.betas, dtype=torch.float64)
    with torch.no_grad():
        out = body(pose, betas)
    mesh = trimesh.Trimesh(out.vertices[0].numpy(), body.faces.numpy(), process=False)
    joints = {"body_model": body.name, "units": "metres", "axes": "y up, facing +z",
              "pose": pose[0].tolist(), "betas": betas[0].tolist(), "smpl24": out.joints[0].tolist()}
    joints.update({name: value[0].tolist() for name, value in out.joint_sets.items()})
    atomic_write(mesh_path, lambda handle: mesh.export(handle, file_type=mesh_path.suffix[1:].lower()))
    atomic_write_text(joints_path, json.dumps(joints, indent=1))
    print(f"wrote {mesh_path} ({body.num_vertices} vertices, {len(body.faces)} faces) and {joints_path}")
    return 0


def run_convert_official(args: argparse.Namespace) -> int:
    from staf.body import BodyModel
    from staf.models.checkpoint import save_checkpoint
    from staf.models.registry import model_class

    check_output_file(args.out, "--out", [args.head, args.backbone], args.force)
    body = BodyModel.load(args.body_model, args.base_data, args.gender)
    model, notes = model_class("staf").convert("official", body, head=args.head, backbone=args.backbone)
    save_checkpoint(args.out, model, extra={"converted_from": {"head": str(args.head), "backbone": str(args.backbone)},
                                           "notes": notes})
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {args.out} (STAF, body model '{body.name}', "
          f"{sum(p.numel() for p in model.parameters()):,} parameters)")
    return 0


def parse_overrides(items: list[str]) -> dict:
    """``KEY=VALUE`` strings → {dotted key: YAML-typed value}."""
    import yaml

    overrides = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise StafError(f"--set {item}: expected KEY=VALUE")
        try:
            overrides[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise StafError(f"--set {item}: the value is not valid YAML") from None
    return overrides


def run_train(args: argparse.Namespace) -> int:
    import dataclasses

    import yaml

    from staf.config import load_config
    from staf.training import TrainConfig, Trainer

    config = load_config(TrainConfig, args.preset, parse_overrides(args.overrides))
    root = Path(args.data_root)
    resolve = lambda source: dataclasses.replace(  # noqa: E731
        source, db=str(source.db if Path(source.db).is_absolute() else root / source.db))
    config = dataclasses.replace(config, train=tuple(resolve(s) for s in config.train),
                                 val=resolve(config.val) if config.val else None)
    out = check_output_folder(args.out, "--out")
    stages = (1, 2) if args.stage == "both" else (int(args.stage),)
    for source in (*config.train, *([config.val] if config.val else [])):
        if not Path(source.db).is_file():
            raise StafError(f"dataset file {source.db} does not exist; make it with 'staf synth' or pass --data-root "
                            "DIR, the folder the preset's db paths are relative to")
    if args.init and not Path(args.init).is_file():
        raise StafError(f"--init {args.init} does not exist")
    _check_run_folder(out, stages, args.resume, args.force, config.to_dict())
    _check_device(args.device)
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    for stage in stages:
        trainer = Trainer(config, out / f"stage{stage}", stage, args.device, stage_init(stage, stages, args.init, out))
        summary = trainer.run(resume=args.resume and (out / f"stage{stage}" / "last.pt").is_file())
        if trainer.rank == 0:
            best = (f"best validation MPJPE {summary['best_val_mpjpe']:.1f} mm" if summary["best_val_mpjpe"] is not None
                    else f"no validation data, best epoch training loss {summary['best_train_loss']:.4f}")
            print(f"stage {stage}: {summary['epochs']} epochs, {best}; checkpoints in {out / f'stage{stage}'}")
    return 0


def stage_init(stage: int, stages: tuple[int, ...], init: str | None, out: Path) -> str | Path | None:
    """What ``stage`` starts from: stage 1 from ``--init`` (a model to fine-tune, or nothing);
    stage 2 from this run's new stage 1 when it trains too, else from ``--init`` or OUT/stage1/best.pt."""
    if stage == 1:
        return init
    return out / "stage1" / "best.pt" if 1 in stages or not init else init


def _check_run_folder(out: Path, stages: tuple[int, ...], resume: bool, force: bool, config: dict) -> None:
    """Refuse to train into a run folder that holds checkpoints (unless --resume or --force), to
    resume where there is nothing to resume, or to resume with other settings."""
    import yaml

    held = [out / f"stage{stage}" / name for stage in stages for name in ("last.pt", "best.pt")
            if (out / f"stage{stage}" / name).is_file()]
    if resume:
        if not any((out / f"stage{stage}" / "last.pt").is_file() for stage in stages):
            raise StafError(f"--resume: {out} holds no stage{'/'.join(map(str, stages))}/last.pt to resume from; "
                            "drop --resume to start a new run")
        saved = out / "config.yaml"
        if saved.is_file():
            try:
                before = yaml.safe_load(saved.read_text())
            except yaml.YAMLError:
                before = None
            changed = sorted(_changed_keys(before, config)) if isinstance(before, dict) else ["(unreadable config.yaml)"]
            if changed:
                raise StafError(f"--resume with other settings than the run was started with ({', '.join(changed[:6])}); "
                                "resume with the same preset and --set values, or start a new run in another folder")
    elif held and not force:
        raise StafError(f"--out {out} already holds a run ({', '.join(str(p.relative_to(out)) for p in held[:3])}); "
                        "pass --resume to continue it, --force to start over there, or choose another folder")


def _changed_keys(before, after, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = set(before) | set(after)
        return [key for name in keys for key in _changed_keys(before.get(name), after.get(name), f"{prefix}{name}.")]
    return [] if before == after else [prefix.rstrip(".")]


def run_synth(args: argparse.Namespace) -> int:
    from staf.config import from_dict, load_config
    from staf.data.synthetic import SynthConfig, synthesize

    overrides = {key: getattr(args, key) for key in ("sequences", "frames", "seed", "size", "crop_size", "split",
                                                     "backgrounds", "motion_blur") if getattr(args, key) is not None}
    if args.backgrounds is not None and not Path(args.backgrounds).is_dir():
        raise StafError(f"--backgrounds {args.backgrounds}: not a folder")
    check_output_folder(args.out, "--out")
    config = (load_config(SynthConfig, args.preset, overrides) if args.preset
              else from_dict(SynthConfig, overrides, "staf synth"))
    database = synthesize(config, args.out, preview=args.preview)
    print(f"wrote {config.sequences} sequences × {config.frames} frames to {args.out}; ground truth: {database}")
    return 0


DB_DIR_ENV = "STAF_DB_DIR"


def resolve_data(args: argparse.Namespace):
    """(db path, protocol) for --data NAME|PATH."""
    from staf.data.db import read_db
    from staf.errors import MissingAssetError
    from staf.evaluation.protocols import PROTOCOLS, guess_protocol

    if args.data in PROTOCOLS:
        protocol = PROTOCOLS[args.data]
        root = Path(args.data_root or os.environ.get(DB_DIR_ENV) or Path("data") / "db")
        names = protocol.file_names(args.split)
        found = [root / name for name in names if (root / name).is_file()]
        if not found:
            raise MissingAssetError(
                f"{' / '.join(names)} ({protocol.title}, split '{args.split}') was not found in {root.resolve()}. "
                f"Pass --data-root DIR or set {DB_DIR_ENV}=DIR to the folder with the preprocessed db files "
                "(made by the VIBE/TCMR/STAF preprocessing scripts), or give --data PATH of a db file."
            )
        return found[0], protocol
    path = Path(args.data)
    if not path.is_file():
        raise MissingAssetError(f"--data {args.data}: neither a dataset name ({', '.join(PROTOCOLS)}) nor a file")
    if args.protocol:
        if args.protocol not in PROTOCOLS:
            raise StafError(f"--protocol {args.protocol}: choose one of {', '.join(PROTOCOLS)}")
        return path, PROTOCOLS[args.protocol]
    return path, guess_protocol(path.name, lambda: read_db(path)["joints3D"].shape[1])


def run_eval(args: argparse.Namespace) -> int:
    from staf.data.crops import CropRule
    from staf.evaluation.evaluate import evaluate, format_table, write_report

    out = Path(args.out) if args.out else None
    if out is not None:
        check_output_folder(out, "--out")
    if args.max_sequences is not None and args.max_sequences < 1:
        raise StafError(f"--max-sequences must be at least 1, got {args.max_sequences}")
    if args.crop_scale is not None:
        CropRule(scale=args.crop_scale)                        # refuses 0, negative, nan before any work
    path, protocol = resolve_data(args)
    _check_device(args.device)
    model, crop_rule, name = load_demo_model(args)
    if args.crop_scale is not None:
        crop_rule = CropRule(scale=args.crop_scale)           # refuses 0, negative, nan
    result = evaluate(model, path, protocol, args.image_root, crop_rule.scale, checkpoint=name,
                      max_sequences=args.max_sequences, match=MATCHES[args.match],
                      split_at_gaps=args.split_at_gaps)
    out = out or Path("outputs") / "eval" / f"{protocol.name}-{args.split}"
    written = write_report(result, out)
    print(format_table(result))
    for note in result.notes:
        print(f"note: {note}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def load_demo_model(args: argparse.Namespace):
    """(model, crop rule, description) for ``staf demo``/``staf eval`` model flags: --mean-pose,
    --checkpoint, else the default model shipped in the package."""
    from staf.body import BodyModel
    from staf.data.crops import CropRule
    from staf.models.checkpoint import checkpoint_crop_rule, load_checkpoint

    body = None if args.body_model is None else BodyModel.load(args.body_model, args.base_data, device=args.device)
    if args.mean_pose:
        from staf.models.registry import build_model

        body = body or BodyModel.load("open", device=args.device)
        return build_model("mean-pose", {}, body), CropRule(), "mean-pose baseline"
    from staf.models.packed import default_model_path

    checkpoint = args.checkpoint or default_model_path()
    if checkpoint is not None:
        model, payload = load_checkpoint(checkpoint, body, args.device, args.base_data)
        name = str(checkpoint) if args.checkpoint else f"the default model ({Path(checkpoint).name})"
        return model, checkpoint_crop_rule(payload), name
    raise StafError("no model: this installation has no default model; give --checkpoint FILE (train one with "
                    "'staf train --preset train-synth-cpu --out RUN', or convert the authors' with "
                    "'staf convert official --head … --backbone … --out FILE'), or --mean-pose for the baseline")


def run_demo(args: argparse.Namespace) -> int:
    from staf.inference.pipeline import DemoConfig, run_demo as run

    config = DemoConfig(start=args.start, end=args.end, fps=args.fps, focal_length=args.focal,
                        max_people=args.max_people, min_track_length=args.min_track_length, smooth=args.smooth,
                        smooth_min_cutoff=args.smooth_min_cutoff, smooth_beta=args.smooth_beta,
                        render=not args.no_render, side_view=args.side_view, obj=args.obj,
                        precision=args.precision)
    _check_device(args.device)
    model, crop_rule, name = load_demo_model(args)
    summary = run(args.video, args.out, model, crop_rule, config, boxes=args.boxes, force=args.force,
                  progress=not args.quiet)
    print(f"staf demo: {args.video} with {name}")
    for line in summary.lines():
        print(f"  {line}")
    print(f"  results in {args.out}")
    return 0


def _check_device(device: str) -> None:
    import torch

    try:
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise StafError(f"--device {device} is not usable here ({str(exc).splitlines()[0]}); use --device cpu") from None


def _read_pose(spec: str | None, body, rot6d_to_axis_angle):
    """(1, 72) float64 axis-angle pose from ``--pose`` (None: rest, 'mean', or a .npy file)."""
    import numpy as np
    import torch

    if spec is None:
        return torch.zeros(1, 72, dtype=torch.float64)
    if spec == "mean":
        if body.mean_pose_6d is None:
            raise StafError(f"body model '{body.name}' has no mean pose; put smpl_mean_params.npz in base_data")
        return rot6d_to_axis_angle(body.mean_pose_6d.view(24, 6)).reshape(1, 72)
    path = Path(spec)
    if not path.is_file():
        raise StafError(f"--pose {spec}: no such file (give a .npy with 72 axis-angle values, or 'mean')")
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise StafError(f"--pose {spec}: not a numpy .npy array of numbers ({exc}); save one with numpy.save") from None
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "fiu":
        raise StafError(f"--pose {spec}: holds {type(values).__name__} data, not numbers")
    if values.size != 72:
        raise StafError(f"--pose {spec}: has {values.size} values, expected 72 (24 joints × axis-angle)")
    if not np.isfinite(values).all():
        raise StafError(f"--pose {spec}: holds NaN or infinite values")
    return torch.as_tensor(values, dtype=torch.float64).reshape(1, 72)


if __name__ == "__main__":
    sys.exit(main())
