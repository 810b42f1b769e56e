"""The encoder's torchvision layout, and typed configs from YAML."""

from __future__ import annotations

import copy

import pytest
import torch

from staf.config import from_dict, load_config
from staf.errors import StafError
from staf.models import STAFConfig
from staf.models.backbone import ResNetEncoder


def test_resnet50_has_torchvisions_state_dict_layout():
    encoder = ResNetEncoder("resnet50")
    state = encoder.state_dict()
    # torchvision's resnet50 has 320 entries; 318 without fc.weight / fc.bias
    assert len(state) == 318
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight", "layer3.5.bn3.num_batches_tracked",
                "layer4.2.conv3.weight"):
        assert key in state
    assert state["layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    with_classifier = {**{k: torch.randn_like(v.float()).to(v.dtype) for k, v in state.items()},
                       "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
    encoder.load_torchvision_state_dict(with_classifier)
    assert torch.equal(encoder.state_dict()["conv1.weight"], with_classifier["conv1.weight"])
    assert encoder(torch.randn(1, 3, 224, 224)).shape == (1, 2048, 7, 7)


@pytest.mark.parametrize("name, channels, blocks", [("resnet18", 512, 8), ("resnet34", 512, 16)])
def test_small_backbones(name, channels, blocks):
    encoder = ResNetEncoder(name)
    assert encoder.out_channels == channels
    assert sum(len(getattr(encoder, f"layer{i}")) for i in range(1, 5)) == blocks
    assert encoder(torch.randn(2, 3, 64, 64)).shape == (2, channels, 2, 2)


def test_configs_reject_unknown_keys_and_bad_values(tmp_path):
    assert from_dict(STAFConfig, {"variant": "base", "mlp_channels": [256, 128, 64, 5]}).mlp_channels == (256, 128, 64, 5)
    with pytest.raises(StafError, match="unknown key.*varaint"):
        from_dict(STAFConfig, {"varaint": "staf"})
    with pytest.raises(StafError, match="unknown STAF variant 'full'"):
        from_dict(STAFConfig, {"variant": "full"})
    (tmp_path / "model.yaml").write_text("variant: base+stf\nseq_len: 27\n")
    config = load_config(STAFConfig, tmp_path / "model.yaml", {"backbone": "resnet18"})
    assert (config.variant, config.seq_len, config.backbone, config.target_index) == ("base+stf", 27, "resnet18", 13)
    with pytest.raises(StafError, match="unknown preset 'nope'"):
        load_config(STAFConfig, "nope")


def test_channels_last_encoder_matches_a_float64_nchw_recomputation():
    torch.manual_seed(0)
    encoder = ResNetEncoder("resnet18").train()
    assert encoder.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    reference = copy.deepcopy(encoder).double().to(memory_format=torch.contiguous_format)
    assert reference.conv1.weight.is_contiguous()
    images = torch.randn(2, 3, 64, 64)
    output = encoder(images)
    expected = reference(images.double())
    assert output.is_contiguous() and output.shape == (2, 512, 2, 2)
    torch.testing.assert_close(output.double(), expected, rtol=1e-4, atol=1e-4)
    output.square().sum().backward()
    expected.square().sum().backward()
    for name in ("conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.conv2.weight"):
        grad = encoder.get_parameter(name).grad.double()
        reference_grad = reference.get_parameter(name).grad
        torch.testing.assert_close(grad, reference_grad, rtol=1e-3, atol=1e-3 * reference_grad.abs().max().item())


def test_precision_auto_follows_native_bfloat16(monkeypatch):
    from staf.models import backbone

    monkeypatch.setattr(backbone, "cpu_flags", lambda: {"avx2", "avx512f", "avx512_bf16"})
    assert backbone.resolve_precision("auto", "cpu") == ("bf16", "precision auto: bf16 (native bfloat16 on cpu)")
    assert backbone.resolve_precision("bf16", "cpu") == ("bf16", None)
    monkeypatch.setattr(backbone, "cpu_flags", lambda: {"avx2", "fma"})          # e.g. an AVX2-only EPYC
    assert backbone.resolve_precision("auto", "cpu")[0] == "fp32"
    precision, note = backbone.resolve_precision("bf16", "cpu")
    assert precision == "bf16" and note.startswith("warning") and "emulated" in note
    assert backbone.resolve_precision("fp32", "cpu") == ("fp32", None)
    with pytest.raises(ValueError, match="unknown precision"):
        backbone.resolve_precision("fp16", "cpu")


def test_the_cpu_preset_asks_for_auto_precision():
    from staf.config import load_config
    from staf.training import TrainConfig

    assert load_config(TrainConfig, "train-synth-cpu").precision == "auto" and TrainConfig().precision == "auto"
