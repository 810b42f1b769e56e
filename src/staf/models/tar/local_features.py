"""Static local feature maps M (TAR §3, Fig. 2: "high-resolution (e.g. 64×64) local feature maps").

TAR reads M from its backbone at a quarter of the crop's resolution (64×64 for 256×256 crops;
HRNet gives such maps directly). For a ResNet staf fuses the four stages top-down at stride 4,
like HRNet's concatenated branches and ReFit's stride-4 features: a 1×1 lateral convolution of
each stage to D channels, the coarser sum up-sampled bilinearly and added, then a 3×3
convolution with batch norm and ReLU. (B, 3, S, S) crops → (B, D, S/4, S/4).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LocalFeatureHead(nn.Module):
    """Top-down fusion of the encoder's stages into D-channel stride-4 maps.

    Args:
        level_channels: channels of the four ResNet stages (strides 4, 8, 16, 32).
        channels: D, the channels of M.
    """

    def __init__(self, level_channels: tuple[int, ...], channels: int) -> None:
        super().__init__()
        self.lateral = nn.ModuleList(nn.Conv2d(width, channels, 1) for width in level_channels)
        self.smooth = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels),
                                    nn.ReLU(inplace=True))

    def forward(self, levels: list[torch.Tensor]) -> torch.Tensor:
        """Stage maps [(B, C_i, h_i, w_i)] finest first → (B, D, h_0, w_0)."""
        fused = self.lateral[-1](levels[-1])
        for lateral, level in zip(self.lateral[-2::-1], levels[-2::-1]):
            fused = lateral(level) + F.interpolate(fused, size=level.shape[-2:], mode="bilinear", align_corners=False)
        return self.smooth(fused)
