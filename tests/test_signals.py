"""SIGTERM, SIGHUP and SIGINT stop ``staf demo``, ``eval``, ``synth`` and ``train`` as Ctrl-C
does: exit 128 + the signal's number, one line on stderr, no traceback, and nothing half-written:
no staging folder or temporary file, every file that was there before byte-identical; what a
command had finished (synth's complete sequences, train's last complete checkpoint) may stay and
is usable, and the next run carries on from it (synth fills in the missing sequences, train
``--resume`` goes on from ``last.pt``). Each command is stopped at three points of its work (reading,
refining, rendering; loading, evaluating, writing the report; in a sequence, between sequences, after
the last; caching crops, after a checkpoint, in stage 2), found by its progress bars or files."""

from __future__ import annotations

import signal
import subprocess
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from staf.data.db import read_db
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


class Point:
    """A moment inside a command: when its stderr first shows ``text`` (a progress bar's label) or
    ``path`` exists, plus ``settle`` s, so that the signal lands inside that step's work."""

    def __init__(self, name: str, text: str | None = None, path: str | None = None, settle: float = 0.2) -> None:
        self.name, self.text, self.path, self.settle = name, text, path, settle

    def __repr__(self) -> str:
        return self.name

    def reached(self, stderr: str, folder: Path) -> bool:
        return (self.text is not None and self.text in stderr) or (self.path is not None and (folder / self.path).exists())


def stop_at(argv: list[str], point: Point, folder: Path, name: str) -> subprocess.CompletedProcess:
    """Run ``staf ARGV``, wait until it reaches ``point`` (paths relative to ``folder``), send signal ``name``."""
    process = subprocess.Popen([sys.executable, "-m", "staf", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, preexec_fn=_default_sigint)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: process.stderr.read1(4096), b"")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 180
    while not point.reached(b"".join(chunks).decode(errors="replace"), folder) and process.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(point.settle)                               # inside the work, not at its first line
    assert process.poll() is None, f"staf {argv[0]} ended before {point}: {b''.join(chunks).decode()[-500:]}"
    process.send_signal(getattr(signal, name))
    process.wait(timeout=180)
    reader.join(timeout=10)
    return subprocess.CompletedProcess(argv, process.returncode, "", b"".join(chunks).decode(errors="replace"))


def cases(points: list[Point]) -> list:
    """One signal at each point, in turn, so that each point and each signal is tried in the default
    run (a third of the cost of every pair); the other two signals at the first point are ``slow``."""
    turns = [pytest.param(point, *SIGNALS[i % 3], id=f"{point}-{SIGNALS[i % 3][0]}") for i, point in enumerate(points)]
    rest = [pytest.param(points[0], name, status, id=f"{points[0]}-{name}", marks=pytest.mark.slow)
            for name, status in SIGNALS[1:]]
    return turns + rest


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


DEMO_POINTS = [Point("reading", text="read+detect:", settle=0.2), Point("refining", text="refine:", settle=0.3),
               Point("rendering", text="render:", settle=0.1)]
EVAL_POINTS = [Point("evaluating", text="eval synthetic:", settle=0.5),
               Point("loading", path=".staf-eval.partial", settle=0.0),
               Point("writing", path=".staf-eval.partial/metrics.json", settle=0.0)]
SYNTH_POINTS = [Point("between sequences", path="seq_0001", settle=0.2),
                Point("first sequence", text="synth:", settle=0.3),
                Point("after the last sequence", path="seq_0007/done", settle=0.0)]
TRAIN_POINTS = [Point("after a checkpoint", path="stage1/last.pt", settle=0.5),
                Point("caching crops", text="caching crops of", settle=0.3),
                Point("stage 2", text="stage 2 epoch 1/", settle=0.3)]


@pytest.mark.parametrize("point, name, status", cases(DEMO_POINTS))
def test_demo_stopped_by_a_signal_leaves_nothing(data, tmp_path, point, name, status):
    out = tmp_path / "out"
    before = user_folder(out)
    result = stop_at(["demo", str(data / "clip" / "seq_0000" / "frames"), "--mean-pose", "--out", str(out),
                      "--min-track-length", "3"], point, out, name)
    assert_stopped(result, status, out)
    assert snapshot(out) == before


@pytest.mark.parametrize("point, name, status", cases(EVAL_POINTS))
def test_eval_stopped_by_a_signal_leaves_out_as_it_was(data, tmp_path, point, name, status):
    out = tmp_path / "eval"
    before = user_folder(out)
    result = stop_at(["eval", "--data", str(data / "synth" / "train" / "synth_train_db.pt"), "--image-root",
                      str(data / "synth" / "train"), "--out", str(out)], point, out, name)
    assert_stopped(result, status, out)
    assert snapshot(out) == before


