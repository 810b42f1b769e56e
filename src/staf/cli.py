"""The ``staf`` command line.

Sub-commands:

- ``staf info``: version, torch and devices, and which body models and assets are found where.
- ``staf body``: pose and shape a body model and write its mesh (OBJ/PLY/GLB) and joints (JSON).

Errors a user can cause print one message and exit with status 2 (see :mod:`staf.errors`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
from pathlib import Path

import staf
from staf import logs
from staf.body.assets import BASE_DATA_ENV, GENDERS
from staf.errors import StafError, Stopped
from staf.evaluation.datasets import DB_DIR_ENV, LSP
from staf.evaluation.protocols import MATCHES
from staf.inference.formats import (DEFAULT_FORMATS, DEPTH_WINDOW_SECONDS, EXPORT_SPACES, REFINE_ITERATIONS,
                                   REFINE_WEIGHTS, known_formats)
from staf.io import check_output_file, check_output_folder
from staf.ranges import check_flags


def add_body_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every command that needs a body model shares."""
    parser.add_argument("--body-model", default="open",
                        help="'open' (bundled, default), 'smpl' (from --base-data) or an SMPL .pkl/.npz file")
    parser.add_argument("--base-data", default=None,
                        help=f"folder with SMPL files and regressors (else ${BASE_DATA_ENV} or ./data/base_data)")
    parser.add_argument("--gender", default="neutral", choices=GENDERS, help="SMPL gender for --body-model smpl")


