"""Writes that fail for a reason of the output's place (a full disk, a folder in the way) end in
one clear message and leave nothing half-written (``staf.io.atomic_write``, ``staf.outputs``),
and ``staf eval`` / ``staf synth`` follow the overwrite rule of ``staf demo``."""

from __future__ import annotations

import errno
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from staf.cli import main
from staf.errors import InvalidInputError
from staf.io import OutputError, atomic_write, atomic_write_text
from staf.outputs import OutputRule


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (the suite runs as root; skipped where mounting is not allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.parametrize("writer", ["text", "npz", "torch"])
def test_a_full_disk_is_one_clear_error_and_leaves_nothing(small_disk, writer):
    (small_disk / "kept.txt").write_text("the user's")
    write = {"text": lambda path: atomic_write_text(path, "x" * 200_000),
             "npz": lambda path: atomic_write(path, lambda h: np.savez(h, a=np.zeros(50_000))),
             "torch": lambda path: atomic_write(path, lambda h: torch.save({"w": torch.zeros(50_000)}, h))}[writer]
    with pytest.raises(OutputError, match=r"cannot write .*out\.bin: the disk is full"):
        write(small_disk / "out.bin")
    assert files(small_disk) == {"kept.txt": b"the user's"}           # no partial file under either name


def test_a_short_write_reported_by_torch_is_a_full_disk_when_the_disk_is(tmp_path, monkeypatch):
    """torch's zip writer turns ENOSPC into RuntimeError('... unexpected pos ...')."""
    def short_write(handle):
        handle.write(b"PK")
        raise RuntimeError("[enforce fail at inline_container.cc:778] . PytorchStreamWriter failed writing file "
                           "data/0: file write failed, unexpected pos 64 vs 0")
    monkeypatch.setattr("staf.io._disk_full", lambda folder: True)
    with pytest.raises(OutputError, match="the disk is full"):
        atomic_write(tmp_path / "last.pt", short_write)
    monkeypatch.setattr("staf.io._disk_full", lambda folder: False)
    with pytest.raises(RuntimeError, match="unexpected pos"):          # not the disk: a defect, kept as one
        atomic_write(tmp_path / "last.pt", short_write)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("code, advice", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"),
                                          (errno.EDQUOT, "quota"), (errno.EACCES, "permission denied")])
def test_each_write_failure_names_the_file_and_what_to_do(tmp_path, monkeypatch, code, advice):
    def fail(descriptor):
        raise OSError(code, "from the kernel")
    monkeypatch.setattr("os.fsync", fail)
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'report.json'}: .*{advice}"):
        atomic_write_text(tmp_path / "report.json", "{}")
    assert not list(tmp_path.iterdir())


def test_a_folder_where_the_file_goes_is_one_clear_error(tmp_path):
    (tmp_path / "metrics.json").mkdir()
    with pytest.raises(OutputError, match="a folder is in the way"):
        atomic_write_text(tmp_path / "metrics.json", "{}")
    assert (tmp_path / "metrics.json").is_dir() and len(list(tmp_path.iterdir())) == 1


def test_a_folder_under_an_output_name_is_refused_before_any_work(tmp_path):
    rule = OutputRule("m.json", ".partial", __import__("re").compile(r"metrics\.json|m\.json"))
    (tmp_path / "metrics.json").mkdir()
    with pytest.raises(InvalidInputError, match=r"holds a folder where staf writes a file \(metrics\.json\)"):
        rule.prepare(tmp_path, force=True)
    assert not (tmp_path / ".partial").exists()


def test_a_stale_staging_folder_with_folders_in_it_is_cleared(tmp_path):
    rule = OutputRule("m.json", ".partial", __import__("re").compile(r"a\.bin|m\.json"))
    (tmp_path / ".partial" / "a.bin").mkdir(parents=True)            # left by a killed run
    staging = rule.prepare(tmp_path, force=False)
    (staging / "a.bin").write_text("new")
    rule.publish(staging, tmp_path, ["a.bin"])
    assert files(tmp_path) == {"a.bin": b"new"}


def test_the_command_line_reports_a_full_disk_from_any_writer(tmp_path, capsys, monkeypatch):
    """A write outside atomic_write (the video muxer, tensorboard) that hits a full disk is one
    line and exit 2, not an internal error."""
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "b.obj"))
    monkeypatch.setattr("staf.body.posing.write_posed_body", full)
    status = main(["body", "--out", str(tmp_path / "b.obj")])
    error = capsys.readouterr().err.strip()
    assert status == 2 and error.count("\n") == 0, error
    assert f"cannot write {tmp_path / 'b.obj'}: the disk is full" in error


# ---------------------------------------------------------------- staf eval and staf synth under the rule

@pytest.fixture(scope="module")
def synth_db(tmp_path_factory):
    from staf.data.synthetic import SynthConfig, synthesize

    root = tmp_path_factory.mktemp("eval_data")
    return synthesize(SynthConfig(sequences=1, frames=6, size=48, crop_size=48, seed=3), root, progress=False)


