"""``staf eval --data lsp``: the LSP layout is read (npy and mat), PCK and distances equal a numpy
re-computation of the official crop camera and of the least-squares camera, bad labels are refused."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import scipy.io
import torch

from staf.cli import main
from staf.data.lsp import read_lsp
from staf.errors import MalformedFileError, MissingAssetError
from staf.models import SequenceInput, build_model
from staf.models.checkpoint import save_checkpoint

SIZES = [(160, 120), (150, 200), (180, 180), (140, 100)]      # (width, height) of the images


@pytest.fixture(scope="module")
def lsp_folder(tmp_path_factory):
    """Four noise images of different sizes and random labels inside them (joints.npy)."""
    root = tmp_path_factory.mktemp("lsp")
    (root / "images").mkdir()
    rng = np.random.default_rng(3)
    labels = []
    for index, (width, height) in enumerate(SIZES):
        image = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
        cv2.imwrite(str(root / "images" / f"im{index + 1:04d}.jpg"), image)
        joints = np.stack([rng.uniform(10, width - 10, 14), rng.uniform(10, height - 10, 14), rng.integers(0, 2, 14)], 1)
        labels.append(joints)
    np.save(root / "joints.npy", np.asarray(labels, np.float32))
    return root


def _official_projection(points: np.ndarray, cam: np.ndarray, squares: np.ndarray) -> np.ndarray:
    """float64 numpy: the official crop camera (f = 5000 on 224 px), then crop → image pixels."""
    depth = 2 * 5000.0 / (224.0 * cam[:, None, 0:1])
    crop = 5000.0 * (points[..., :2] + cam[:, None, 1:]) / (points[..., 2:3] + depth) / 112.0
    return squares[:, None, :2] + crop * squares[:, None, 2:3] / 2


def _expected_rows(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    side = (labels.max(1) - labels.min(1)).max(1)
    distance = np.sqrt(((predicted - labels) ** 2).sum(-1)) / side[:, None]
    rows = {}
    for name, joints in (("12", slice(0, 12)), ("14", slice(0, 14))):
        rows[f"pck@0.1_{name}"] = np.mean(distance[:, joints] <= 0.1)
        rows[f"pck@0.2_{name}"] = np.mean(distance[:, joints] <= 0.2)
        rows[f"distance_{name}"] = distance[:, joints].mean()
    return rows


def _squares(labels: np.ndarray, scale: float) -> np.ndarray:
    low, high = labels.min(1), labels.max(1)
    return np.concatenate([(low + high) / 2, (high - low).max(1, keepdims=True) * scale], axis=1)


def test_mean_pose_and_fitted_camera_rows_equal_a_numpy_recomputation(lsp_folder, body, tmp_path):
    out = tmp_path / "eval"
    assert main(["eval", "--mean-pose", "--data", "lsp", "--data-root", str(lsp_folder), "--out", str(out)]) == 0
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    labels = np.load(lsp_folder / "joints.npy")[..., :2].astype(np.float64)
    model = build_model("mean-pose", {}, body)
    mean = model.predict_body(model.init_pose[None], model.init_shape[None], model.init_cam[None])
    joints = mean.joint_sets["lsp14"].double().numpy().repeat(len(labels), 0)
    cam = model.init_cam.double().numpy()[None].repeat(len(labels), 0)
    projected = _official_projection(joints, cam, _squares(labels, 1.3))
    for key, value in _expected_rows(labels, projected).items():
        assert rows["mean-pose baseline"][key] == pytest.approx(value, abs=1e-6), key
    assert list(rows) == ["mean-pose baseline", "camera fitted to the labels"]      # no second mean-pose row
    fitted = np.empty_like(labels)
    for row in range(len(labels)):                     # least squares: [x, 1] · [scale, t] per axis, shared scale
        design = np.zeros((28, 3))
        design[:14, 0], design[14:, 0] = joints[row, :, 0], joints[row, :, 1]
        design[:14, 1], design[14:, 2] = 1.0, 1.0
        solution = np.linalg.lstsq(design, np.concatenate([labels[row, :, 0], labels[row, :, 1]]), rcond=None)[0]
        fitted[row] = joints[row, :, :2] * solution[0] + solution[1:]
    for key, value in _expected_rows(labels, fitted).items():
        assert rows["camera fitted to the labels"][key] == pytest.approx(value, abs=1e-6), key
    lines = (out / "per_image.csv").read_text().splitlines()
    assert lines[0].startswith("image,Right Ankle,Right Knee") and lines[1].startswith("im0001.jpg,") and len(lines) == 5


def test_the_models_row_is_the_model_run_on_the_label_boxes(lsp_folder, body, tiny_staf_config, tmp_path):
    from staf.data.crops import crop_antialiased, normalise, read_image

    torch.manual_seed(1)
    model = build_model("staf", tiny_staf_config, body).eval()
    save_checkpoint(tmp_path / "tiny.pt", model)
    scipy.io.savemat(tmp_path / "joints.mat", {"joints": np.load(lsp_folder / "joints.npy").transpose(2, 1, 0)})
    mat_folder = tmp_path / "mat"
    mat_folder.mkdir()
    (mat_folder / "images").symlink_to(lsp_folder / "images")
    (tmp_path / "joints.mat").rename(mat_folder / "joints.mat")
    for folder, out in ((lsp_folder, tmp_path / "npy-eval"), (mat_folder, tmp_path / "mat-eval")):
        assert main(["eval", "--checkpoint", str(tmp_path / "tiny.pt"), "--data", "lsp", "--data-root", str(folder),
                     "--out", str(out)]) == 0
    rows = json.loads((tmp_path / "npy-eval" / "metrics.json").read_text())["rows"]
    assert rows == json.loads((tmp_path / "mat-eval" / "metrics.json").read_text())["rows"]   # npy = mat
    labels = np.load(lsp_folder / "joints.npy")[..., :2].astype(np.float64)
    squares = _squares(labels, 1.3)
    predicted = []
    for index, square in enumerate(squares):
        image = read_image(lsp_folder / "images" / f"im{index + 1:04d}.jpg")
        crops = normalise(crop_antialiased(image, square, tiny_staf_config.image_size)[None])
        out = model.predict_sequence(SequenceInput(crops=crops))
        predicted.append(_official_projection(out.joint_sets["lsp14"].double().numpy(), out.cam.double().numpy(),
                                              square[None])[0])
    for key, value in _expected_rows(labels, np.asarray(predicted)).items():
        assert rows[str(tmp_path / "tiny.pt")][key] == pytest.approx(value, abs=1e-4), key


@pytest.mark.parametrize("content, message", [
    ({"joints": np.zeros((2, 14, 4))}, r"'joints' has shape \(2, 14, 4\); expected 3 × 14 × N"),
    ({"joints": np.zeros((3, 14, 0))}, r"joints of shape \(0, 14, 3\)"),
    ({"points": np.zeros((3, 14, 4))}, "holds no array 'joints' \\(found: points\\)"),
    ({"joints": np.full((3, 14, 4), np.nan)}, r"joints of image\(s\) \[1, 2, 3, 4\] are not finite"),
])
def test_malformed_joints_mat_is_refused(lsp_folder, tmp_path, content, message):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "images").symlink_to(lsp_folder / "images")
    scipy.io.savemat(folder / "joints.mat", content)
    with pytest.raises(MalformedFileError, match=message):
        read_lsp(folder)


def test_unreadable_labels_and_missing_images_are_refused(lsp_folder, tmp_path, capsys):
    folder = tmp_path / "broken"
    (folder / "images").mkdir(parents=True)
    (folder / "joints.mat").write_text("not a mat file")
    status = main(["eval", "--mean-pose", "--data", "lsp", "--data-root", str(folder), "--out", str(tmp_path / "o")])
    assert status == 2 and "joints.mat: not a MATLAB file scipy can read" in capsys.readouterr().err
    (folder / "joints.mat").unlink()
    np.save(folder / "joints.npy", np.zeros((3, 14, 3)))
    with pytest.raises(MissingAssetError, match="the labels have 3 rows but .* holds 0 images"):
        read_lsp(folder)
    status = main(["eval", "--mean-pose", "--data", "lsp", "--out", str(tmp_path / "o")])
    assert status == 2 and "--data lsp needs --data-root DIR" in capsys.readouterr().err
    assert read_lsp(lsp_folder).joints.shape == (4, 14, 2)


def test_joint_box_ratio_of_known_boxes():
    """scripts/joint_box_ratio.py: boxes 1.1× and 1.25× the joint box, centres shifted by a known
    fraction, give those ratios and offsets back."""
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "joint_box_ratio.py"
    spec = importlib.util.spec_from_file_location("joint_box_ratio", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    joints = np.zeros((2, 49, 3))
    joints[:, :, :2] = rng.uniform(40, 60, (2, 49, 2))                       # other joints inside
    joints[:, 25:39, 0], joints[:, 25:39, 1] = rng.uniform(20, 80, (2, 14)), rng.uniform(35, 65, (2, 14))
    joints[:, 25, :2], joints[:, 26, :2] = (10, 30), (90, 70)                 # joint box x 10-90, y 30-70
    bbox = np.array([[50 + 4, 50 + 8, 40, 88], [50, 50 - 16, 100, 20]])       # longer sides 88 and 100
    ratio, offset = module.box_ratio({"joints2D": joints, "bbox": bbox})
    np.testing.assert_allclose(ratio, [1.1, 1.25])
    np.testing.assert_allclose(offset, [[0.05, 0.1], [0.0, -0.2]])