class ArgumentParser(argparse.ArgumentParser):
    """argparse with staf's error rule: one line (what is wrong, where to look), exit status 2."""

    def error(self, message: str):
        print(f"{self.prog}: error: {one_line(message)}; see '{self.prog} --help'", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="staf", description="Video-based 3D human mesh recovery (STAF, TAR).")
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
    evaluate.add_argument("--data", required=True,
                          help="3dpw, mpii3d, h36m, synthetic, or the path of a *_db.pt file; lsp: still images "
                               "with labelled 2D joints in the LSP layout under --data-root (PCK)")
    evaluate.add_argument("--split", default="test", help="split of a named dataset (default: test)")
    evaluate.add_argument("--data-root", default=None, help=f"folder of the db files (else ${DB_DIR_ENV} or ./data/db)")
    evaluate.add_argument("--image-root", default=None, help="folder the db's img_name paths are relative to")
    evaluate.add_argument("--protocol", default=None, help="protocol for a db path (default: from its name)")
    evaluate.add_argument("--crop-scale", type=float, default=None,
                          help="square crop side = max(w, h) × this (default: the crop rule the checkpoint was "
                               "trained with, 1.3 for the peers' db files)")
    evaluate.add_argument("--out", default=None, help="output folder (default: outputs/eval/NAME-SPLIT)")
    evaluate.add_argument("--force", action="store_true", help="replace the report of an earlier run in --out")
    evaluate.add_argument("--device", default="cpu")
    evaluate.add_argument("--max-sequences", type=int, default=None,
                          help="evaluate only the first N sequences (images with --data lsp)")
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
    synth.add_argument("--preset", default=None, help="synthbench-test, synth-train, synth-val, synth-moving-camera, "
                                                     "synth-tracking-camera, or a YAML file")
    synth.add_argument("--sequences", type=int, default=None)
    synth.add_argument("--frames", type=int, default=None)
    synth.add_argument("--seed", type=int, default=None)
    synth.add_argument("--size", type=int, default=None, help="full-frame size in pixels (square, default 224)")
    synth.add_argument("--crop-size", type=int, default=None, help="person crop size (default 224)")
    synth.add_argument("--split", default=None, help="name in synth_SPLIT_db.pt (default train)")
    synth.add_argument("--backgrounds", default=None, help="folder of background images (default: procedural)")
    synth.add_argument("--motion-blur", action="store_true", default=None)
    synth.add_argument("--preview", action="store_true", help="also write a contact sheet, preview.png")
    synth.add_argument("--force", action="store_true",
                       help="replace files under synth's output names that staf did not write in --out")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
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
    demo.add_argument("--detector", default="blazepose",
                      help="blazepose: BlazePose with its full landmark model (default); blazepose-heavy: its heavy one (more accurate "
                           "keypoints, slower; docs/demo.md)")
    demo.add_argument("--detector-set", action="append", default=[], metavar="KEY=VALUE",
                      help="a BlazePose setting (repeatable), e.g. --detector-set tile_every=0 (no tiled pass), "
                           "follow_step=1, duplicate_oks=0; the fields of DetectorConfig (docs/demo.md)")
    demo.add_argument("--start", type=float, default=0.0, help="first second to process (default 0)")
    demo.add_argument("--end", type=float, default=None, help="second to stop at (default: the end)")
    demo.add_argument("--fps", type=float, default=30.0, help="frame rate of an image folder (default 30)")
    demo.add_argument("--focal", type=float, default=None, help="focal length in pixels (default: image diagonal)")
    demo.add_argument("--max-people", type=int, default=None, help="keep the N longest tracks")
    demo.add_argument("--min-track-length", type=int, default=9, help="drop tracks shorter than N frames (default 9)")
    demo.add_argument("--smooth", action="store_true", help="One-Euro smoothing of rotations, shape and camera")
    demo.add_argument("--smooth-min-cutoff", type=float, default=1.0, help="One-Euro minimum cutoff in Hz (default 1)")
    demo.add_argument("--smooth-beta", type=float, default=0.5, help="One-Euro speed coefficient (default 0.5)")
    demo.add_argument("--refine", action=argparse.BooleanOptionalAction, default=True,
                      help="fit the bodies to the detector's keypoints and world landmarks (default: on; "
                           "--no-refine keeps the network's bodies)")
    demo.add_argument("--refine-iterations", type=int, default=None,
                      help=f"L-BFGS iterations of the fit per track (default {REFINE_ITERATIONS})")
    demo.add_argument("--refine-weight", action="append", default=[], metavar="TERM=VALUE",
                      help="weight of a term of the fit: " + ", ".join(REFINE_WEIGHTS) + " (repeatable)")
    demo.add_argument("--static-camera", action="store_true",
                      help="the camera stands still: skip finding its rotation and travel from the background "
                           "(staf_output's camera_R is then the same in every frame)")
    demo.add_argument("--depth-window", type=float, default=DEPTH_WINDOW_SECONDS,
                      help="seconds over which the depth of the world path is steadied (default "
                           f"{DEPTH_WINDOW_SECONDS:g}; 0: not at all)")
    demo.add_argument("--export-space", default="world", choices=EXPORT_SPACES,
                      help="where the glb and bvh files animate the bodies: world (y up, the ground at y = 0, "
                           "the default) or camera (the first camera's axes: x right, y down, z forward)")
    demo.add_argument("--no-render", action="store_true", help="skip overlay.mp4")
    demo.add_argument("--side-view", action="store_true",
                      help="add the world view beside the overlay: the people in the world (y up) seen from a still "
                           "camera at the first camera's right, over the ground's 1 m grid")
    demo.add_argument("--obj", action="store_true", help="also write an OBJ mesh per track and frame under meshes/")
    demo.add_argument("--formats", default=None,
                      help="comma-separated files to write: " + ", ".join(known_formats()) + " (default: "
                           + ",".join(DEFAULT_FORMATS) + "; --obj adds obj)")
    demo.add_argument("--precision", default="fp32", choices=("fp32", "bf16"),
                      help="network precision (bf16: autocast, faster on CPUs with native bfloat16)")
    demo.add_argument("--device", default="cpu")
    demo.add_argument("--force", action="store_true", help="replace the results of an earlier run in --out")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(handler=run_demo)

    train = commands.add_parser("train", help="train a model in the stages of its recipe (STAF, TAR: stage 1 per-frame model, stage 2 video model)")
    train.add_argument("--preset", required=True, help="train-paper, train-synth-gpu, train-synth-cpu, or a YAML file")
    train.add_argument("--out", required=True, help="run folder (stage1/, stage2/: last.pt, best.pt, tensorboard/)")
    train.add_argument("--stage", default="both",
                       help="which stage of the model's recipe to train: a number (1, 2, …) or 'both'/'all' (default)")
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
    for command in [*commands.choices.values(), official]:
        if command is not convert:
            command.add_argument("--verbose", action="store_true",
                                 help="show staf's log and the libraries' own lines (LiteRT, FFmpeg); also STAF_DEBUG=1")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``staf`` console script; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:                 # --help (0), or a line from ArgumentParser.error (2)
        return done.code if isinstance(done.code, int) else 2
    debug = logs.verbose_requested()
    logs.configure(logs.verbose_requested(getattr(args, "verbose", False)))
    previous = _stop_on_signals()
    try:
        if getattr(args, "out", None) is not None and not str(args.out).strip():
            raise StafError("--out is empty; give a folder")
        check_flags(args)
        return int(args.handler(args) or 0)
    except Stopped as stop:
        if debug:
            raise
        return _report_stop(args, stop.name, stop.signal_number)
    except KeyboardInterrupt:
        if debug:
            raise
        return _report_stop(args, "SIGINT", 2)
    except BaseException as error:
        if debug or not RECEIVED or isinstance(error, SystemExit):
            return _report_error(args, error, debug)
        # a library turned the stop into its own error (safetensors reports "could not determine the
        # shape …" when the stop lands in a tensor's creation): it was the signal all the same
        return _report_stop(args, *RECEIVED[0])
    finally:
        _restore_signals(previous)


