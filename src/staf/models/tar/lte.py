"""Local Temporal Encoder (TAR §3.2, Fig. 4; the down-sampled variant of Appendix B.1, Fig. S1).

A bidirectional ConvGRU over the L static local maps around the middle frame (L ≤ T, τ = ⌊(L−1)/2⌋):
the past branch runs m_0 … m_τ forwards, the future branch m_{L−1} … m_τ backwards, both from
zero hidden maps of the inputs' shape. Their last hidden maps are concatenated and projected by
a convolution into the temporal local features m. Each step is eqs. 1–4:

    Z_t = σ(W_z * m_t + U_z * h_{t−1})                 (1)
    R_t = σ(W_r * m_t + U_r * h_{t−1})                 (2)  (the paper prints U_z; U_r is meant)
    h̃_t = tanh(W * m_t + U * (R_t ∘ h_{t−1}))           (3)
    h_t = (1 − Z_t) ∘ h_{t−1} + Z_t ∘ h̃_t               (4)

with 3×3 convolutions (W and U of one gate are one convolution over ``[m_t, h_{t−1}]``).
``hidden_size`` S < h: strided 3×3 convolutions (stride 2, ReLU) shrink each map to S×S before
the ConvGRUs and transposed convolutions restore h×w after the concatenation (Fig. S1).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class ConvGRUCell(nn.Module):
    """One ConvGRU step (eqs. 1–4) on (B, D, h, w) maps."""

    def __init__(self, channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.gates = nn.Conv2d(2 * channels, 2 * channels, kernel_size, padding=padding)   # [Z, R] (eqs. 1–2)
        self.candidate = nn.Conv2d(2 * channels, channels, kernel_size, padding=padding)   # h̃ (eq. 3)

    def forward(self, inputs: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        update, reset = torch.sigmoid(self.gates(torch.cat([inputs, hidden], dim=1))).chunk(2, dim=1)
        candidate = torch.tanh(self.candidate(torch.cat([inputs, reset * hidden], dim=1)))
        return (1 - update) * hidden + update * candidate


class LocalTemporalEncoder(nn.Module):
    """Args:
        channels: D of the local maps.
        map_size: h (= w) of the local maps.
        hidden_size: S, the ConvGRUs' map size (None or h: full resolution, the paper's main model).
    """

    def __init__(self, channels: int, map_size: int, hidden_size: int | None = None) -> None:
        super().__init__()
        hidden_size = map_size if hidden_size is None else hidden_size
        steps = math.log2(map_size / hidden_size)
        if hidden_size > map_size or steps != int(steps):
            raise ValueError(f"LTE hidden size {hidden_size} must be the local map size {map_size} divided by a power of 2")
        steps = int(steps)
        self.down = nn.Sequential(*(layer for _ in range(steps) for layer in
                                    (nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(inplace=True))))
        self.past = ConvGRUCell(channels)
        self.future = ConvGRUCell(channels)
        if steps == 0:
            self.project = nn.Conv2d(2 * channels, channels, 3, padding=1)
        else:
            layers = []
            for index in range(steps):
                layers.append(nn.ConvTranspose2d(2 * channels if index == 0 else channels, channels, 4, stride=2, padding=1))
                if index < steps - 1:
                    layers.append(nn.ReLU(inplace=True))
            self.project = nn.Sequential(*layers)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, L, D, h, w) static local maps → (B, D, h, w) temporal local features m of frame τ."""
        batch, length = maps.shape[:2]
        middle = (length - 1) // 2
        encoded = self.down(maps.flatten(0, 1)).unflatten(0, (batch, length))
        past = self._run(self.past, encoded[:, : middle + 1])
        future = self._run(self.future, encoded[:, middle:].flip(1))
        return self.project(torch.cat([past, future], dim=1))

    @staticmethod
    def _run(cell: ConvGRUCell, sequence: torch.Tensor) -> torch.Tensor:
        hidden = torch.zeros_like(sequence[:, 0])
        for step in range(sequence.shape[1]):
            hidden = cell(sequence[:, step], hidden)
        return hidden
