"""The peers' real preprocessed db files: fixtures written with the dtypes, shapes and naming of
VIBE/TCMR's preprocessing scripts (``lib/data_utils/{mpii3d,h36m,threedpw}_utils.py``), read,
split and evaluated; each ``--match`` preset scores the documented number of frames."""

from __future__ import annotations

import dataclasses
import json

import joblib
import numpy as np
import pytest
import torch

from staf.body import BodyModel
from staf.cli import main
from staf.data.db import frame_numbers, read_db, split_sequences
from staf.errors import MalformedFileError
from staf.models import STAF, STAFConfig
from staf.models.checkpoint import save_checkpoint


def _images(root, relative_paths, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    for relative in relative_paths:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), rng.integers(0, 255, (72, 96, 3), dtype=np.uint8))


def peer_3dpw(folder):
    """As threedpw_utils.read_data writes 3dpw_test_db.pt: per person ``{seq}_{p_id}``, int frame
    ids from ``arange``, rows with too few visible keypoints removed (gaps), ``valid`` the bool
    ``campose_valid``, float32 joints from torch, 14 LSP joints."""
    rng = np.random.default_rng(1)
    rows = {"vid_name": [], "frame_id": [], "img_name": [], "valid": []}
    kept = {"downtown_walking_00": np.r_[0:12, 15:33], "flat_guitar_01": np.arange(12)}   # 30 and 12 rows
    invalid = {"downtown_walking_00": {3, 4, 20, 21, 22}}
    for seq, frames in kept.items():
        for frame in frames:
            rows["vid_name"].append(f"{seq}_0")
            rows["frame_id"].append(frame)
            rows["img_name"].append(f"/data/3dpw/imageFiles/{seq}/image_{frame:05d}.jpg")
            rows["valid"].append(frame not in invalid.get(seq, set()))
    count = len(rows["vid_name"])
    db = {
        "vid_name": np.array(rows["vid_name"]), "frame_id": np.array(rows["frame_id"], dtype=np.int64),
        "joints3D": rng.normal(0, 0.3, (count, 14, 3)).astype(np.float32),
        "joints2D": np.abs(rng.normal(50, 10, (count, 14, 3))), "shape": rng.normal(0, 1, (count, 10)).astype(np.float32),
        "pose": rng.normal(0, 0.2, (count, 72)).astype(np.float32), "bbox": np.tile([48.0, 36.0, 40.0, 40.0], (count, 1)),
        "img_name": np.array(rows["img_name"]), "features": rng.normal(size=(count, 2048)).astype(np.float32),
        "valid": np.array(rows["valid"], dtype=bool),
    }
    _images(folder / "3dpw", [name.split("/data/3dpw/")[1] for name in rows["img_name"]])
    joblib.dump(db, folder / "3dpw_test_db.pt")
    return db


def peer_mpii3d(folder):
    """As mpii3d_utils.read_test_data writes mpii3d_val_scale12_db.pt: ``valid_i`` (N, 1) float64
    from h5py, ``frame_id`` strings ``img_000001``, a frame with a joint outside the image skipped
    and the video continued as ``subj1_seg1``; joints in the 49-joint SPIN order."""
    rng = np.random.default_rng(2)
    rows = {"vid_name": [], "frame_id": [], "img_name": [], "valid_i": []}
    layout = [("subj1_seg0", 1, range(1, 21)), ("subj1_seg1", 1, range(22, 34)), ("subj2_seg0", 2, range(1, 26))]
    for name, subject, frames in layout:
        for frame in frames:
            rows["vid_name"].append(name)
            rows["frame_id"].append(f"img_{frame:06d}")
            rows["img_name"].append(f"data/mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS{subject}/imageSequence/img_{frame:06d}.jpg")
            rows["valid_i"].append(np.array([0.0 if name == "subj1_seg0" and frame in (5, 6) else 1.0]))
    count = len(rows["vid_name"])
    db = {
        "vid_name": np.array(rows["vid_name"]), "frame_id": np.array(rows["frame_id"]),
        "joints3D": rng.normal(0, 0.3, (count, 49, 3)), "joints2D": np.abs(rng.normal(50, 10, (count, 49, 3))),
        "bbox": np.tile([48.0, 36.0, 40.0, 40.0], (count, 1)), "img_name": np.array(rows["img_name"]),
        "features": rng.normal(size=(count, 2048)).astype(np.float32), "valid_i": np.array(rows["valid_i"]),
    }
    _images(folder / "mpi_inf_3dhp", [name.split("data/mpi_inf_3dhp/")[1] for name in rows["img_name"]])
    joblib.dump(db, folder / "mpii3d_val_scale12_db.pt")
    return db


