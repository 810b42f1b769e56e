"""Bad input, tried systematically (issue 19): each command × each kind of bad input.

For every generated case: exit status 2 (130 for an interrupt), one line on stderr that names the
problem, no traceback, every file that existed before byte-identical afterwards, and no new file
left behind. Cases are generated from a table of each command's inputs (which kinds of bad file
each accepts), its numbers (out-of-range values) and its outputs (collisions).
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from staf.body import BodyModel
from staf.cli import main
from staf.data.synthetic import SynthConfig, synthesize
from staf.models import STAFConfig, build_model
from staf.models.checkpoint import save_checkpoint
from staf.models.tar import TARConfig

TINY = STAFConfig(backbone="resnet18", image_size=64, decoder_channels=32, mlp_channels=(32, 16, 8, 5), dropout=0.0,
                  regressor_hidden=64, safm_hidden=16)
TINY_TAR = TARConfig(backbone="resnet18", image_size=64, seq_len=5, local_window=3, local_channels=8, gte_width=32,
                     gte_heads=2, gte_feedforward=64, hidden=8, regressor_width=8, iterations=2, local_dim=16)


class Evil:
    """Pickles to a call of os.system: a file that would run code if loaded unsafely."""

    def __reduce__(self):
        import os

        return (os.system, ("echo pwned > /dev/null",))


@pytest.fixture(scope="module")
def assets(tmp_path_factory) -> Path:
    """Valid inputs of every kind, made once (never modified by a case)."""
    root = tmp_path_factory.mktemp("assets")
    synthesize(SynthConfig(sequences=2, frames=12, size=64, crop_size=64, seed=1), root / "synth" / "train",
               progress=False)
    synthesize(SynthConfig(sequences=1, frames=12, size=64, crop_size=64, seed=2, split="val"), root / "synth" / "val",
               progress=False)
    torch.manual_seed(0)
    save_checkpoint(root / "model.pt", build_model("staf", TINY, BodyModel.load()))
    save_checkpoint(root / "tar.pt", build_model("tar", TINY_TAR, BodyModel.load()))
    np.save(root / "pose.npy", np.zeros(72))
    (root / "boxes.json").write_text(json.dumps({"0": [[1, 1, 30, 60]]}))
    from staf.data.crops import read_image
    from staf.inference.video import VideoWriter

    writer = VideoWriter(root / "clip.mp4", 64, 64, 25.0)
    for image in sorted((root / "synth" / "train" / "seq_0000" / "frames").iterdir()):
        writer.write(read_image(image))
    writer.close()
    return root


def bad_file(kind: str, folder: Path, valid: Path | None, suffix: str) -> Path:
    """A bad input file of ``kind`` (missing, empty, truncated, text, image, malicious)."""
    path = folder / f"bad_{kind}{suffix}"
    if kind == "missing":
        return path
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = valid.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("this is not the file you are looking for\n" * 4)
    elif kind == "image":
        import cv2

        cv2.imwrite(str(folder / "image.png"), np.full((8, 8, 3), 128, np.uint8))
        path.write_bytes((folder / "image.png").read_bytes())
        (folder / "image.png").unlink()
    elif kind == "malicious":
        path.write_bytes(pickle.dumps({"state_dict": Evil()}))
    else:
        raise ValueError(kind)
    return path


FILE_KINDS = ("missing", "empty", "truncated", "text", "image", "malicious")


@dataclasses.dataclass
class Case:
    """One bad invocation: ``make(assets, folder)`` prepares files in ``folder`` and returns the
    argv; ``message`` must appear in the one-line error."""

    name: str
    make: Callable[[Path, Path], list[str]]
    message: str
    status: int = 2
    patch: Callable | None = None          # patch(monkeypatch): e.g. an interrupt in the middle
    keeps_finished: bool = False           # finished units of work (synth sequences) may stay


def file_cases(command: str, slot: str, suffix: str, valid: str | None, base: Callable[[Path, Path], list[str]],
               kinds=FILE_KINDS) -> list[Case]:
    """One case per bad-file kind for the input ``slot`` of ``command`` (after its sub-command words)."""
    cases = []
    words = len(command.split())
    for kind in kinds:
        def make(assets, folder, kind=kind):
            path = bad_file(kind, folder, assets / valid if valid else None, suffix)
            argv = base(assets, folder)
            return [*argv[:words], *([str(path)] if slot == "positional" else [slot, str(path)]), *argv[words:]]

        cases.append(Case(f"{command} {slot} {kind}", make, ""))
    return cases


def body_base(assets, folder):
    return ["body", "--out", str(folder / "body.obj")]


def eval_base(assets, folder):
    return ["eval", "--data", str(assets / "synth" / "train" / "synth_train_db.pt"), "--image-root",
            str(assets / "synth" / "train"), "--out", str(folder / "eval")]


def eval_data_base(assets, folder):
    return ["eval", "--checkpoint", str(assets / "model.pt"), "--out", str(folder / "eval")]


def convert_base(assets, folder):
    return ["convert", "official", "--out", str(folder / "converted.pt")]


def demo_base(assets, folder):
    return ["demo", str(assets / "synth" / "train" / "seq_0000" / "frames"), "--out", str(folder / "demo"), "--quiet"]


def demo_video_base(assets, folder):
    return ["demo", "--out", str(folder / "demo"), "--quiet", "--mean-pose"]


def synth_base(assets, folder):
    return ["synth", "--out", str(folder / "synth"), "--sequences", "1", "--frames", "3", "--size", "32",
            "--crop-size", "32"]


def train_base(assets, folder):
    return ["train", "--out", str(folder / "run"), "--data-root", str(assets)]


#: YAML that a plain loader expands without bound (billion laughs: 9⁹ strings once copied) or
#: recurses into until RecursionError
YAML_BOMBS = {
    "billion laughs": 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
                      + "".join(f"{x}: &{x} [{', '.join([f'*{p}'] * 9)}]\n" for p, x in zip("abcdefgh", "bcdefghi")),
    "deep nesting": "stage1: " + "[" * 20000 + "]" * 20000 + "\n",
}


def yaml_file(text: str):
    def make(assets, folder):
        path = folder / "preset.yaml"
        path.write_text(text)
        return [str(path)]
    return make


def numbers(command_base, flag: str, values: list[str], message: str = "") -> list[Case]:
    return [Case(f"{command_base.__name__.removesuffix('_base')} {flag} {value}",
                 lambda assets, folder, value=value: [*command_base(assets, folder), flag, value], message)
            for value in values]


#: an extreme float for every numeric flag: too large, too small, not finite, and not a whole number
EXTREMES = ("1e308", "-1e308", "inf", "-inf", "nan")


def extreme_numbers() -> list[Case]:
    """For every numeric flag of every command (read from the parser, so a new flag is covered):
    the extremes of :data:`EXTREMES`, a denormal where it is out of range, and for whole-number
    flags a huge integer and a fraction, as ``--flag=VALUE`` (how a negative number is given).
    The message names the flag."""
    from staf.cli import build_parser
    from staf.ranges import FLAGS

    bases = {"body": body_base, "eval": eval_base, "synth": synth_base,
             "demo": lambda a, f: [*demo_base(a, f), "--mean-pose"]}
    commands = next(action for action in build_parser()._actions if action.dest == "command").choices
    out = []
    for command, parser in commands.items():
        for action in parser._actions:
            if action.type not in (int, float):
                continue
            flag, allowed = action.option_strings[-1], FLAGS[action.option_strings[-1]]
            values = [*EXTREMES, *(["1e-320"] if allowed.low > 0 else []),
                      *(["99999999999999999999", "2.5"] if action.type is int else [])]
            out += [Case(f"{command} {flag} {value} (extreme)",
                         lambda a, f, base=bases[command], flag=flag, value=value: [*base(a, f), f"{flag}={value}"], flag)
                    for value in values]
    return out


def wrong_value(hint):
    """A YAML value of the wrong type for a field annotated ``hint`` (None: no wrong value to try)."""
    import dataclasses
    import types
    import typing

    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [option for option in arguments if option is not type(None)]
        return 5 if options[0] in (str,) else {"x": 1} if not dataclasses.is_dataclass(options[0]) else 5
    if dataclasses.is_dataclass(hint):
        return [1]
    if origin is tuple:
        item = arguments[0] if arguments else None
        return [5] if item is str else [1.5] if item is int else [5] if dataclasses.is_dataclass(item) else "x"
    return {int: 1.5, float: "abc", bool: 2, str: 5}.get(hint)


def schema_fields(cls, prefix: tuple[str, ...] = ()):
    """(path, wrong value) for every field of dataclass ``cls`` and the dataclasses inside it."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        hint, path = hints[field.name], (*prefix, field.name)
        value = wrong_value(hint)
        if value is not None:
            yield path, value
        if dataclasses.is_dataclass(hint):
            yield from schema_fields(hint, path)


