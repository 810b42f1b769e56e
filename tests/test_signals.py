"""SIGTERM, SIGHUP and SIGINT stop ``staf demo``, ``eval``, ``synth`` and ``train`` as Ctrl-C
does: exit 128 + the signal's number, one line on stderr, no traceback, and nothing half-written:
no staging folder or temporary file, every file that was there before byte-identical; what a
command had finished (synth's complete sequences, train's last complete checkpoint) may stay and
is usable."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from staf.data.synthetic import SynthConfig, synthesize

SIGNALS = [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A demo clip, and train/val db files big enough that eval and train are still busy when signalled."""
    root = tmp_path_factory.mktemp("signals")
    synthesize(SynthConfig(sequences=1, frames=48, size=160, seed=3, split="signals"), root / "clip", progress=False)
    synthesize(SynthConfig(sequences=3, frames=64, size=64, crop_size=64, seed=4, split="train"),
               root / "synth" / "train", progress=False)
    synthesize(SynthConfig(sequences=1, frames=24, size=64, crop_size=64, seed=5, split="val"),
               root / "synth" / "val", progress=False)
    return root


def _default_sigint():
    """In the child, before exec: SIGINT back to its default. A shell starts background jobs (``cmd &``,
    ``nohup``) with SIGINT ignored, which the child would inherit, and Python then rightly leaves
    Ctrl-C ignored; the test is about a process that can be interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def snapshot(folder: Path) -> dict:
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def stop_when(argv: list[str], started, name: str, settle: float = 0.5) -> subprocess.CompletedProcess:
    """Run ``staf ARGV``, wait until ``started()`` is true, let it work ``settle`` s more, send ``name``."""
    process = subprocess.Popen([sys.executable, "-m", "staf", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 180
    while not started() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, f"staf {argv[0]} ended before it could be stopped: {process.stderr.read()[-500:]}"
    time.sleep(settle)                                     # inside the work, not at its first line
    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=180)
    return subprocess.CompletedProcess(argv, process.returncode, "", stderr)


def assert_stopped(result: subprocess.CompletedProcess, status: int, folder: Path) -> None:
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr and len(lines) >= 1, result.stderr
    assert "nothing half-written was kept" in lines[-1], result.stderr   # progress bars may come before it
    leftovers = [path for path in folder.rglob("*") if "partial" in path.name or path.name.endswith(".tmp")]
    assert leftovers == []


def user_folder(folder: Path) -> dict:
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("the user's")
    return snapshot(folder)


@pytest.mark.parametrize("name, status", SIGNALS)
def test_demo_stopped_by_a_signal_leaves_nothing(data, tmp_path, name, status):
    out = tmp_path / "out"
    before = user_folder(out)
    result = stop_when(["demo", str(data / "clip" / "seq_0000" / "frames"), "--mean-pose", "--out", str(out), "--quiet",
                        "--min-track-length", "3"], (out / ".staf-demo.partial").exists, name)
    assert_stopped(result, status, out)
    assert snapshot(out) == before


@pytest.mark.parametrize("name, status", SIGNALS)
def test_eval_stopped_by_a_signal_leaves_out_as_it_was(data, tmp_path, name, status):
    out = tmp_path / "eval"
    before = user_folder(out)
    result = stop_when(["eval", "--data", str(data / "synth" / "train" / "synth_train_db.pt"), "--image-root",
                        str(data / "synth" / "train"), "--out", str(out)], (out / ".staf-eval.partial").exists, name)
    assert_stopped(result, status, out)
    assert snapshot(out) == before


@pytest.mark.parametrize("name, status", SIGNALS)
def test_synth_stopped_by_a_signal_keeps_only_finished_sequences(tmp_path, name, status):
    out = tmp_path / "synth"
    argv = ["synth", "--out", str(out), "--sequences", "40", "--frames", "24", "--size", "96", "--crop-size", "64",
            "--seed", "9", "--quiet"]
    result = stop_when(argv, (out / "seq_0001").exists, name, settle=0.2)
    assert_stopped(result, status, out)
    sequences = sorted(path for path in out.glob("seq_*"))
    assert 1 <= len(sequences) < 40
    for folder in sequences:                               # each one that stayed is complete
        assert (folder / "done").is_file() and (folder / "gt.npz").is_file(), folder
        assert len(list((folder / "frames").glob("*.jpg"))) == 24 == len(list((folder / "crops").glob("*.jpg")))


@pytest.mark.parametrize("name, status", SIGNALS)
def test_train_stopped_by_a_signal_keeps_a_loadable_checkpoint_or_none(data, tmp_path, name, status):
    run = tmp_path / "run"
    argv = ["train", "--preset", "train-synth-cpu", "--out", str(run), "--data-root", str(data),
            "--set", "stage1.iterations_per_epoch=2", "--set", "stage1.epochs=1000", "--set", "stage1.batch_size=2"]
    result = stop_when(argv, (run / "stage1" / "last.pt").exists, name, settle=1.0)
    assert_stopped(result, status, run)
    for checkpoint in run.rglob("*.pt"):                  # every checkpoint left is whole
        torch.load(checkpoint, map_location="cpu", weights_only=True)