def peer_h36m(folder):
    """As h36m_utils.read_data_train writes the 25-fps test file: every second frame
    (``frame_id`` steps of 2), ``vid_name`` the image folder's path with the subject appended,
    zero pose/shape (nosmpl), no ``valid`` key."""
    rng = np.random.default_rng(3)
    rows = {"vid_name": [], "frame_id": [], "img_name": []}
    for seq, subject, length in (("s_09_act_02_subact_01_ca_04", 9, 40), ("s_11_act_03_subact_02_ca_04", 11, 68)):
        for frame in np.arange(0, length)[::2]:
            rows["vid_name"].append(f"data/h36m/images/{seq}_{subject}")
            rows["frame_id"].append(frame)
            rows["img_name"].append(f"data/h36m/images/{seq}/{seq}_{frame + 1:06d}.jpg")
    count = len(rows["vid_name"])
    db = {
        "vid_name": np.array(rows["vid_name"]), "frame_id": np.array(rows["frame_id"]),
        "joints3D": rng.normal(0, 0.3, (count, 49, 3)).astype(np.float32),
        "joints2D": np.abs(rng.normal(50, 10, (count, 49, 3))).astype(np.float32),
        "shape": np.zeros((count, 10), np.float32), "pose": np.zeros((count, 72), np.float32),
        "bbox": np.tile([48.0, 36.0, 40.0, 40.0], (count, 1)), "img_name": np.array(rows["img_name"]),
        "features": rng.normal(size=(count, 2048)).astype(np.float32),
    }
    _images(folder / "h36m", [name.split("data/h36m/")[1] for name in rows["img_name"]])
    joblib.dump(db, folder / "h36m_test_front_25fps_tight_nosmpl_db.pt")
    return db


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("peers")
    return folder, {"3dpw": peer_3dpw(folder), "mpii3d": peer_mpii3d(folder), "h36m": peer_h36m(folder)}


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, STAF(STAFConfig(backbone="resnet18", image_size=64), BodyModel.load()))
    return path


def test_peer_files_load_as_written(peers):
    folder, _ = peers
    mpii3d = read_db(folder / "mpii3d_val_scale12_db.pt")
    assert mpii3d["valid_i"].shape == (57,) and mpii3d["valid_i"].sum() == 55    # (N, 1) read as (N,)
    assert mpii3d["frame_id"][0] == "img_000001"
    assert frame_numbers(mpii3d["frame_id"])[[0, 20]].tolist() == [1, 22]
    assert read_db(folder / "3dpw_test_db.pt")["valid"].dtype == bool
    assert read_db(folder / "h36m_test_front_25fps_tight_nosmpl_db.pt")["frame_id"][:3].tolist() == [0, 2, 4]
    with pytest.raises(MalformedFileError, match="frame_id 'last' has no frame number"):
        frame_numbers(np.array(["img_000001", "last"]))


def test_peer_files_split_into_the_peers_sequences(peers):
    folder, dbs = peers
    by_name = {name: [(s.name, len(s)) for s in split_sequences(db)] for name, db in dbs.items()}
    assert by_name["mpii3d"] == [("subj1_seg0", 20), ("subj1_seg1", 12), ("subj2_seg0", 25)]
    assert by_name["h36m"] == [("data/h36m/images/s_09_act_02_subact_01_ca_04_9", 20),
                               ("data/h36m/images/s_11_act_03_subact_02_ca_04_11", 34)]
    assert by_name["3dpw"] == [("downtown_walking_00_0", 30), ("flat_guitar_01_0", 12)]
    # gap splitting is an option, relative to each video's own step: H36M's step of 2 is no gap
    at_gaps = {name: [len(s) for s in split_sequences(db, at_gaps=True)] for name, db in dbs.items()}
    assert at_gaps == {"mpii3d": [20, 12, 25], "h36m": [20, 34], "3dpw": [12, 18, 12]}


#: frames scored per preset on the 3DPW fixture (30 + 12 rows, 5 invalid in the first video)
EXPECTED_3DPW_FRAMES = {"staf": 37, "tcmr": 25, "vibe": 16, "staf-official": 42}


@pytest.mark.parametrize("match", list(EXPECTED_3DPW_FRAMES))
def test_match_presets_score_the_documented_frames_on_3dpw(tmp_path, peers, tiny_checkpoint, capsys, match):
    folder, _ = peers
    out = tmp_path / match
    assert main(["eval", "--checkpoint", str(tiny_checkpoint), "--data", "3dpw", "--data-root", str(folder),
                 "--image-root", str(folder / "3dpw"), "--out", str(out), "--match", match]) == 0
    report = json.loads((out / "metrics.json").read_text())
    assert report["metrics"]["frames"] == EXPECTED_3DPW_FRAMES[match]
    assert f"match preset '{match}'" in report["notes"]
    assert np.isfinite(report["metrics"]["accel"]) and report["metrics"]["mpjpe"] > 0
    capsys.readouterr()


