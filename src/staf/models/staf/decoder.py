"""Feature-pyramid decoder (STAF §III-B, eq. 1): φ_k = DeConv_k(φ_{k−1}), k = 1, 2, 3.

Each stage is ConvTranspose2d(k=4, s=2, p=1, no bias) + BatchNorm2d(momentum 0.1) + ReLU with
256 channels, doubling the resolution: 7 → 14 → 28 → 56 for 224×224 crops. The layers sit in
one ``nn.Sequential`` (indices 0–8) as in the official checkpoint (``deconv_layers.*``).
"""

from __future__ import annotations

import torch
from torch import nn


class FeaturePyramidDecoder(nn.Module):
    """Three deconvolution stages; :meth:`stage` runs one of them.

    Args:
        in_channels: C0 of the encoder (2048 for ResNet-50).
        channels: channels of every stage (256).
        num_stages: 3.
    """

    def __init__(self, in_channels: int = 2048, channels: int = 256, num_stages: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index in range(num_stages):
            layers += [
                nn.ConvTranspose2d(in_channels if index == 0 else channels, channels, 4, 2, 1, bias=False),
                nn.BatchNorm2d(channels, momentum=0.1),
                nn.ReLU(inplace=True),
            ]
        self.deconv_layers = nn.Sequential(*layers)
        self.num_stages = num_stages
        self.dtype: torch.dtype | None = None      # autocast dtype of :meth:`stage` (None: float32)

    def stage(self, index: int, features: torch.Tensor) -> torch.Tensor:
        """φ_{index+1} from φ_index: (N, C_in, H, W) → (N, 256, 2H, 2W); ``index`` in 0..2.
        Under autocast to :attr:`dtype`, returning float32, when it is set (inference only, see
        :meth:`staf.models.staf.network.STAF.set_inference_precision`)."""
        layers = self.deconv_layers[3 * index : 3 * index + 3]
        if self.dtype is None:
            return layers(features)
        with torch.autocast(features.device.type, dtype=self.dtype):
            return layers(features).float()