def _close_progress_bars() -> None:
    """Close the progress bars a stopped or failed command left open, so that its message is the
    last line on stderr (an open bar redraws itself when it is freed, after the message)."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


def _report_stop(args, name: str, number: int) -> int:
    _close_progress_bars()
    message = "interrupted" if name == "SIGINT" else f"stopped by {name}"
    print(f"staf {args.command}: {message}; nothing half-written was kept", file=sys.stderr)
    return 128 + number


def _report_error(args, error: BaseException, debug: bool) -> int:
    """The exit status and one line for an error that is not a stop."""
    _close_progress_bars()
    try:
        raise error
    except StafError as error:
        if debug:
            raise
        print(f"staf {args.command}: error: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:
        return 0
    except OSError as error:
        from staf.io import DISK_ERRORS, write_failure

        failure = write_failure(error.filename or "an output file", error) if error.errno in DISK_ERRORS else None
        if debug or failure is None:
            return _internal_error(args, error, debug)
        print(f"staf {args.command}: error: {one_line(str(failure))}", file=sys.stderr)
        return failure.exit_code
    except Exception as error:  # noqa: BLE001 — a defect of staf, not of the input: say so in one line
        return _internal_error(args, error, debug)


def _internal_error(args, error: Exception, debug: bool) -> int:
    if debug:
        raise error
    print(f"staf {args.command}: internal error: {type(error).__name__}: {one_line(str(error))} (a bug in staf; "
          "run again with STAF_DEBUG=1 for the traceback and report it)", file=sys.stderr)
    return 1


#: signals that stop a command as Ctrl-C does (SIGINT is Python's KeyboardInterrupt already)
STOP_SIGNALS = ("SIGTERM", "SIGHUP")
#: (name, number) of each stop signal received during the running command, first first
RECEIVED: list[tuple[str, int]] = []


def _stop_on_signals() -> dict:
    """Turn SIGTERM and SIGHUP into :class:`Stopped` in the main thread, held back while a file is
    being written (:func:`staf.io.signals_held`), as Ctrl-C is → the handlers they replaced."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}

    from staf.io import deferrable

    def stop(number, frame):
        for other in previous:                 # a second signal must not cut the clean-up short
            signal.signal(other, signal.SIG_IGN)
        RECEIVED.append((signal.Signals(number).name, number))
        raise Stopped(number, signal.Signals(number).name)

    def interrupt(number, frame):
        RECEIVED.append(("SIGINT", number))
        signal.default_int_handler(number, frame)

    RECEIVED.clear()
    previous = {}
    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, deferrable(stop))
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:   # not when started with SIGINT ignored
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, deferrable(interrupt))
    return previous


def _restore_signals(previous: dict) -> None:
    import signal

    for number, handler in previous.items():
        signal.signal(number, handler)