def schema_cases() -> list[Case]:
    """A preset with one field of the wrong type, for every field of every preset kind (train, its
    STAF and TAR model sections, synth): exit 2, the message names the field."""
    import yaml

    from staf.data.synthetic import SynthConfig
    from staf.models.registry import model_class
    from staf.training import TrainConfig

    def nested(path, value, base=None):
        values = dict(base or {})
        node = values
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
        return values

    out = []
    presets = [("train", path, nested(path, value)) for path, value in schema_fields(TrainConfig) if path != ("model",)]
    for name in ("staf", "tar"):
        presets += [("train", ("model", *path), {"model": {"name": name, path[0]: value}})
                    for path, value in schema_fields(model_class(name).config_class)]
    presets += [("synth", path, nested(path, value)) for path, value in schema_fields(SynthConfig)]
    for command, path, values in presets:
        text = yaml.safe_dump(values)
        base = (lambda a, f, make=yaml_file(text): [*train_base(a, f), "--preset", *make(a, f)]) if command == "train" \
            else (lambda a, f, make=yaml_file(text): ["synth", "--out", str(f / "s"), "--preset", *make(a, f)])
        out.append(Case(f"{command} preset schema {'.'.join(path)}={values!r}"[:120], base, path[-1]))
    return out


def collision(name: str, make, message: str) -> Case:
    return Case(f"collision: {name}", make, message)


