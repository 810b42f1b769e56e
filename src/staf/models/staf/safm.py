"""Spatial alignment fusion module, SAFM (STAF §III-C.2, eqs. 7–8, Fig. 5).

Features of consecutive frames are fused three at a time by one attention module whose weights
are shared across levels: (B, 9, S) → groups {0,1,2}, {3,4,5}, {6,7,8} → 3 features (past,
current, future) → 1 feature for the target frame. Any T that is a power of 3 works (3, 9, 27).
"""

from __future__ import annotations

import torch
from torch import nn

from staf.errors import StafError


class GroupAttention(nn.Module):
    """Eqs. 7–8 for one group of three: FC S → 256 per feature, concatenation (768),
    FC 768 → 256, tanh, FC 256 → 256, tanh, FC 256 → 3, tanh, softmax; the output is the
    attention-weighted sum of the original (S-d) features."""

    def __init__(self, channels: int = 2155, hidden: int = 256, group: int = 3) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, hidden)
        self.layers = nn.Sequential(
            nn.Linear(hidden * group, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, group), nn.Tanh(),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(N, 3, S) → (N, S)."""
        scores = self.layers(self.fc(features).flatten(1))
        weights = torch.softmax(scores, dim=-1)
        return (weights.unsqueeze(-1) * features).sum(dim=1)


class SAFM(nn.Module):
    """Hierarchical groups of three with one shared :class:`GroupAttention`."""

    def __init__(self, channels: int = 2155, hidden: int = 256) -> None:
        super().__init__()
        self.attention = GroupAttention(channels, hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, S) with T = 3^k → (B, S), the fused feature of the middle frame."""
        batch, length, channels = features.shape
        check_power_of_three(length)
        while features.shape[1] > 1:
            groups = features.reshape(batch * features.shape[1] // 3, 3, channels)
            features = self.attention(groups).reshape(batch, -1, channels)
        return features[:, 0]


def check_power_of_three(length: int) -> None:
    """Raise a clear error unless ``length`` is 3, 9, 27, …"""
    value = length
    while value > 1 and value % 3 == 0:
        value //= 3
    if length < 3 or value != 1:
        raise StafError(
            f"SAFM fuses frames in groups of three, so the sequence length must be a power of 3 "
            f"(3, 9, 27, …); got T = {length}. Use seq_len 9 (the paper's) or 27."
        )
