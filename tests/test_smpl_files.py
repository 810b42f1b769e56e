"""Reading SMPL files and base_data folders: restricted unpickling, npz twins, clear errors."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from staf.body import BodyModel, read_smpl_file
from staf.body.assets import BASE_DATA_ENV, load_body_model_data
from staf.body.joint_sets import SMPL_VERTEX_KEYPOINT_IDS
from staf.body.model_data import read_downsampling
from staf.body.safe_pickle import load_npz_restricted, loads_restricted
from staf.cli import main
from staf.errors import MalformedFileError, MissingAssetError, UnsafeFileError

from conftest import random_smpl_arrays, write_chumpy_pickle, write_object_npz


def test_chumpy_pickle_loads_like_its_npz_twin(tmp_path):
    arrays = random_smpl_arrays(seed=7)
    write_chumpy_pickle(tmp_path / "SMPL_NEUTRAL.pkl", arrays)
    np.savez(tmp_path / "SMPL_NEUTRAL.npz", **arrays)
    from_pickle = read_smpl_file(tmp_path / "SMPL_NEUTRAL.pkl")
    from_npz = read_smpl_file(tmp_path / "SMPL_NEUTRAL.npz")
    for name in ("v_template", "shapedirs", "posedirs", "j_regressor", "weights", "parents", "faces"):
        np.testing.assert_array_equal(getattr(from_pickle, name), getattr(from_npz, name), err_msg=name)
    np.testing.assert_array_equal(from_pickle.j_regressor, arrays["J_regressor"])
    assert from_pickle.parents[0] == -1 and from_pickle.parents[1] == 0


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo owned > owned.txt",))


def test_a_pickle_that_calls_os_system_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    path.write_bytes(pickle.dumps({"v_template": _RunsCode()}, protocol=2))
    with pytest.raises(UnsafeFileError, match=r"refused to load '(posix|nt|os)\.system'"):
        read_smpl_file(path)
    assert not (tmp_path / "owned.txt").exists()


@pytest.mark.parametrize("payload", [
    b"cbuiltins\neval\n(S'1+1'\ntR.",                       # builtins.eval
    b"c__builtin__\ngetattr\n(c__builtin__\nobject\nS'x'\ntR.",  # getattr gadget
    b"csubprocess\nPopen\n((S'true'\nltR.",                 # subprocess
])
def test_other_code_globals_are_refused(payload):
    with pytest.raises(UnsafeFileError, match="refused to load"):
        loads_restricted(payload, "evil.pkl")


def test_object_arrays_inside_npz_are_unpickled_with_the_same_rules(tmp_path):
    write_object_npz(tmp_path / "evil.npz", D=[_RunsCode()])
    with pytest.raises(UnsafeFileError):
        load_npz_restricted(tmp_path / "evil.npz")


def test_truncated_pickle_is_reported_as_malformed(tmp_path):
    arrays = random_smpl_arrays(num_vertices=50, seed=1)
    write_chumpy_pickle(tmp_path / "m.pkl", arrays)
    (tmp_path / "cut.pkl").write_bytes((tmp_path / "m.pkl").read_bytes()[:500])
    with pytest.raises(MalformedFileError, match="not a readable pickle"):
        read_smpl_file(tmp_path / "cut.pkl")


def test_missing_keys_are_named(tmp_path):
    arrays = random_smpl_arrays(num_vertices=50, seed=1)
    del arrays["weights"], arrays["f"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(MalformedFileError, match="missing weights, f"):
        read_smpl_file(tmp_path / "partial.npz")


def test_mesh_downsampling_is_the_product_of_the_two_stages(tmp_path):
    d0 = sp.random(30, 100, density=0.05, random_state=0, format="csr")
    d1 = sp.random(8, 30, density=0.2, random_state=1, format="csr")
    write_object_npz(tmp_path / "mesh_downsampling.npz", A=[d0, d1], U=[d0.T, d1.T], D=[d0, d1])
    combined = read_downsampling(tmp_path / "mesh_downsampling.npz")
    np.testing.assert_allclose(combined.toarray(), d1.toarray() @ d0.toarray())


def test_base_data_folder_gives_spin49_h36m_lsp14_and_downsampling(base_data):
    folder, written = base_data
    body = BodyModel.load("smpl", base_data=folder, dtype=torch.float64)
    assert body.joint_set_names == ("spin49", "h36m17", "lsp14")
    pose = torch.randn(2, 72, dtype=torch.float64) * 0.3
    out = body(pose, torch.randn(2, 10, dtype=torch.float64))
    vertices = out.vertices.numpy()
    h36m = np.einsum("kn,bnc->bkc", written["h36m"], vertices)
    np.testing.assert_allclose(out.joint_sets["h36m17"].numpy(), h36m, atol=1e-10)
    lsp14_from_h36m = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10]  # SPIN's H36M_TO_J14
    np.testing.assert_allclose(out.joint_sets["lsp14"].numpy(), h36m[:, lsp14_from_h36m], atol=1e-10)
    # SPIN's JOINT_MAP over [24 joints, 21 smplx vertex joints, 9 extra], written out by name
    joint_map = {"OP Nose": 24, "OP Neck": 12, "OP RShoulder": 17, "OP RElbow": 19, "OP RWrist": 21,
                 "OP LShoulder": 16, "OP LElbow": 18, "OP LWrist": 20, "OP MidHip": 0, "OP RHip": 2,
                 "OP RKnee": 5, "OP RAnkle": 8, "OP LHip": 1, "OP LKnee": 4, "OP LAnkle": 7, "OP REye": 25,
                 "OP LEye": 26, "OP REar": 27, "OP LEar": 28, "OP LBigToe": 29, "OP LSmallToe": 30,
                 "OP LHeel": 31, "OP RBigToe": 32, "OP RSmallToe": 33, "OP RHeel": 34, "Right Ankle": 8,
                 "Right Knee": 5, "Right Hip": 45, "Left Hip": 46, "Left Knee": 4, "Left Ankle": 7,
                 "Right Wrist": 21, "Right Elbow": 19, "Right Shoulder": 17, "Left Shoulder": 16,
                 "Left Elbow": 18, "Left Wrist": 20, "Neck (LSP)": 47, "Top of Head (LSP)": 48,
                 "Pelvis (MPII)": 49, "Thorax (MPII)": 50, "Spine (H36M)": 51, "Jaw (H36M)": 52,
                 "Head (H36M)": 53, "Nose": 24, "Left Eye": 26, "Right Eye": 25, "Left Ear": 28, "Right Ear": 27}
    from staf.body.joint_sets import SPIN49_JOINT_NAMES

    all54 = np.concatenate([out.joints.numpy(), vertices[:, list(SMPL_VERTEX_KEYPOINT_IDS)],
                            np.einsum("kn,bnc->bkc", written["extra"], vertices)], axis=1)
    expected = all54[:, [joint_map[name] for name in SPIN49_JOINT_NAMES]]
    np.testing.assert_allclose(out.joint_sets["spin49"].numpy(), expected, atol=1e-10)
    d0, d1 = written["D"]
    np.testing.assert_allclose(body.downsample(out.vertices).numpy(),
                               np.einsum("mn,bnc->bmc", (d1 @ d0).toarray(), vertices), atol=1e-10)
    assert body.mean_cam.tolist() == [0.9, 0.0, 0.0]


def test_smplx_vertex_keypoints_are_smplh_ids():
    vertex_ids = pytest.importorskip("smplx.vertex_ids").vertex_ids["smplh"]
    from staf.body.joint_sets import VERTEX_KEYPOINT_NAMES

    assert tuple(vertex_ids[name] for name in VERTEX_KEYPOINT_NAMES) == SMPL_VERTEX_KEYPOINT_IDS


def test_environment_variable_locates_base_data(base_data, monkeypatch, tmp_path):
    folder, _ = base_data
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(BASE_DATA_ENV, str(folder))
    assert load_body_model_data("smpl").name == "smpl-neutral"


def test_missing_smpl_gives_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(BASE_DATA_ENV, raising=False)
    with pytest.raises(MissingAssetError) as error:
        load_body_model_data("smpl", base_data=tmp_path / "nowhere", gender="female")
    message = str(error.value)
    for needle in ("SMPL_FEMALE.pkl", str((tmp_path / "nowhere").resolve()), BASE_DATA_ENV,
                   "smpl.is.tue.mpg.de", "--base-data"):
        assert needle in message


def test_cli_exits_2_when_smpl_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(BASE_DATA_ENV, raising=False)
    status = main(["body", "--body-model", "smpl", "--base-data", str(tmp_path), "--out", "b.obj"])
    assert status == 2
    assert "SMPL_NEUTRAL.pkl" in capsys.readouterr().err
    assert not (tmp_path / "b.obj").exists()


def test_joint_set_missing_regressor_is_named(tmp_path):
    np.savez(tmp_path / "model.npz", **random_smpl_arrays(num_vertices=80, seed=2))
    body = BodyModel.load(str(tmp_path / "model.npz"), base_data=tmp_path / "none")
    assert body.joint_set_names == ()
    with pytest.raises(MissingAssetError, match="J_regressor_h36m.npy"):
        body(torch.zeros(1, 72), joint_sets=("h36m17",))
    with pytest.raises(MissingAssetError, match="mesh_downsampling.npz"):
        body.downsample(torch.zeros(1, 80, 3))


def test_python2_style_pickle_loads(tmp_path):
    from conftest import py2_pickle

    arrays = random_smpl_arrays(num_vertices=40, seed=9)
    content = {key: value for key, value in arrays.items() if key != "J_regressor"}
    content["J_regressor"] = sp.csc_matrix(arrays["J_regressor"])
    content["f"] = arrays["f"].astype(np.uint32)
    (tmp_path / "SMPL_MALE.pkl").write_bytes(py2_pickle(content))
    data = read_smpl_file(tmp_path / "SMPL_MALE.pkl")
    np.testing.assert_array_equal(data.v_template, arrays["v_template"])
    np.testing.assert_array_equal(data.posedirs, arrays["posedirs"])
    np.testing.assert_array_equal(data.j_regressor, arrays["J_regressor"])
    np.testing.assert_array_equal(data.faces, arrays["f"])


@pytest.mark.parametrize("target", [b"cscipy.sparse\ncsr_matrix\n", b"c__builtin__\nobject\n"])
def test_pickles_cannot_change_an_allowed_class(target):
    """BUILD on a class object (slot state) would set attributes of that class for the whole
    process; the restricted unpickler refuses it (the C unpickler used before did not)."""
    import scipy.sparse as sp

    from staf.body.safe_pickle import loads_restricted
    from staf.errors import UnsafeFileError

    before = sp.csr_matrix.toarray
    data = b"\x80\x02" + target + b"N}X\x07\x00\x00\x00toarrayK\x01s\x86b."     # GLOBAL, (None, {toarray: 1}), BUILD
    with pytest.raises(UnsafeFileError, match="refused to set the state of class"):
        loads_restricted(data, "evil.pkl")
    assert sp.csr_matrix.toarray is before and not hasattr(object, "toarray")