@pytest.mark.slow  # 26 s on the 2-core AVX2 host; the 3DPW presets run by default
def test_match_presets_on_mpii3d_and_h36m_default_files(tmp_path, peers, tiny_checkpoint, capsys):
    folder, _ = peers

    def frames(data, root, match):
        out = tmp_path / f"{data}-{match}"
        assert main(["eval", "--checkpoint", str(tiny_checkpoint), "--data", data, "--data-root", str(folder),
                     "--image-root", str(folder / root), "--out", str(out), "--match", match]) == 0
        return json.loads((out / "metrics.json").read_text())["metrics"]["frames"]

    # MPI-INF-3DHP test = the peers' 'val' file (20 + 12 + 25 rows); valid_i masks 2 frames for
    # staf and tcmr, and tcmr skips the 12-frame segment; vibe: chunks of 16 (20 → 16, 12 → none,
    # 25 → 16), no mask; staf-official: no mask
    assert {m: frames("mpii3d", "mpi_inf_3dhp", m) for m in ("staf", "tcmr", "vibe", "staf-official")} == {
        "staf": 55, "tcmr": 43, "vibe": 32, "staf-official": 57}
    # Human3.6M (the front-camera file is found): tcmr keeps both videos (≥ 16 frames), vibe 16 + 32
    assert {m: frames("h36m", "h36m", m) for m in ("staf", "tcmr", "vibe")} == {"staf": 54, "tcmr": 54, "vibe": 48}
    capsys.readouterr()


def test_concatenated_accel_spans_sequences_and_per_sequence_accel_does_not():
    """Two sequences each moving at constant velocity (no acceleration error within either) but
    far apart: VIBE's / the official script's concatenated accel sees the jump between them."""
    from staf.evaluation import metrics
    from staf.evaluation.evaluate import _concatenated_accel

    time = torch.arange(6, dtype=torch.float64)[:, None, None]
    first = torch.zeros(6, 14, 3, dtype=torch.float64) + 0.01 * time
    second = first + 0.5
    truth = torch.zeros(6, 14, 3, dtype=torch.float64)
    assert metrics.accel_error(first, truth).abs().max() < 1e-9 and metrics.accel_error(second, truth).abs().max() < 1e-9
    joined = _concatenated_accel([(first, truth), (second, truth)], fps=30.0)
    pred = torch.cat([first, second]).numpy()
    reference = np.linalg.norm(pred[2:] - 2 * pred[1:-1] + pred[:-2], axis=-1).mean(axis=-1).mean() * 1000
    assert joined["accel"] == pytest.approx(reference, rel=1e-9)
    assert joined["accel"] > 10.0


def test_tcmr_accel_counts_frames_by_their_centre_as_tcmr_does(peers, tiny_checkpoint):
    """``--match tcmr`` on MPI-INF-3DHP: the acceleration error follows TCMR's ``evaluate.py``
    (error at every interior frame, kept where the centre frame is in ``valid_map``, first and last
    frame dropped, all sequences' kept frames averaged), re-computed here from its steps; staf's own
    rule (the whole stencil valid) counts fewer frames and gives another number."""
    from staf.evaluation.evaluate import evaluate
    from staf.evaluation.protocols import MATCHES, PROTOCOLS
    from staf.models.checkpoint import load_checkpoint

    folder, dbs = peers
    model, _ = load_checkpoint(tiny_checkpoint)
    arguments = (model, folder / "mpii3d_val_scale12_db.pt", PROTOCOLS["mpii3d"], folder / "mpi_inf_3dhp")
    tcmr = evaluate(*arguments, progress=False, match=MATCHES["tcmr"])
    valid_i = dbs["mpii3d"]["valid_i"][:, 0]
    names = dbs["mpii3d"]["vid_name"]
    kept = []
    for sequence in tcmr.sequences:
        accel_err = np.zeros(sequence.frames)
        accel_err[1:-1] = sequence.accel_curve
        valid_map = np.flatnonzero(valid_i[names == sequence.name])
        valid_map = valid_map[(valid_map != 0) & (valid_map != sequence.frames - 1)]
        kept.append(accel_err[valid_map])
    assert tcmr.metrics["accel"] == pytest.approx(np.concatenate(kept).mean(), rel=1e-6)      # float32 curves
    assert sum(s.accel_frames for s in tcmr.sequences) == len(np.concatenate(kept)) == 18 - 2 + 23
    stencil = evaluate(*arguments, progress=False, match=dataclasses.replace(MATCHES["tcmr"], accel_rule="stencil"))
    assert sum(s.accel_frames for s in stencil.sequences) == 18 - 4 + 23
    assert stencil.metrics["accel"] != pytest.approx(tcmr.metrics["accel"], rel=1e-6)
