"""The `staf` command line: info, body, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import trimesh

from staf.body.assets import BASE_DATA_ENV
from staf.cli import main


def test_info_reports_the_bundled_model_and_base_data_search(tmp_path, capsys, base_data, monkeypatch):
    folder, _ = base_data
    monkeypatch.delenv(BASE_DATA_ENV, raising=False)
    assert main(["info", "--json", "--base-data", str(folder)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["open_body_model"]["found"] and info["open_body_model"]["vertices"] == 13718
    assert "cpu" in info["devices"]
    first = info["base_data_folders"][0]
    assert first["folder"] == str(folder.resolve())
    assert "SMPL_NEUTRAL.pkl" in first["found"] and "J_regressor_h36m.npy" in first["found"]
    assert main(["info"]) == 0
    assert "body model 'open' (bundled)" in capsys.readouterr().out


def test_body_writes_a_mesh_and_joints(tmp_path):
    pose = np.zeros(72)
    pose[16 * 3 + 2] = -1.0  # left shoulder down
    np.save(tmp_path / "pose.npy", pose)
    out = tmp_path / "mesh" / "body.ply"
    assert main(["body", "--pose", str(tmp_path / "pose.npy"), "--betas", "1.5", "-1", "--out", str(out)]) == 0
    mesh = trimesh.load(out, process=False)
    assert mesh.vertices.shape == (13718, 3)
    joints = json.loads(out.with_suffix(".joints.json").read_text())
    assert joints["betas"][:2] == [1.5, -1.0] and len(joints["spin49"]) == 49
    left_wrist, left_shoulder = np.array(joints["smpl24"][20]), np.array(joints["smpl24"][16])
    assert left_wrist[1] < left_shoulder[1] - 0.2  # the arm was lowered
    import torch

    from staf.body import BodyModel

    betas = torch.zeros(1, 10, dtype=torch.float64)
    betas[0, :2] = torch.tensor([1.5, -1.0])
    direct = BodyModel.load(dtype=torch.float64)(torch.tensor(pose)[None], betas).vertices[0].numpy()
    assert np.abs(mesh.vertices - direct).max() < 1e-5


@pytest.mark.parametrize("arguments, message", [
    (["body", "--pose", "missing.npy"], "no such file"),
    (["body", "--betas"] + ["0"] * 11, "has 10"),
    (["body", "--out", "body.txt"], ".obj, .ply"),
    (["body", "--body-model", "nothing.pkl"], "neither 'open', 'smpl' nor an existing file"),
])
def test_bad_input_exits_2_with_a_message(arguments, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(arguments) == 2
    assert message in capsys.readouterr().err


def test_bad_pose_file_length_is_reported(tmp_path, capsys):
    np.save(tmp_path / "short.npy", np.zeros(69))
    assert main(["body", "--pose", str(tmp_path / "short.npy"), "--out", str(tmp_path / "b.obj")]) == 2
    assert "expected 72" in capsys.readouterr().err


def test_console_module_runs():
    result = subprocess.run([sys.executable, "-m", "staf", "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("staf ")
