"""The overwrite rule of ``staf demo``'s output folder (``staf.inference.output``): only files staf
wrote there before (manifest and name) are replaced; a user's file under an output name needs
``--force``; an input is never written over; ``--force`` never deletes a name staf does not write."""

from __future__ import annotations

import json

import pytest

from staf.errors import InvalidInputError
from staf.inference.output import MANIFEST, PARTIAL, is_output_name, prepare_output, publish


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def earlier_run(out, files):
    out.mkdir(parents=True, exist_ok=True)
    for name in files:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(f"staf wrote {name}")
    (out / MANIFEST).write_text(json.dumps({"files": [*files, MANIFEST]}))


def new_run(out, force, files, video=None):
    staging = prepare_output(out, force, video)
    for name in files:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_text(f"new {name}")
    publish(staging, out, files)


@pytest.mark.parametrize("name, produced", [("track_0.glb", True), ("track_12.bvh", True), ("staf_output.npz", True),
                                            ("meshes/track_0/frame_000003.obj", True), ("trajectory.png", True),
                                            ("trajectory.jpg", False), ("notes.txt", False),
                                            ("track_a.glb", False), ("../staf_output.pkl", False),
                                            ("meshes/track_0/../../x.obj", False)])
def test_output_names(name, produced):
    assert is_output_name(name) == produced


@pytest.mark.parametrize("user_file", ["track_0.glb", "meshes/track_0/frame_000000.obj", "overlay.mp4",
                                       "trajectory.png"])
def test_a_users_file_under_an_output_name_is_refused_without_force(tmp_path, user_file):
    out = tmp_path / "out"
    (out / user_file).parent.mkdir(parents=True)
    (out / user_file).write_text("the user's")
    before = snapshot(out)
    with pytest.raises(InvalidInputError, match="holds files staf did not write there.*--force"):
        prepare_output(out, force=False)
    assert snapshot(out) == before and not (out / PARTIAL).exists()
    new_run(out, True, ["staf_output.pkl", MANIFEST])                 # --force: the user asked for it
    assert (out / "staf_output.pkl").read_text() == "new staf_output.pkl"


def test_results_of_an_earlier_run_need_force_and_are_replaced(tmp_path):
    out = tmp_path / "out"
    earlier_run(out, ["staf_output.pkl", "track_0.glb", "track_1.glb"])
    (out / "notes.txt").write_text("the user's")
    with pytest.raises(InvalidInputError, match="already holds results"):
        prepare_output(out, force=False)
    new_run(out, True, ["staf_output.pkl", "track_0.glb", MANIFEST])
    assert (out / "track_0.glb").read_text() == "new track_0.glb"
    assert not (out / "track_1.glb").exists()                         # the earlier run's, listed: removed
    assert (out / "notes.txt").read_text() == "the user's"


def test_force_never_deletes_a_name_staf_does_not_write_even_if_listed(tmp_path):
    out = tmp_path / "out"
    earlier_run(out, ["staf_output.pkl"])
    (out / "notes.txt").write_text("the user's")
    (tmp_path / "outside.txt").write_text("the user's")
    manifest = json.loads((out / MANIFEST).read_text())
    manifest["files"] += ["notes.txt", "../outside.txt", 5]           # edited, or damaged
    (out / MANIFEST).write_text(json.dumps(manifest))
    new_run(out, True, ["staf_output.npz", MANIFEST])
    assert (out / "notes.txt").read_text() == "the user's" and (tmp_path / "outside.txt").read_text() == "the user's"
    assert not (out / "staf_output.pkl").exists() and (out / "staf_output.npz").exists()


@pytest.mark.parametrize("force", [False, True])
def test_the_input_is_never_written_over(tmp_path, force):
    out = tmp_path / "d"
    out.mkdir()
    (out / "overlay.mp4").write_bytes(b"the user's video")
    with pytest.raises(InvalidInputError, match="over the input "):
        prepare_output(out, force, out / "overlay.mp4")
    frames = tmp_path / "frames"
    frames.mkdir()
    for target in (frames, frames / "results"):
        with pytest.raises(InvalidInputError, match="is the input folder"):
            prepare_output(target, force, frames)
    assert (out / "overlay.mp4").read_bytes() == b"the user's video" and not (out / PARTIAL).exists()
    assert list(frames.iterdir()) == []


def test_an_empty_or_too_long_out_is_one_clear_error(tmp_path, capsys):
    from staf.cli import main

    for command in (["demo", str(tmp_path)], ["synth"], ["eval", "--mean-pose", "--data", "3dpw"]):
        assert main([*command, "--out", ""]) == 2
        assert capsys.readouterr().err.strip().endswith("error: --out is empty; give a folder")
    with pytest.raises(InvalidInputError, match="cannot write there"):
        prepare_output(tmp_path / ("x" * 300), False)
