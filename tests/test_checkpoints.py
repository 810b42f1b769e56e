"""Official-checkpoint conversion (fake checkpoint from the official key/shape table) and staf
checkpoints."""

from __future__ import annotations

import re

import pytest
import torch

from staf.body import BodyModel
from staf.cli import main
from staf.errors import StafError
from staf.models import STAF, STAFConfig
from staf.models.backbone import ResNetEncoder
from staf.models.checkpoint import load_checkpoint, save_checkpoint
from staf.models.staf.official import convert_official
from staf.models.staf.sampling import grid_points

from test_staf_model import official_entries


def fake_official_files(folder, body: BodyModel, seed: int = 0):
    """Random tensors with the official names and shapes; buffers with their real meaning."""
    generator = torch.Generator().manual_seed(seed)
    head = {}
    for key, shape in official_entries():
        if key.endswith("num_batches_tracked"):
            head[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            head[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            head[key] = torch.randn(shape, generator=generator) * 0.02
    head["points_grid"] = grid_points(21).T[None].clone()
    for index in (1, 2):
        for name in ("pose", "shape", "cam"):
            head[f"regressor.{index}.init_{name}"] = head[f"regressor.0.init_{name}"].clone()
    torch.save({"epoch": 3, "gen_state_dict": head, "performance": 80.6}, folder / "staf_official.pth.tar")
    encoder = ResNetEncoder("resnet50").state_dict()
    backbone = {f"feature_extractor.{k}": torch.randn(v.shape, generator=generator) * 0.01
                if v.is_floating_point() else v for k, v in encoder.items()}
    for key in backbone:
        if key.endswith("running_var"):
            backbone[key] = torch.rand(backbone[key].shape, generator=generator) + 0.5
    backbone["deconv_layers.0.weight"] = torch.zeros(1)  # other PyMAF parts are ignored
    torch.save({"model": backbone}, folder / "base_model.pt")
    return head, backbone


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load()


def test_fake_official_checkpoint_converts_loads_strictly_and_runs(tmp_path, body):
    head, backbone = fake_official_files(tmp_path, body)
    model, notes = convert_official(tmp_path / "staf_official.pth.tar", tmp_path / "base_model.pt", body)
    assert any("SMPL-topology" in note for note in notes)
    state = model.state_dict()
    assert torch.equal(state["tcfm.query.weight"], head["tcfm.nonlocalblock.conv_theta.weight"][..., 0])
    assert torch.equal(state["tcfm.key.weight"], head["tcfm.nonlocalblock.conv_phi.weight"][..., 0])
    assert torch.equal(state["safm.attention.layers.4.weight"], head["safm.nonlocalblock.attention.attention.4.weight"])
    assert torch.equal(state["point_mlps.2.layers.1.weight"], head["maf_extractor.2.conv1.weight"])
    assert torch.equal(state["init_pose"], head["regressor.0.init_pose"][0])
    assert torch.equal(state["encoder.layer4.2.conv3.weight"], backbone["feature_extractor.layer4.2.conv3.weight"])
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(1, 9, 3, 224, 224))
    assert torch.isfinite(out.final.vertices).all()
    # the CLI writes a staf checkpoint that loads back to the same weights
    assert main(["convert", "official", "--head", str(tmp_path / "staf_official.pth.tar"),
                 "--backbone", str(tmp_path / "base_model.pt"), "--out", str(tmp_path / "staf.pt")]) == 0
    loaded, payload = load_checkpoint(tmp_path / "staf.pt", body)
    assert payload["extra"]["converted_from"]["head"].endswith("staf_official.pth.tar")
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in state.items())


def test_missing_and_unexpected_keys_are_listed(tmp_path, body):
    head, _ = fake_official_files(tmp_path, body)
    del head["regressor.1.fc2.weight"]
    torch.save({"gen_state_dict": head}, tmp_path / "broken.pth.tar")
    with pytest.raises(StafError, match=r"missing: regressors\.1\.fc2\.weight"):
        convert_official(tmp_path / "broken.pth.tar", None, body)
    head["regressor.1.fc2.weight"] = torch.zeros(1024, 1024)
    head["tcfm.nonlocalblock.extra.weight"] = torch.zeros(1)
    torch.save({"gen_state_dict": head}, tmp_path / "extra.pth.tar")
    with pytest.raises(StafError, match=r"tcfm\.nonlocalblock\.extra\.weight"):
        convert_official(tmp_path / "extra.pth.tar", None, body)