@pytest.mark.parametrize("point, name, status", cases(SYNTH_POINTS))
def test_synth_stopped_by_a_signal_keeps_only_finished_sequences(tmp_path, point, name, status):
    out = tmp_path / "synth"
    count = 8
    argv = ["synth", "--out", str(out), "--sequences", str(count), "--frames", "24", "--size", "96", "--crop-size",
            "64", "--seed", "9", "--preview"]
    result = stop_at(argv, point, out, name)
    assert_stopped(result, status, out)
    sequences = sorted(path for path in out.glob("seq_*"))
    assert len(sequences) < count or not (out / "synth_train_db.pt").exists()
    for folder in sequences:                               # each one that stayed is complete
        assert (folder / "done").is_file() and (folder / "gt.npz").is_file(), folder
        assert len(list((folder / "frames").glob("*.jpg"))) == 24 == len(list((folder / "crops").glob("*.jpg")))
    resumed = subprocess.run([sys.executable, "-m", "staf", *argv, "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr                 # the same folder carries on, no --force
    assert read_db(out / "synth_train_db.pt")["vid_name"].shape[0] == count * 24


@pytest.mark.parametrize("point, name, status", cases(TRAIN_POINTS))
def test_train_stopped_by_a_signal_keeps_a_loadable_checkpoint_or_none(data, tmp_path, point, name, status):
    root = data
    if point.name == "caching crops":                      # a data folder whose crops are not cached yet
        root = tmp_path / "data"
        shutil.copytree(data / "synth", root / "synth", ignore=shutil.ignore_patterns("cache"))
    run = tmp_path / "run"
    argv = ["train", "--preset", "train-synth-cpu", "--out", str(run), "--data-root", str(root),
            "--set", "stage1.iterations_per_epoch=2", "--set", "stage1.epochs=4", "--set", "stage1.batch_size=2",
            "--set", "stage2.iterations_per_epoch=2", "--set", "stage2.epochs=1000", "--set", "stage2.batch_size=2"]
    result = stop_at(argv, point, run, name)
    assert_stopped(result, status, run)
    assert list(root.rglob("*.partial*")) == []            # no half-written crop or feature cache
    for checkpoint in run.rglob("*.pt"):                  # every checkpoint left is whole
        torch.load(checkpoint, map_location="cpu", weights_only=True)
    if point.name == "after a checkpoint":                 # and --resume carries on from it
        resumed = stop_at([*argv, "--resume"], Point("stage 2", text="stage 2 epoch 1/", settle=0.0), run, "SIGTERM")
        assert_stopped(resumed, 143, run)
        assert "stage 1 epoch 1/4" not in resumed.stderr, resumed.stderr      # stage 1 went on, not from the start


@pytest.mark.parametrize("name, status", SIGNALS)
def test_a_stop_a_library_turns_into_its_own_error_is_still_a_stop(monkeypatch, capsys, name, status):
    """safetensors, stopped while it makes a tensor, reports "could not determine the shape of
    object type 'torch.storage.UntypedStorage'": the command must still end as stopped (exit
    128 + the signal), not with that error as a bad file (exit 2)."""
    import os

    import staf.cli
    from staf.errors import MalformedFileError

    def library_call(args):
        try:
            os.kill(os.getpid(), getattr(signal, name))
            time.sleep(1.0)                                    # the handler runs here
        except BaseException as swallowed:                     # noqa: BLE001 — what the library does
            raise MalformedFileError(f"model.safetensors: not a readable safetensors file ({swallowed!r})") from None
        return 0

    monkeypatch.setattr(staf.cli, "run_info", library_call)
    if name == "SIGINT":
        monkeypatch.setattr(signal, "getsignal", lambda number: signal.default_int_handler)
    assert staf.cli.main(["info"]) == status
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "nothing half-written was kept" in error, error


@pytest.mark.parametrize("stop", ["KeyboardInterrupt", "error"])
def test_the_message_comes_after_a_progress_bar_left_open(monkeypatch, capsys, stop):
    """A command stopped (or failed) inside a progress bar: the bar is closed before the one line
    is written, so that line stays the last on stderr (an open bar redraws itself when it is freed;
    ``staf synth`` stopped in its first sequence ended with the bar before this was done)."""
    import staf.cli
    from tqdm import tqdm

    from staf.errors import StafError

    def stopped_in_a_bar(args):
        bar = tqdm(total=10, desc="work", file=sys.stderr)
        bar.update(3)
        raise KeyboardInterrupt if stop == "KeyboardInterrupt" else StafError("the input went away")

    monkeypatch.setattr(staf.cli, "run_info", stopped_in_a_bar)
    status = staf.cli.main(["info"])
    lines = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()
    assert status == (130 if stop == "KeyboardInterrupt" else 2), lines
    assert ("interrupted; nothing half-written" if stop == "KeyboardInterrupt" else "error: the input went away") \
        in lines[-1], lines
    assert any("work:" in line and "3/10" in line for line in lines[:-1]), lines
