"""db files in the VIBE/TCMR/STAF format, and `staf eval` end to end on tiny generated data."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from staf.body import BodyModel
from staf.cli import main
from staf.data.db import read_db, split_sequences, write_db
from staf.errors import MalformedFileError, UnsafeFileError
from staf.models import STAF, STAFConfig
from staf.models.checkpoint import save_checkpoint


def make_db(folder, joints: int, lengths=(6, 4), with_smpl=True, seed=0) -> dict:
    """A db like the preprocessed files, with real PNG frames under folder/images."""
    import cv2

    rng = np.random.default_rng(seed)
    names, frame_ids, images = [], [], []
    for index, length in enumerate(lengths):
        for frame in range(length):
            relative = f"seq{index}/image_{frame:05d}.png"
            (folder / "images" / f"seq{index}").mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / "images" / relative), rng.integers(0, 255, (80, 100, 3), dtype=np.uint8))
            names.append(f"seq{index}")
            frame_ids.append(frame)
            images.append(relative)
    total = len(names)
    data = {
        "vid_name": np.array(names), "frame_id": np.array(frame_ids), "img_name": np.array(images),
        "joints3D": rng.normal(0, 0.3, (total, joints, 3)), "joints2D": rng.normal(50, 10, (total, 49, 3)),
        "bbox": np.tile([50.0, 40.0, 40.0, 60.0], (total, 1)), "features": rng.normal(size=(total, 2048)),
        "valid": np.ones(total), "valid_i": np.ones(total),
    }
    if with_smpl:
        data["pose"] = rng.normal(0, 0.2, (total, 72))
        data["shape"] = rng.normal(0, 1, (total, 10))
    return data


@pytest.mark.parametrize("joints", [14, 49])
def test_db_files_round_trip(tmp_path, joints):
    data = make_db(tmp_path, joints)
    write_db(tmp_path / "x_db.pt", data)
    back = read_db(tmp_path / "x_db.pt")
    assert set(back) == set(data)
    for key in data:
        np.testing.assert_array_equal(back[key], data[key])
    assert [(s.name, len(s)) for s in split_sequences(back)] == [("seq0", 6), ("seq1", 4)]


def test_sequences_split_by_name_and_optionally_at_frame_gaps():
    data = {"vid_name": np.array(["a"] * 5 + ["b"] * 2 + ["a"]), "frame_id": np.array([0, 1, 2, 7, 8, 0, 1, 9])}
    assert [(s.name, s.rows.tolist()) for s in split_sequences(data)] == [("a", [0, 1, 2, 3, 4]), ("b", [5, 6]),
                                                                          ("a#2", [7])]
    assert [(s.name, s.rows.tolist()) for s in split_sequences(data, at_gaps=True)] == [
        ("a", [0, 1, 2]), ("a#2", [3, 4]), ("b", [5, 6]), ("a#3", [7])]


def test_malformed_db_files_are_described(tmp_path):
    import joblib

    data = make_db(tmp_path, 14)
    bad = dict(data, pose=data["pose"][:, :69])
    joblib.dump(bad, tmp_path / "bad_db.pt")
    with pytest.raises(MalformedFileError, match=r"'pose' has shape \(10, 69\), expected \(N, 72\)"):
        read_db(tmp_path / "bad_db.pt")
    short = dict(data, bbox=data["bbox"][:7])
    del short["img_name"]
    joblib.dump(short, tmp_path / "short_db.pt")
    with pytest.raises(MalformedFileError, match=r"missing key 'img_name'.*bbox 7"):
        read_db(tmp_path / "short_db.pt")
    (tmp_path / "text_db.pt").write_text("not a db")
    with pytest.raises(MalformedFileError, match="not a readable joblib file"):
        read_db(tmp_path / "text_db.pt")


def test_db_file_with_code_is_refused(tmp_path):
    import os

    import joblib

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo owned > owned.txt",))

    joblib.dump({"vid_name": np.array([Evil()], dtype=object)}, tmp_path / "evil_db.pt")
    with pytest.raises(UnsafeFileError):
        read_db(tmp_path / "evil_db.pt")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("ckpt")
    model = STAF(STAFConfig(backbone="resnet18", image_size=64), BodyModel.load())
    save_checkpoint(folder / "tiny.pt", model)
    return folder / "tiny.pt"


@pytest.mark.parametrize("name, joints, pve", [("3dpw_test_db.pt", 14, False), ("mpii3d_test_db.pt", 49, False),
                                               ("synth_test_db.pt", 49, True)])
def test_staf_eval_end_to_end(tmp_path, tiny_checkpoint, capsys, name, joints, pve):
    write_db(tmp_path / name, make_db(tmp_path, joints))
    out = tmp_path / "report"
    status = main(["eval", "--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path / name),
                   "--image-root", str(tmp_path / "images"), "--out", str(out)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "PA-MPJPE" in printed and "2 sequences, 10 frames" in printed
    report = json.loads((out / "metrics.json").read_text())
    assert report["metrics"]["mpjpe"] > 0 and report["metrics"]["accel"] >= 0
    assert (report["metrics"]["pve"] is not None) == pve
    rows = list(csv.DictReader((out / "per_sequence.csv").open()))
    assert [row["sequence"] for row in rows] == ["seq0", "seq1"]
    frames = np.array([float(row["evaluated"]) for row in rows])
    assert np.isclose(np.average([float(r["mpjpe"]) for r in rows], weights=frames), report["metrics"]["mpjpe"], atol=1e-3)
    assert (out / "accel_worst.png").stat().st_size > 1000


def test_staf_eval_reports_missing_images_and_data(tmp_path, tiny_checkpoint, capsys, monkeypatch):
    write_db(tmp_path / "3dpw_test_db.pt", make_db(tmp_path, 14))
    assert main(["eval", "--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path / "3dpw_test_db.pt"),
                 "--out", str(tmp_path / "r")]) == 2
    assert "--image-root" in capsys.readouterr().err
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--checkpoint", str(tiny_checkpoint), "--data", "3dpw", "--data-root", str(tmp_path / "none")]) == 2
    assert "3dpw_test_db.pt (3DPW, split 'test') was not found" in capsys.readouterr().err


def test_mean_pose_baseline_predicts_the_mean_for_every_frame(tmp_path, capsys):
    from staf.models import SequenceInput, build_model

    write_db(tmp_path / "synth_test_db.pt", make_db(tmp_path, 49))
    assert main(["eval", "--mean-pose", "--data", str(tmp_path / "synth_test_db.pt"), "--image-root",
                 str(tmp_path / "images"), "--out", str(tmp_path / "r")]) == 0
    assert "mean-pose baseline" in capsys.readouterr().out
    body = BodyModel.load()
    model = build_model("mean-pose", {}, body).eval()
    out = model(torch.randn(2, 1, 3, 64, 64))
    assert torch.allclose(out.final.pose_6d, body.mean_pose_6d.float().expand(2, -1))
    per_frame = model.predict_sequence(SequenceInput(crops=torch.randn(5, 3, 64, 64)))
    assert torch.equal(per_frame.betas, body.mean_shape.float().expand(5, -1))
    rest = body(torch.zeros(1, 72))  # the mean pose is not the rest pose: the baseline is not trivial
    assert (per_frame.joints[:1] - rest.joints).abs().max() > 0.05
    assert main(["eval", "--data", str(tmp_path / "synth_test_db.pt")]) == 2