def test_checkpoints_with_code_are_refused(tmp_path, body, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("ran code",))

    torch.save({"gen_state_dict": {"x": Payload()}}, tmp_path / "evil.pth.tar")
    assert main(["convert", "official", "--head", str(tmp_path / "evil.pth.tar"), "--out", str(tmp_path / "o.pt")]) == 2
    captured = capsys.readouterr()
    assert "refused" in captured.err and "never runs code" in captured.err and "ran code" not in captured.out
    assert not (tmp_path / "o.pt").exists()


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path, body):
    small = STAF(STAFConfig(backbone="resnet18", image_size=64), body)
    save_checkpoint(tmp_path / "small.pt", small)
    payload = torch.load(tmp_path / "small.pt", weights_only=True)
    payload["config"]["variant"] = "base"  # the weights hold TCFM and SAFM, the config says none
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(StafError, match=r"unexpected: safm\.attention"):
        load_checkpoint(tmp_path / "mismatch.pt", body)
    model, _ = load_checkpoint(tmp_path / "small.pt", body)
    assert model.config.backbone == "resnet18"


def test_with_smpl_topology_the_official_dmap_is_checked(tmp_path, base_data):
    folder, written = base_data
    smpl = BodyModel.load("smpl", base_data=folder)
    head, _ = fake_official_files(tmp_path, smpl)
    d0, d1 = written["D"]
    dmap = torch.tensor((d1 @ d0).toarray(), dtype=torch.float32)
    for index in range(3):
        head[f"maf_extractor.{index}.Dmap"] = dmap
    torch.save({"gen_state_dict": head}, tmp_path / "smpl.pth.tar")
    model, notes = convert_official(tmp_path / "smpl.pth.tar", None, smpl)
    assert "Dmap: matches the body model's down-sampling" in notes
    assert model.body.num_vertices == 6890
    head["maf_extractor.1.Dmap"] = dmap.flip(0)
    torch.save({"gen_state_dict": head}, tmp_path / "other.pth.tar")
    with pytest.raises(StafError, match="down-sampling differs"):
        convert_official(tmp_path / "other.pth.tar", None, smpl)


def test_checkpoints_written_before_the_registry_still_load(tmp_path, body):
    """Before the model interface, checkpoints named the class ('STAF') and had no crop rule."""
    from staf.models.checkpoint import checkpoint_crop_rule

    model = STAF(STAFConfig(backbone="resnet18", image_size=64), body)
    save_checkpoint(tmp_path / "new.pt", model)
    payload = torch.load(tmp_path / "new.pt", weights_only=True)
    payload["model"] = "STAF"
    del payload["crop"]
    torch.save(payload, tmp_path / "old.pt")
    loaded, read = load_checkpoint(tmp_path / "old.pt", body)
    assert type(loaded) is STAF and checkpoint_crop_rule(read).scale == 1.3
    assert all(torch.equal(v, loaded.state_dict()[k]) for k, v in model.state_dict().items())
    payload["model"] = "TAR2000"
    torch.save(payload, tmp_path / "unknown.pt")
    with pytest.raises(StafError, match="unknown model 'TAR2000'; registered: .*staf"):
        load_checkpoint(tmp_path / "unknown.pt", body)


def test_weights_must_be_named_finite_tensors_of_the_models_kind():
    """A hand-edited state dict: not a mapping, integer keys, non-tensors, integer or complex
    weights, NaN or infinite weights: each refused with a message naming it."""
    from staf.models.files import load_state_dict_strict

    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    good = model.state_dict()
    load_state_dict_strict(model, dict(good), "ok.pt")                          # num_batches_tracked is int64 in both
    cases = [(list(good.values()), "the weights are a list"),
             ({**good, 0: torch.zeros(1)}, "weights 0 are not named tensors"),
             ({**good, "0.weight": [[1.0, 2.0]] * 3}, "'0.weight' are not named tensors"),
             ({**good, "0.weight": torch.ones(3, 2, dtype=torch.int32)}, "wrong kind of number: 0.weight: torch.int32"),
             ({**good, "0.bias": torch.ones(3, dtype=torch.complex64)}, "wrong kind of number: 0.bias"),
             ({**good, "1.running_var": torch.tensor([1.0, float("nan"), 1.0])}, "NaN or infinite values: 1.running_var"),
             ({**good, "0.weight": torch.full((3, 2), float("inf"))}, "NaN or infinite values: 0.weight")]
    for state, message in cases:
        with pytest.raises(StafError, match=re.escape(message)):
            load_state_dict_strict(model, state, "edited.pt")