def cases() -> list[Case]:
    out: list[Case] = []
    # ---------------------------------------------------------------- bad files, every input slot
    out += file_cases("body", "--pose", ".npy", "pose.npy", body_base)
    out += file_cases("body", "--body-model", ".pkl", None, body_base, ("missing", "empty", "text", "image", "malicious"))
    out += file_cases("convert official", "--head", ".pth.tar", "model.pt", convert_base)
    out += file_cases("eval", "--checkpoint", ".pt", "model.pt", eval_base)
    out += file_cases("eval", "--data", "_db.pt", "synth/train/synth_train_db.pt", eval_data_base)
    out += file_cases("demo", "--checkpoint", ".pt", "model.pt", demo_base)
    out += file_cases("demo", "positional", ".mp4", None, demo_video_base, ("missing", "empty", "text", "image"))
    out += file_cases("demo", "--boxes", ".json", "boxes.json", lambda a, f: [*demo_base(a, f), "--mean-pose"],
                      ("missing", "empty", "truncated", "text", "image"))
    # ---------------------------------------------------------------- presets: YAML of the wrong shape
    for name, text in {"syntax": "stage1: [unclosed\n", "list": "- 1\n- 2\n", "unknown key": "nonsense: 1\n",
                       "wrong type": "stage1:\n  epochs: abc\n", "backbone": "model:\n  name: staf\n  backbone: resnet7\n",
                       "batch 0": "stage1:\n  batch_size: 0\n", "lr -1": "stage1:\n  lr: -1\n"}.items():
        out.append(Case(f"train preset {name}", lambda a, f, make=yaml_file(text): [*train_base(a, f), "--preset",
                                                                                    *make(a, f)], ""))
    for name, text in {"syntax": "sequences: [\n", "wrong type": "sequences: many\n", "size 0": "size: 0\n",
                       "probability": "occluder_probability: 1.5\n"}.items():
        out.append(Case(f"synth preset {name}", lambda a, f, make=yaml_file(text): ["synth", "--out", str(f / "s"),
                                                                                    "--preset", *make(a, f)], ""))
    # ---------------------------------------------------------------- YAML bombs: aliases, deep nesting
    for name, text in YAML_BOMBS.items():
        out.append(Case(f"train preset {name}", lambda a, f, make=yaml_file(text): [*train_base(a, f), "--preset",
                                                                                    *make(a, f)], "YAML"))
        out.append(Case(f"synth preset {name}", lambda a, f, make=yaml_file(text): ["synth", "--out", str(f / "s"),
                                                                                    "--preset", *make(a, f)], "YAML"))
    out += [Case(f"synth preset camera_paths {text}", lambda a, f, make=yaml_file(f"camera_paths: {text}\n"):
                 ["synth", "--out", str(f / "s"), "--preset", *make(a, f)], "camera_paths")
            for text in ("[orbit]", "[]", "[pan, 7]")]
    out += [Case(f"synth preset floor_probability {text}", lambda a, f, make=yaml_file(f"floor_probability: {text}\n"):
                 ["synth", "--out", str(f / "s"), "--preset", *make(a, f)], "floor_probability")
            for text in ("-0.1", "2", "yes please", ".nan", ".inf")]
    out += [Case(f"train --set {name}", lambda a, f, value=value: [*train_base(a, f), "--preset", "train-synth-cpu",
                                                                  "--set", value], "YAML")
            for name, value in (("deep nesting", "stage1.epochs=" + "[" * 20000 + "]" * 20000),
                                ("alias", "stage1.epochs=[&a [1], *a]"))]
    out += [Case(f"train --set {value}", lambda a, f, value=value: [*train_base(a, f), "--preset", "train-synth-cpu",
                                                                   "--set", value], "")
            for value in ("stage1.epochs=abc", "stage1.batch_size=0", "stage1.lr=-1", "model.backbone=resnet7",
                          "noequals", "stage1.epochs=1e12")]
    # ---------------------------------------------------------------- numbers out of range
    out += numbers(synth_base, "--seed", ["-1"])
    out += numbers(synth_base, "--size", ["0", "-5", "100000"])
    out += numbers(synth_base, "--sequences", ["0", "-1", "10000000000"])
    out += numbers(synth_base, "--split", ["../escape", "a/b"])
    out += numbers(eval_base, "--crop-scale", ["0", "-1", "nan"])
    out += numbers(eval_base, "--max-sequences", ["0", "-1"])
    out += numbers(eval_base, "--device", ["cuda:7", "nonsense"])
    out += numbers(body_base, "--betas", ["nan", "inf"])
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose"], "--focal", ["0", "nan"])
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose"], "--formats", ["fbx", ",", "pkl,fbx"], "--formats")
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose", "--refine"], "--refine-iterations",
                   ["-1", "100001"], "refine")
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose", "--refine"], "--refine-weight",
                   ["bogus=1", "world", "world=x", "world=nan", "world=-1", "smoothness=1e300"], "refine")
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose"], "--detector", ["bogus", "blazepose-lite", ""],
                   "--detector")
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose"], "--detector-set",
                   ["bogus=1", "noequals", "=1", "threads=4", "landmark_model=heavy", "tile_every=-1", "tile_every=1.5",
                    "tile_every=x", "min_tile=8", "tile_scales=[2.0]", "tile_scales=[.nan]", "tile_scales=0.5",
                    "follow_step=0", "follow_step=.nan", "follow_tolerance=0.9", "same_region_ratio=0.5",
                    "same_region_ratio=.inf", "same_region_offset=-0.1", "duplicate_oks=1.5", "same_box_iou=.nan",
                    "overlap_min_seen=2", "tile_min_score=-1", "follow=maybe", "tile_every=[&a [1], *a]",
                    "wide_min_height=1.5", "unsure_score=.nan", "unsure_min_presence=-0.5"],
                   "--detector-set")
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose"], "--export-space", ["gravity", "", "World"],
                   "--export-space")
    out += numbers(lambda a, f: [*demo_base(a, f), "--mean-pose"], "--depth-window", ["-1", "nan", "two"],
                   "--depth-window")
    out.append(Case("demo --static-camera=yes", lambda a, f: [*demo_base(a, f), "--mean-pose", "--static-camera=yes"],
                    "--static-camera"))
    out.append(Case("demo --detector-set with --boxes", lambda a, f: [*demo_base(a, f), "--mean-pose", "--boxes",
                                                                       str(a / "boxes.json"), "--detector-set", "tile_every=0"],
                    "--boxes replaces"))
    out += numbers(lambda a, f: [*train_base(a, f), "--preset", "train-synth-cpu"], "--stage", ["0", "3", "x"],
                   "--stage")
    train_preset = lambda a, f: [*train_base(a, f), "--preset", "train-synth-cpu"]  # noqa: E731
    out += numbers(train_preset, "--set", ["stage1.encoder_lr=nan", "stage1.encoder_lr=-1", "stage1.encoder_lr=0"],
                   "encoder_lr")
    out += numbers(train_preset, "--set", ["model.pretrained=imagenet"], "ImageNet weights")
    out += numbers(train_preset, "--set", ["model.backbone=efficientnet-b0"], "unknown backbone")
    out += numbers(eval_data_base, "--data", ["lsp"], "--data-root")
    out += numbers(lambda a, f: [*eval_data_base(a, f), "--data", "lsp"], "--data-root",
                   [str(Path("/proc/staf-no-such-lsp"))], "not a folder")
    out += extreme_numbers()
    out += schema_cases()
    source = "train:\n  - db: synth/train/synth_train_db.pt\n"
    for name, text, message in (("ratio -1", source + "    ratio: -1\n", "ratio"),
                                ("labels [bogus]", source + "    labels: [bogus]\n", "labels"),
                                ("image_root 5", source + "    image_root: 5\n", "image_root"),
                                ("images_only maybe", source + "    images_only: maybe\n", "images_only"),
                                ("all_stages maybe", "losses:\n  all_stages: maybe\n", "all_stages"),
                                ("freeze_batchnorm 2", "freeze_batchnorm: 2\n", "freeze_batchnorm"),
                                ("losses.pose -1e30", "losses:\n  pose: -1.0e+30\n", "pose"),
                                ("epochs 1.0", "stage1:\n  epochs: 1.0\n", "epochs")):
        out.append(Case(f"train preset {name}", lambda a, f, make=yaml_file(text): [*train_base(a, f), "--preset",
                                                                                    *make(a, f)], message))
    out.append(Case("synth --backgrounds with no images", lambda a, f: [*synth_base(a, f), "--backgrounds",
                                                                         str(_folder(f / "empty_backgrounds"))],
                    "no .jpg or .png"))
    out.append(Case("synth --out with a synth_config.json that is a list", lambda a, f: [
        *synth_base(a, f), *_made(_text(f / "synth" / "synth_config.json", "[1, 2]"))], "not a staf synth record"))
    out += [Case(f"train --set {value}", lambda a, f, value=value: [*train_base(a, f), "--preset", "train-synth-cpu",
                                                                   "--set", value], "not a group of settings")
            for value in ("stage1.epochs.x=1", "train.0.db=x")]
    # ---------------------------------------------------------------- JSON nested past Python's recursion limit
    deep = "[" * 100_000 + "]" * 100_000
    out.append(Case("demo --boxes JSON nested 100 000 deep", lambda a, f: [
        *demo_base(a, f), "--mean-pose", "--boxes", str(_text(f / "boxes.json", deep))], "cannot be read"))
    out.append(Case("demo --out with a staf_demo.json nested 100 000 deep", lambda a, f: [
        *demo_base(a, f), "--mean-pose", *_made(_text(f / "demo" / "staf_demo.json", deep))], "--force"))
    out.append(Case("synth --out with a synth_config.json nested 100 000 deep", lambda a, f: [
        *synth_base(a, f), *_made(_text(f / "synth" / "synth_config.json", deep))], "damaged"))
    # ---------------------------------------------------------------- output collisions
    out.append(collision("body --joints-out equal to --out",
                         lambda a, f: ["body", "--out", str(f / "b.obj"), "--joints-out", str(f / "b.obj")], "same"))
    out.append(collision("body --out is a folder", lambda a, f: ["body", "--out", str(_folder(f / "mesh.obj"))], "folder"))
    out.append(collision("body --out exists", lambda a, f: ["body", "--out", str(_file(f / "mine.obj"))], "--force"))
    out.append(collision("convert --out equal to --head",
                         lambda a, f: ["convert", "official", "--head", str(_copy(a / "model.pt", f / "h.pt")), "--out",
                                       str(f / "h.pt")], "same"))
    out.append(collision("eval --out is a file", lambda a, f: [*eval_base(a, f)[:-2], "--mean-pose", "--out",
                                                               str(_file(f / "report"))], "file"))
    out.append(collision("synth --out is a file", lambda a, f: [*synth_base(a, f)[:1], "--out", str(_file(f / "s")),
                                                                *synth_base(a, f)[3:]], "file"))
    out.append(collision("demo --out is a file", lambda a, f: [*demo_base(a, f)[:2], "--out", str(_file(f / "d")),
                                                               "--mean-pose"], "file"))
    # the demo's overwrite rule (issue 31): a user's file under an output name, input = output, empty --out
    for name in ("track_0.glb", "staf_output.pkl", "meshes/track_0/frame_000000.obj"):
        out.append(collision(f"demo --out holds the user's {name}",
                             lambda a, f, name=name: [*demo_base(a, f)[:2], "--out", str(_file(f / "d" / name).parents[
                                 name.count("/")]), "--mean-pose"], "did not write"))
    out.append(collision("demo input overlay.mp4 in --out with --force",
                         lambda a, f: ["demo", str(_copy(a / "clip.mp4", f / "d" / "overlay.mp4")), "--out",
                                       str(f / "d"), "--mean-pose", "--force"], "over the input"))
    out.append(collision("demo --out is the input folder",
                         lambda a, f: ["demo", str(_copytree(a / "synth" / "train" / "seq_0000" / "frames", f / "fr")),
                                       "--out", str(f / "fr"), "--mean-pose", "--force"], "input folder"))
    for base in (demo_base, eval_base, synth_base):
        out.append(collision(f"{base.__name__.removesuffix('_base')} --out ''",
                             lambda a, f, base=base: [*base(a, f), "--out", ""], "--out is empty"))
    # eval and synth under the same rule (issue 31)
    out.append(collision("eval --out holds the user's metrics.json",
                         lambda a, f: [*eval_base(a, f), "--mean-pose", *_made(_file(f / "eval" / "metrics.json"))],
                         "did not write"))
    out.append(collision("eval --out holds a folder metrics.json",
                         lambda a, f: [*eval_base(a, f), "--mean-pose", *_made(_folder(f / "eval" / "metrics.json"))],
                         "holds a folder where staf writes a file"))
    for name in ("preview.png", "synth_train_db.pt", "seq_0000/crops/000000.jpg"):
        out.append(collision(f"synth --out holds the user's {name}",
                             lambda a, f, name=name: [*synth_base(a, f), "--preview",
                                                      *_made(_file(f / "synth" / name))], "did not write"))
    out.append(collision("synth --out is its --backgrounds", lambda a, f: [
        *synth_base(a, f)[:2], str(_copytree(a / "synth" / "train" / "seq_0000" / "frames", f / "bg")),
        *synth_base(a, f)[3:], "--backgrounds", str(f / "bg")], "input folder"))
    # a full disk: every write of every command (os.fsync is where atomic_write meets the disk)
    for name, base in (("body", body_base), ("demo", lambda a, f: [*demo_base(a, f), "--mean-pose"]),
                       ("eval", lambda a, f: [*eval_base(a, f), "--mean-pose"]), ("synth", synth_base),
                       ("train", lambda a, f: [*train_base(a, f), "--preset", "train-synth-cpu"])):
        out.append(Case(f"full disk: {name}", base, "the disk is full", patch=full_disk("os.fsync")))
    out.append(Case("full disk: demo while writing the overlay", lambda a, f: [*demo_base(a, f), "--mean-pose"],
                    "the disk is full", patch=full_disk("staf.inference.video.VideoWriter.write")))
    # a place nothing can be created in, even by root (the suite runs as root, where permissions do not apply)
    unwritable = "/proc/staf-unwritable"
    out.append(collision("body --out unwritable", lambda a, f: ["body", "--out", f"{unwritable}/b.obj"], "cannot write"))
    out.append(collision("eval --out unwritable", lambda a, f: [*eval_base(a, f)[:-2], "--mean-pose", "--out",
                                                                unwritable], "cannot write"))
    out.append(collision("synth --out unwritable", lambda a, f: [*synth_base(a, f)[:1], "--out", unwritable,
                                                                 *synth_base(a, f)[3:]], "cannot write"))
    out.append(collision("demo --out unwritable", lambda a, f: [*demo_base(a, f)[:2], "--out", unwritable, "--mean-pose"],
                         "cannot write"))
    out.append(collision("train --out unwritable", lambda a, f: ["train", "--out", unwritable, "--data-root", str(a),
                                                                 "--preset", "train-synth-cpu"], "cannot write"))
    out.append(collision("convert --out unwritable", lambda a, f: ["convert", "official", "--head", str(a / "model.pt"),
                                                                   "--out", f"{unwritable}/c.pt"], "cannot write"))
    out.append(collision("train resume without last.pt",
                         lambda a, f: [*train_base(a, f), "--preset", "train-synth-cpu", "--resume"], "last.pt"))
    out.append(collision("train into a finished run", lambda a, f: [*train_base(a, f), "--preset", "train-synth-cpu"]
                         if _file(_folder(f / "run" / "stage1") / "best.pt") else [], "already holds a run"))
    out.append(collision("train resume with another lr", lambda a, f: _resumable(a, f), "other settings"))
    out.append(collision("synth --sequences fewer than the folder holds", _shrink, "would shrink"))
    # ---------------------------------------------------------------- db files with bad content
    for name, change, message in (("empty", lambda d: {k: v[:0] for k, v in d.items()}, "no frames"),
                                  ("nan joints", lambda d: {**d, "joints3D": d["joints3D"] * np.nan}, "NaN"),
                                  ("inf pose", lambda d: {**d, "pose": d["pose"] + np.inf}, "NaN or infinite"),
                                  ("all invalid", lambda d: {**d, "valid": d["valid"] * 0}, "valid"),
                                  ("fps 0", lambda d: {**d, "fps": d["fps"] * 0}, "fps"),
                                  ("zero-size boxes", lambda d: {**d, "bbox": d["bbox"] * [1, 1, 0, 1]}, "zero")):
        out.append(Case(f"eval --data {name}", lambda a, f, change=change: ["eval", "--mean-pose", "--data",
                                                                             str(_changed_db(a, f, change)), "--out",
                                                                             str(f / "eval")], message))
    # ---------------------------------------------------------------- hand-edited checkpoints
    for name, change in (("no config", lambda p: {k: v for k, v in p.items() if k != "config"}),
                         ("no state_dict", lambda p: {k: v for k, v in p.items() if k != "state_dict"}),
                         ("config not a dict", lambda p: {**p, "config": [1, 2]}),
                         ("unknown model", lambda p: {**p, "model": "nonsense"}),
                         ("negative layer width", lambda p: {**p, "config": {**p["config"], "safm_hidden": -16}}),
                         ("NaN dropout", lambda p: {**p, "config": {**p["config"], "dropout": float("nan")}}),
                         ("float seq_len", lambda p: {**p, "config": {**p["config"], "seq_len": 9.0}}),
                         ("crop scale 1e300", lambda p: {**p, "crop": {"rule": "square", "scale": 1e300}}),
                         ("state dict with integer keys", lambda p: {**p, "state_dict": {0: torch.zeros(1)}}),
                         ("complex weights", lambda p: {**p, "state_dict": {k: v.to(torch.complex64) if v.is_floating_point()
                                                                            else v for k, v in p["state_dict"].items()}})):
        for command in ("eval", "demo"):
            base = eval_base if command == "eval" else demo_base
            out.append(Case(f"{command} --checkpoint {name}", lambda a, f, base=base, change=change: [
                *base(a, f), "--checkpoint", str(_edited_checkpoint(a, f, change))], ""))
    # ---------------------------------------------------------------- body-model files with bad content
    for name, change, message in (("missing keys", lambda d: {"v_template": d["v_template"]}, "missing"),
                                  ("nan template", lambda d: {**d, "v_template": d["v_template"] * np.nan}, "NaN"),
                                  ("inf weights", lambda d: {**d, "weights": d["weights"] + np.inf}, "NaN or infinite"),
                                  ("short weights", lambda d: {**d, "weights": d["weights"][:100]}, "shape"),
                                  ("parent out of range", lambda d: {**d, "kintree_table": _kintree(d, 3, 99)}, "not a tree"),
                                  ("parent after its child", lambda d: {**d, "kintree_table": _kintree(d, 3, 7)},
                                   "not a tree"),
                                  ("1-D kinematic tree", lambda d: {**d, "kintree_table": d["kintree_table"][0]},
                                   "kintree_table has shape"),
                                  ("negative face index", lambda d: {**d, "f": np.where(d["f"] == 0, -1, d["f"])},
                                   "faces must be"),
                                  ("string template", lambda d: {**d, "v_template": d["v_template"].astype(str)},
                                   "not numbers"),
                                  ("2-D shapedirs", lambda d: {**d, "shapedirs": d["shapedirs"][..., 0]}, "shapedirs"),
                                  ("bad metadata JSON", lambda d: {**d, "metadata_json": np.array("{not json")},
                                   "metadata_json"),
                                  ("downsampling index out of range",
                                   lambda d: {**d, "downsampling_cols": d["downsampling_cols"] + 10**6}, "down-sampling"),
                                  ("downsampling of 21 TiB", lambda d: {**d, "downsampling_shape": np.array([3 * 10**12])},
                                   "downsampling_shape"),
                                  ("keypoint id out of range",
                                   lambda d: {**d, "vertex_keypoint_ids": d["vertex_keypoint_ids"] + 10**6},
                                   "vertex_keypoint_ids")):
        out.append(Case(f"body --body-model {name}", lambda a, f, change=change: [
            *body_base(a, f), "--body-model", str(_changed_body_model(f, change))], message))
    out.append(Case("body --body-model smpl with a corrupt pickle", lambda a, f: [
        *body_base(a, f), "--body-model", "smpl", "--base-data", str(_corrupt_base_data(f))], "pickle"))
    # ---------------------------------------------------------------- TAR's paths (issue 18)
    out += file_cases("eval", "--checkpoint", ".pt", "tar.pt", eval_base, ("truncated", "malicious"))
    out += file_cases("demo", "--checkpoint", ".pt", "tar.pt", demo_base, ("truncated", "malicious"))
    for name, change, message in (
            ("even local window", lambda c: {**c, "local_window": 4}, "odd"),
            ("window longer than T", lambda c: {**c, "local_window": 7}, "local_window"),
            ("hidden size not a power-of-2 division", lambda c: {**c, "lte_hidden_size": 6}, "lte_hidden_size"),
            ("unknown variant", lambda c: {**c, "variant": "both"}, "unknown TAR variant"),
            ("unknown key", lambda c: {**c, "markers": 67}, "unknown key"),
            ("gamma 0", lambda c: {**c, "gamma": 0}, "gamma"),
            ("iterations nan", lambda c: {**c, "iterations": float("nan")}, "iterations")):
        for command in ("eval", "demo"):
            base = eval_base if command == "eval" else demo_base
            out.append(Case(f"{command} --checkpoint tar {name}", lambda a, f, base=base, change=change: [
                *base(a, f), "--checkpoint", str(_edited_checkpoint(a, f, lambda p: {**p, "config": change(p["config"])},
                                                                    "tar.pt"))], message))
    out.append(Case("eval --checkpoint tar missing weights", lambda a, f: [*eval_base(a, f), "--checkpoint", str(
        _edited_checkpoint(a, f, lambda p: {**p, "state_dict": {k: v for k, v in p["state_dict"].items()
                                                                 if not k.startswith("gru.")}}, "tar.pt"))], "gru."))
    for name, text in {"tar variant": "model:\n  name: tar\n  variant: both\n",
                       "tar local window": "model:\n  name: tar\n  local_window: 4\n",
                       "tar hidden size": "model:\n  name: tar\n  lte_hidden_size: 24\n"}.items():
        out.append(Case(f"train preset {name}", lambda a, f, make=yaml_file(text): [*train_base(a, f), "--preset",
                                                                                    *make(a, f)], ""))
    out += [Case(f"train tar --set {value}", lambda a, f, value=value: [*train_base(a, f), "--preset", "tar-synth-cpu",
                                                                       "--set", value], value.split("=")[0].split(".")[-1])
            for value in ("model.local_window=4", "model.lte_hidden_size=7", "model.gte_heads=3", "model.radius=-1")]
    out.append(Case("demo --checkpoint tar --device cuda:7", lambda a, f: [*demo_base(a, f), "--checkpoint",
                                                                           str(a / "tar.pt"), "--device", "cuda:7"], "cuda:7"))
    out.append(Case("interrupt: eval while TAR predicts", lambda a, f: [*eval_base(a, f), "--checkpoint", str(a / "tar.pt")],
                    "interrupted", 130, patch=lambda m: m.setattr("staf.models.tar.network.TAR.predict_sequence", _interrupt)))
    out.append(Case("interrupt: demo with TAR while rendering", lambda a, f: [*demo_base(a, f), "--checkpoint",
                                                                               str(a / "tar.pt")], "interrupted", 130,
                    patch=interrupt_on_call("staf.inference.video.VideoWriter.write", 3)))
    # ---------------------------------------------------------------- devices
    out += [Case(f"{base.__name__.removesuffix('_base')} --device cuda:7", lambda a, f, base=base: [*base(a, f), "--device",
                                                                                                 "cuda:7"], "cuda:7")
            for base in (lambda a, f: [*eval_base(a, f), "--mean-pose"], lambda a, f: [*demo_base(a, f), "--mean-pose"],
                         lambda a, f: [*train_base(a, f), "--preset", "train-synth-cpu"])]
    # ---------------------------------------------------------------- interrupted work
    out.append(Case("interrupt: body while writing the mesh", lambda a, f: body_base(a, f), "interrupted", 130,
                    patch=lambda m: m.setattr("trimesh.Trimesh.export", _interrupt)))
    out.append(Case("interrupt: demo while rendering", lambda a, f: [*demo_base(a, f), "--mean-pose"], "interrupted", 130,
                    patch=interrupt_on_call("staf.inference.video.VideoWriter.write", 3)))
    out.append(Case("interrupt: eval while predicting", lambda a, f: [*eval_base(a, f), "--mean-pose"], "interrupted", 130,
                    patch=lambda m: m.setattr("staf.models.mean_pose.MeanPose.predict_sequence", _interrupt)))
    out.append(Case("interrupt: synth in the second sequence", lambda a, f: [*synth_base(a, f)[:4], "2",
                                                                             *synth_base(a, f)[5:]],
                    "interrupted", 130, keeps_finished=True,
                    patch=interrupt_on_call("staf.render.renderer.MeshRenderer.render", 4)))
    return out


