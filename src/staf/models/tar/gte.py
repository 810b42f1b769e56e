"""Global Temporal Encoder (TAR §3.1.1, Fig. 3a).

The static global features F (B, T, C) (the encoder's average-pooled last stage) are projected to
the transformer width, given a learned position embedding, passed through a 4-layer transformer
encoder, and shrunk to one temporal global feature f (B, d) by a weighted average over time,
implemented as a 1D convolution with the T frames as input channels and one output channel
(kernel 1 over the feature axis: one learned weight per frame, plus a bias).

Without GTE (Table 4's "only LTE", and the single-frame stage-1 model) f is the projection of
the middle frame's feature alone: :meth:`GlobalTemporalEncoder.project` is shared by both paths.
"""

from __future__ import annotations

import torch
from torch import nn


class GlobalTemporalEncoder(nn.Module):
    """Args:
        in_channels: C of the static global features (2048 for ResNet-50).
        width: d, the transformer width.
        seq_len: T.
        layers, heads, feedforward, dropout: the transformer encoder (4 layers in the paper).
        temporal: False builds only the projection (no transformer, no weighted average).
    """

    def __init__(self, in_channels: int, width: int, seq_len: int, layers: int = 4, heads: int = 8,
                 feedforward: int = 1024, dropout: float = 0.1, temporal: bool = True) -> None:
        super().__init__()
        self.project = nn.Linear(in_channels, width)
        self.temporal = temporal
        if temporal:
            self.position = nn.Parameter(torch.zeros(1, seq_len, width))
            nn.init.normal_(self.position, std=0.02)
            layer = nn.TransformerEncoderLayer(width, heads, feedforward, dropout, batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(width)
            self.weighted_average = nn.Conv1d(seq_len, 1, kernel_size=1)
            nn.init.constant_(self.weighted_average.weight, 1.0 / seq_len)
            nn.init.zeros_(self.weighted_average.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, C) static global features → (B, d) temporal global feature of the middle frame."""
        if not self.temporal:
            return self.project(features[:, features.shape[1] // 2])
        encoded = self.norm(self.transformer(self.project(features) + self.position))
        return self.weighted_average(encoded)[:, 0]