def eval_argv(db: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--data", str(db), "--image-root", str(db.parent), "--mean-pose", "--out", str(out), *extra]


def test_eval_twice_keeps_the_first_report_unless_forced(synth_db, tmp_path, capsys):
    out = tmp_path / "report"
    assert main(eval_argv(synth_db, out)) == 0
    first = files(out)
    assert set(first) == {"metrics.json", "per_sequence.csv", "accel_worst.png", "staf_eval.json"}
    assert json.loads(first["staf_eval.json"])["files"] == ["metrics.json", "per_sequence.csv", "accel_worst.png"]
    capsys.readouterr()
    assert main(eval_argv(synth_db, out)) == 2
    assert "already holds results (accel_worst.png, metrics.json" in capsys.readouterr().err
    assert files(out) == first
    (out / "notes.txt").write_text("the user's")
    assert main(eval_argv(synth_db, out, "--force")) == 0
    assert (out / "notes.txt").read_text() == "the user's" and set(files(out)) == {*first, "notes.txt"}


def test_eval_refuses_a_users_metrics_json_even_then_keeps_it(synth_db, tmp_path, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "metrics.json").write_text("the user's own numbers")
    assert main(eval_argv(synth_db, out)) == 2
    assert "holds files staf did not write there (metrics.json)" in capsys.readouterr().err
    assert files(out) == {"metrics.json": b"the user's own numbers"}


def test_an_interrupted_eval_leaves_out_as_it_was(synth_db, tmp_path, monkeypatch):
    out = tmp_path / "report"
    assert main(eval_argv(synth_db, out)) == 0
    before = files(out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("staf.evaluation.evaluate._plot_worst", interrupted)     # after metrics.json is staged
    assert main(eval_argv(synth_db, out, "--force")) == 130
    assert files(out) == before and not (out / ".staf-eval.partial").exists()


def synth_argv(out: Path, *extra: str) -> list[str]:
    return ["synth", "--out", str(out), "--sequences", "1", "--frames", "3", "--size", "32", "--crop-size", "32",
            "--quiet", *extra]


@pytest.mark.parametrize("user_file", ["preview.png", "synth_train_db.pt", "seq_0000/frames/000000.jpg"])
def test_synth_refuses_a_users_file_under_its_names(tmp_path, capsys, user_file):
    out = tmp_path / "synth"
    (out / user_file).parent.mkdir(parents=True)
    (out / user_file).write_bytes(b"the user's")
    assert main(synth_argv(out, "--preview")) == 2
    assert f"holds files staf did not write there ({user_file})" in capsys.readouterr().err
    assert files(out) == {user_file: b"the user's"}
    assert main(synth_argv(out, "--preview", "--force")) == 0
    assert (out / user_file).read_bytes() != b"the user's"


def test_synth_resumes_and_replaces_only_what_it_wrote(tmp_path, capsys):
    out = tmp_path / "synth"
    assert main(synth_argv(out, "--preview")) == 0
    record = json.loads((out / "synth_config.json").read_text())
    assert record["files"] == ["preview.png", "synth_train_db.pt"]
    assert main(synth_argv(out, "--preview")) == 0                     # staf's own folder: resumed, no --force
    (out / "preview.png").unlink()
    (out / "notes.txt").write_text("the user's")
    assert main(synth_argv(out, "--preview")) == 0
    assert (out / "notes.txt").read_text() == "the user's"
    assert json.loads((out / "synth_config.json").read_text())["files"] == ["preview.png", "synth_train_db.pt"]
    assert (out / "preview.png").is_file()                            # --preview again: listed, so replaced


def test_synth_never_writes_into_its_backgrounds(tmp_path, capsys):
    backgrounds = tmp_path / "photos"
    backgrounds.mkdir()
    (backgrounds / "a.jpg").write_bytes(b"\xff\xd8")
    assert main(synth_argv(backgrounds, "--backgrounds", str(backgrounds))) == 2
    assert "is the input folder" in capsys.readouterr().err
    assert files(backgrounds) == {"a.jpg": b"\xff\xd8"}


def test_a_stop_signal_during_a_write_is_held_until_the_file_is_whole(tmp_path):
    """SIGTERM arriving inside ``torch.save`` (as when ``staf train`` is stopped while it writes
    last.pt) is handled after the file is complete: the checkpoint loads, the stop still happens."""
    import os
    import signal

    import torch

    from staf.io import atomic_write, deferrable

    class Stop(BaseException):
        pass

    def stop(number, frame):
        raise Stop

    previous = signal.signal(signal.SIGTERM, deferrable(stop))           # as staf's commands install it
    try:
        def write(handle):
            os.kill(os.getpid(), signal.SIGTERM)                     # arrives mid-write
            torch.save({"weights": torch.arange(100_000.0)}, handle)

        with pytest.raises(Stop):
            atomic_write(tmp_path / "last.pt", write)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["weights"][-1] == 99_999
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