def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def full_disk(target: str):
    """A patch: ``target`` (a function or method) fails as a full disk does."""
    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    return lambda monkeypatch: monkeypatch.setattr(target, fail)


def interrupt_on_call(target: str, call: int):
    """A patch: the ``call``-th call of ``module.Class.method`` raises KeyboardInterrupt (as
    Ctrl-C would there); earlier calls do the real work."""
    def patch(monkeypatch):
        import importlib

        module_name, class_name, method = target.rsplit(".", 2)
        cls = getattr(importlib.import_module(module_name), class_name)
        original, count = getattr(cls, method), [0]

        def wrapper(self, *args, **kwargs):
            count[0] += 1
            if count[0] >= call:
                raise KeyboardInterrupt
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, wrapper)
    return patch


def _resumable(assets: Path, folder: Path) -> list[str]:
    run = folder / "run"
    assert main(["train", "--preset", "train-synth-cpu", "--out", str(run), "--data-root", str(assets), "--stage", "1",
                 "--set", "stage1.epochs=1", "--set", "stage1.iterations_per_epoch=1", "--set", "stage1.batch_size=2",
                 "--set", "val_windows=2", "--set", "model.image_size=64"]) == 0
    return ["train", "--preset", "train-synth-cpu", "--out", str(run), "--data-root", str(assets), "--stage", "1",
            "--resume", "--set", "stage1.epochs=1", "--set", "stage1.iterations_per_epoch=1", "--set",
            "stage1.batch_size=2", "--set", "val_windows=2", "--set", "model.image_size=64", "--set", "stage1.lr=0.1"]


