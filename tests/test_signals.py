"""SIGTERM, SIGHUP and SIGINT stop ``staf demo`` as Ctrl-C does: exit 128 + the signal's number,
one line on stderr, no traceback, and nothing half-written (no ``.staf-demo.partial``, the
output folder as it was)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from staf.data.synthetic import SynthConfig, synthesize


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    synthesize(SynthConfig(sequences=1, frames=48, size=160, seed=3, split="signals"), root, progress=False)
    return root / "seq_0000" / "frames"


def _default_sigint():
    """In the child, before exec: SIGINT back to its default. A shell starts background jobs (``cmd &``,
    ``nohup``) with SIGINT ignored, which the child would inherit, and Python then rightly leaves
    Ctrl-C ignored; the test is about a process that can be interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def snapshot(folder):
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("name, status", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_demo_stopped_by_a_signal_leaves_nothing(frames, tmp_path, name, status):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    before = snapshot(out)
    process = subprocess.Popen([sys.executable, "-m", "staf", "demo", str(frames), "--mean-pose", "--out", str(out),
                                "--quiet", "--min-track-length", "3"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while not (out / ".staf-demo.partial").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the demo ended before it could be stopped"
    time.sleep(0.5)                                  # inside the work, not at its first line
    process.send_signal(getattr(signal, name))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert "nothing half-written was kept" in stderr
    assert snapshot(out) == before and not (out / ".staf-demo.partial").exists()
