"""Temporal coherence fusion module, TCFM (STAF §III-C.1, eqs. 4–6, Fig. 4).

Z_inp (B, T, S) → Q, K, V = 1×1 projections S → S/2 (no bias);
M_con = softmax(Z_q Z_kᵀ), M_sim = softmax(Z_inp Z_inpᵀ) (row softmax, T×T);
M_g = softmax(F([M_sim, M_con])) with F a 1×1 convolution 2 → 1 (no bias);
Z_ref = Z_inp + U(M_g Z_v) with U a 1×1 projection S/2 → S (no bias).

Channel order into F is the official code's [M_sim, M_con] (the paper writes
concat(M_con, M_sim)). The official code pairs matrices of different samples when the batch
holds more than one window (``cat(dim=0)`` then ``view``); this implementation stacks per
sample, which equals the official output at batch size 1.
"""

from __future__ import annotations

import torch
from torch import nn


class TCFM(nn.Module):
    """Args:
        channels: S, the per-frame feature length (2205 = 441 grid points × 5).
    """

    def __init__(self, channels: int = 2205) -> None:
        super().__init__()
        inner = channels // 2
        self.query = nn.Linear(channels, inner, bias=False)
        self.key = nn.Linear(channels, inner, bias=False)
        self.value = nn.Linear(channels, inner, bias=False)
        self.fuse = nn.Conv2d(2, 1, 1, bias=False)
        self.output = nn.Linear(inner, channels, bias=False)

    def attention(self, features: torch.Tensor) -> torch.Tensor:
        """M_g (B, T, T) of eq. 5 for Z_inp (B, T, S)."""
        similarity = torch.softmax(features @ features.transpose(1, 2), dim=-1)
        content = torch.softmax(self.query(features) @ self.key(features).transpose(1, 2), dim=-1)
        stacked = torch.stack([similarity, content], dim=1)  # (B, 2, T, T)
        return torch.softmax(self.fuse(stacked)[:, 0], dim=-1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Eq. 6: (B, T, S) → (B, T, S)."""
        return features + self.output(self.attention(features) @ self.value(features))