def _shrink(assets: Path, folder: Path) -> list[str]:
    argv = [*synth_base(assets, folder)[:4], "2", *synth_base(assets, folder)[5:]]
    assert main(argv) == 0
    return [*argv[:4], "1", *argv[5:]]


def _edited_checkpoint(assets: Path, folder: Path, change, name: str = "model.pt") -> Path:
    payload = torch.load(assets / name, weights_only=True)
    path = folder / "edited.pt"
    torch.save(change(payload), path)
    return path


def _changed_body_model(folder: Path, change) -> Path:
    from staf.body.assets import bundled_model_path

    data = dict(np.load(bundled_model_path(), allow_pickle=False))
    path = folder / "changed_body.npz"
    np.savez(path, **change(data))
    return path


def _kintree(data: dict, joint: int, parent: int) -> np.ndarray:
    table = data["kintree_table"].copy()
    table[0, joint] = parent
    return table


def _corrupt_base_data(folder: Path) -> Path:
    base = _folder(folder / "base_data")
    (base / "SMPL_NEUTRAL.pkl").write_bytes(b"garbage, not a pickle\n")
    return base


def _changed_db(assets: Path, folder: Path, change) -> Path:
    import joblib

    data = joblib.load(assets / "synth" / "train" / "synth_train_db.pt")
    path = folder / "changed_db.pt"
    joblib.dump(change(data), path)
    return path


