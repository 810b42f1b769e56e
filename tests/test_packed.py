"""Packed models (int8 safetensors) and the default model shipped in the package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from staf.body import BodyModel
from staf.cli import main
from staf.data.crops import CropRule, normalise
from staf.errors import MalformedFileError
from staf.models import STAFConfig, SequenceInput, build_model
from staf.models.checkpoint import checkpoint_crop_rule, load_checkpoint
from staf.models.packed import channel_axes, default_model_path, dequantise, pack_model, quantise, read_packed

REFERENCE = Path(__file__).parent / "data" / "default_model_reference.npz"
TINY = STAFConfig(backbone="resnet18", image_size=64, decoder_channels=32, mlp_channels=(32, 16, 8, 5), dropout=0.0,
                  regressor_hidden=64, safm_hidden=16)


@pytest.mark.parametrize("axis", [0, 1])
def test_quantisation_is_per_channel_and_within_half_a_step(axis):
    weight = torch.randn(6, 5, 3, 3, dtype=torch.float64) * torch.logspace(-3, 0, 6, dtype=torch.float64).view(6, 1, 1, 1)
    values, scale = quantise(weight, axis)
    assert values.dtype == torch.int8 and values.shape == weight.shape and scale.shape == (weight.shape[axis],)
    reference = weight.movedim(axis, 0).abs().flatten(1).amax(1) / 127              # float64, by hand
    torch.testing.assert_close(scale.double(), reference, rtol=1e-6, atol=0)
    assert values.abs().max() == 127
    error = (dequantise(values, scale, axis).double() - weight).movedim(axis, 0).abs().flatten(1).amax(1)
    assert (error <= reference / 2 * 1.0001 + 1e-9).all()


def test_transposed_convolutions_quantise_their_output_axis():
    model = nn.Sequential(nn.ConvTranspose2d(8, 4, 4), nn.Conv2d(4, 2, 3))
    assert channel_axes(model) == {"0.weight": 1}


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return BodyModel.load()


def test_pack_and_load(tmp_path, body):
    torch.manual_seed(0)
    model = build_model("staf", TINY, body).eval()
    path = pack_model(tmp_path / "tiny.safetensors", model, CropRule(scale=1.2), {"command": "test", "seed": 3})
    payload, tensors = read_packed(path)
    assert payload["provenance"] == {"command": "test", "seed": 3} and payload["model"] == "staf"
    assert any(key.startswith("q/") for key in tensors) and all(t.dtype != torch.float64 for t in tensors.values())
    loaded, payload = load_checkpoint(path)
    assert loaded.config == model.config and checkpoint_crop_rule(payload) == CropRule(scale=1.2)
    for name, value in model.state_dict().items():
        restored = loaded.state_dict()[name]
        if f"q/{name}" in tensors:
            step = tensors[f"scale/{name}"].max()
            assert (restored - value).abs().max() <= step / 2 + 1e-7
        else:
            assert torch.equal(restored, value)
    crops = SequenceInput(crops=torch.randn(5, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    difference = (loaded.predict_sequence(crops).vertices - model.predict_sequence(crops).vertices).norm(dim=-1)
    assert difference.mean() < 0.01                                      # random weights, int8: < 1 cm


def test_not_a_packed_model(tmp_path):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(2)}, str(tmp_path / "other.safetensors"), metadata={"format": "pt"})
    with pytest.raises(MalformedFileError, match="not a staf packed model"):
        load_checkpoint(tmp_path / "other.safetensors")
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(MalformedFileError, match="not a readable safetensors"):
        load_checkpoint(tmp_path / "broken.safetensors")


def test_the_shipped_default_model():
    """The file in the package: its size, config, and its prediction on four stored synthetic
    crops (scripts/make_default_model_reference.py) equal to the stored reference."""
    path = default_model_path()
    assert path is not None and path.stat().st_size <= 40 * 2**20
    model, payload = load_checkpoint(path)
    assert payload["model"] == "staf" and payload["body_model"]["name"] == "open"
    assert (model.config.backbone, model.config.image_size, model.config.variant) == ("resnet18", 128, "staf")
    assert checkpoint_crop_rule(payload) == CropRule()
    assert {"command", "data", "seed"} <= set(payload["provenance"])
    reference = np.load(REFERENCE)
    prediction = model.predict_sequence(SequenceInput(crops=normalise(reference["crops"])))
    np.testing.assert_allclose(prediction.joints.numpy(), reference["joints"], atol=1e-4)
    np.testing.assert_allclose(prediction.cam.numpy(), reference["cam"], atol=1e-4)


def test_info_lists_the_default_model(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "default model" in out and "staf_synth_cpu.safetensors" in out and "resnet18 at 128 px" in out