def one_line(message: str, limit: int = 600) -> str:
    """A message on one line (several lines joined with '; '), at most ``limit`` characters."""
    text = "; ".join(line.strip() for line in message.splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- info


def run_info(args: argparse.Namespace) -> int:
    from staf.info import collect_info

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

    from staf.body import BodyModel
    from staf.body.posing import MESH_SUFFIXES, read_pose, shape_betas, write_posed_body

    mesh_path = Path(args.out)
    if mesh_path.suffix.lower() not in MESH_SUFFIXES:
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
    betas = shape_betas(args.betas, body)
    write_posed_body(body, read_pose(args.pose, body), betas, mesh_path, joints_path)
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


def run_train(args: argparse.Namespace) -> int:
    from staf.config import parse_key_values
    from staf.training.run import TrainingRun

    run = TrainingRun.prepare(args.preset, args.out, args.stage, parse_key_values(args.overrides, "--set"), args.data_root,
                              args.init, args.resume, args.force, args.device)
    run.run(report=print)
    return 0


def run_synth(args: argparse.Namespace) -> int:
    from staf.config import from_dict, load_config
    from staf.data.synthetic import SynthConfig, synthesize
    from staf.data.synthetic.generator import SYNTH_OUTPUT

    overrides = {key: getattr(args, key) for key in ("sequences", "frames", "seed", "size", "crop_size", "split",
                                                     "backgrounds", "motion_blur") if getattr(args, key) is not None}
    if args.backgrounds is not None and not Path(args.backgrounds).is_dir():
        raise StafError(f"--backgrounds {args.backgrounds}: not a folder")
    check_output_folder(args.out, "--out")
    if args.backgrounds is not None:
        SYNTH_OUTPUT.check_not_input(Path(args.out), Path(args.backgrounds))
    config = (load_config(SynthConfig, args.preset, overrides) if args.preset
              else from_dict(SynthConfig, overrides, "staf synth"))
    database = synthesize(config, args.out, progress=not args.quiet, preview=args.preview, force=args.force)
    print(f"wrote {config.sequences} sequences × {config.frames} frames to {args.out}; ground truth: {database}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from staf.data.crops import CropRule
    from staf.devices import check_device
    from staf.evaluation.datasets import resolve_dataset
    from staf.evaluation.evaluate import evaluate, format_table, write_report

    out = Path(args.out) if args.out else None
    if out is not None:
        check_output_folder(out, "--out")
    if args.max_sequences is not None and args.max_sequences < 1:
        raise StafError(f"--max-sequences must be at least 1, got {args.max_sequences}")
    if args.crop_scale is not None:
        CropRule(scale=args.crop_scale)                        # refuses 0, negative, nan before any work
    if args.data == LSP:
        return _run_eval_lsp(args, out)
    path, protocol = resolve_dataset(args.data, args.split, args.data_root, args.protocol)
    check_device(args.device)
    out = out or Path("outputs") / "eval" / f"{protocol.name}-{args.split}"
    with eval_output(out, args.force, (path, args.checkpoint)) as staging:
        loaded = load_model(args)
        crop_rule = CropRule(scale=args.crop_scale) if args.crop_scale is not None else loaded.crop_rule
        result = evaluate(loaded.model, path, protocol, args.image_root, crop_rule.scale, checkpoint=loaded.name,
                          max_sequences=args.max_sequences, match=MATCHES[args.match],
                          split_at_gaps=args.split_at_gaps)
        written = staging.add(write_report(result, staging.folder))
    print(format_table(result))
    for note in result.notes:
        print(f"note: {note}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


class _Staging:
    def __init__(self, folder: Path, out: Path) -> None:
        self.folder, self.out, self.files = folder, out, []

    def add(self, paths: list[Path]) -> list[Path]:
        """Record files written into the staging folder; returns where they will be once published."""
        names = [Path(path).relative_to(self.folder).as_posix() for path in paths]
        self.files += names
        return [self.out / name for name in names]


@contextlib.contextmanager
def eval_output(out: Path, force: bool, inputs: tuple):
    """``staf eval``'s output folder under :mod:`staf.outputs`' rule: checked before any work, the
    report written into a staging folder and moved into ``out`` with ``staf_eval.json`` last; a
    failed or stopped evaluation leaves ``out`` as it was."""
    import datetime

    from staf.evaluation.evaluate import EVAL_OUTPUT
    from staf.outputs import write_manifest

    with EVAL_OUTPUT.staged(out, force, inputs) as folder:
        staging = _Staging(folder, out)
        yield staging
        write_manifest(folder / EVAL_OUTPUT.manifest,
                       {"command": "staf eval", "staf_version": staf.__version__, "files": staging.files,
                        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")})
        EVAL_OUTPUT.publish(folder, out, [*staging.files, EVAL_OUTPUT.manifest])


def _run_eval_lsp(args: argparse.Namespace, out: Path | None) -> int:
    """``staf eval --data lsp --data-root DIR``: PCK on still images with labelled 2D joints."""
    from staf.data.crops import CropRule
    from staf.data.lsp import read_lsp
    from staf.devices import check_device
    from staf.evaluation.pck import evaluate_lsp, format_pck_table, write_pck_report

    if args.data_root is None:
        raise StafError("--data lsp needs --data-root DIR, the folder with images/imNNNN.jpg and joints.mat or "
                        "joints.npy (e.g. ../shared/real_images/lsp_dev)")
    data = read_lsp(args.data_root)
    if args.max_sequences is not None:
        data.images, data.joints = data.images[: args.max_sequences], data.joints[: args.max_sequences]
    check_device(args.device)
    with eval_output(out or Path("outputs") / "eval" / "lsp", args.force, (args.checkpoint,)) as staging:
        loaded = load_model(args)
        crop_rule = CropRule(scale=args.crop_scale) if args.crop_scale is not None else loaded.crop_rule
        report = evaluate_lsp(loaded.model, data, crop_rule, loaded.name)
        written = staging.add(write_pck_report(report, staging.folder))
    print(format_pck_table(report))
    for note in report.notes:
        print(f"note: {note}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def load_model(args: argparse.Namespace):
    """The :class:`staf.models.LoadedModel` the model flags name: --mean-pose, --checkpoint, else
    the default model shipped in the package."""
    from staf.models import load

    spec = "mean-pose" if args.mean_pose else (args.checkpoint or "default")
    return load(spec, args.body_model, args.base_data, args.device)


def refine_settings(args: argparse.Namespace):
    """``--refine-iterations`` and ``--refine-weight TERM=VALUE`` → a checked RefineConfig."""
    import dataclasses

    from staf.inference.refine import RefineConfig

    values: dict = {}
    if args.refine_iterations is not None:
        values["iterations"] = args.refine_iterations
    for item in args.refine_weight:
        name, sep, text = item.partition("=")
        if not sep or name not in REFINE_WEIGHTS:
            raise StafError(f"--refine-weight {item}: expected TERM=VALUE with TERM one of {', '.join(REFINE_WEIGHTS)}")
        try:
            values[name] = float(text)
        except ValueError:
            raise StafError(f"--refine-weight {item}: {text!r} is not a number") from None
    return dataclasses.replace(RefineConfig(), **values)


def run_demo(args: argparse.Namespace) -> int:
    from staf.config import parse_key_values
    from staf.devices import check_device
    from staf.inference.exporters import parse_formats
    from staf.inference.pipeline import DemoConfig, run_demo as run

    config = DemoConfig(start=args.start, end=args.end, fps=args.fps, focal_length=args.focal,
                        max_people=args.max_people, min_track_length=args.min_track_length, smooth=args.smooth,
                        smooth_min_cutoff=args.smooth_min_cutoff, smooth_beta=args.smooth_beta,
                        render=not args.no_render, side_view=args.side_view, obj=args.obj,
                        precision=args.precision, formats=parse_formats(args.formats, args.obj),
                        refine=args.refine, refine_settings=refine_settings(args), detector=args.detector,
                        detector_settings=parse_key_values(args.detector_set, "--detector-set"),
                        static_camera=args.static_camera, export_space=args.export_space,
                        depth_window=args.depth_window)
    check_device(args.device)
    loaded = load_model(args)
    summary = run(args.video, args.out, loaded.model, loaded.crop_rule, config, boxes=args.boxes, force=args.force,
                  progress=not args.quiet)
    print(f"staf demo: {args.video} with {loaded.name}")
    for line in summary.lines():
        print(f"  {line}")
    print(f"  results in {args.out}")
    return 0




if __name__ == "__main__":
    sys.exit(main())