def _made(*paths: Path) -> list[str]:
    """No arguments: ``paths`` were made for the case (a user's files in the output folder)."""
    return []


def _file(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("the user's own file\n")
    return path


def _text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "inside.txt").write_text("mine")
    return path


def _copytree(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target)
    return target


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return target


def snapshot(*folders: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


CASES = cases()


class TooLong(Exception):
    """A case ran past its time: the bad input was not caught up front."""


def _alarm(signum, frame):
    raise TooLong("the command ran on instead of refusing its input")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case, assets, tmp_path, capsys, monkeypatch):
    import signal

    monkeypatch.chdir(tmp_path)
    argv = case.make(assets, tmp_path)
    capsys.readouterr()                                          # what a set-up run printed
    before = snapshot(assets, tmp_path)
    if case.patch is not None:
        case.patch(monkeypatch)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        status = main(argv)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    error = capsys.readouterr().err.strip()
    if case.patch is not None:   # work stopped midway has shown progress bars: the message comes after them
        error = error[error.rfind(f"staf {argv[0]}:"):].strip()
    assert status == case.status, f"exit {status}: {error[-500:]}"
    assert error and len(error.splitlines()) == 1 and "Traceback" not in error, error
    assert case.message in error, error
    after = snapshot(assets, tmp_path)
    assert not [name for name in after if "partial" in name or name.endswith(".tmp")]     # no half-written file
    if case.keeps_finished:
        assert {name: after[name] for name in before} == before
    else:
        assert after == before                                   # nothing changed, nothing left behind


def test_case_count():
    """The generator's size, reported in the closing note of issue 19."""
    assert len(CASES) >= 140
