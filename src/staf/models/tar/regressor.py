"""The 26-head parameter regressor (TAR §3.1.2, Fig. 3b; the "26 individual regressors" of §3.3.2).

Following ReFit (Wang & Daniilidis 2023), the SMPL parameters are disentangled into 26 hidden
states: 24 joint rotations (global orientation + 23 body joints, 6D each), the shape β and the
camera. Head n maps ``[h_n, v^cliff]`` through its own MLP to its update: 6 numbers for a joint,
K for β, 3 for the camera ``[s, tx, ty]``. :class:`MultiLinear` holds the per-head weights of
many heads in one tensor (one batched matrix product instead of 24 small layers).
"""

from __future__ import annotations

import math

import torch
from torch import nn

#: hidden states: 24 joint rotations, shape, camera
NUM_HEADS = 26
NUM_JOINT_HEADS = 24


class MultiLinear(nn.Module):
    """``heads`` independent linear layers: (B, heads, in) → (B, heads, out)."""

    def __init__(self, heads: int, in_features: int, out_features: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.empty(heads, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(heads, out_features).uniform_(-bound, bound))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bhi,hio->bho", inputs, self.weight) + self.bias


class ParameterRegressor(nn.Module):
    """Hidden states (B, 26, H) and box vectors (B, 3) → updates (pose 6D (B, 144), β (B, K), camera (B, 3)).

    Args:
        hidden: H, the size of each hidden state.
        width: the width of each head's MLP.
        num_betas: K.
        layers: hidden layers of each head's MLP (ReLU after each).
    """

    def __init__(self, hidden: int, width: int, num_betas: int, layers: int = 1) -> None:
        super().__init__()
        blocks, size = [], hidden + 3
        for _ in range(layers):
            blocks += [MultiLinear(NUM_HEADS, size, width), nn.ReLU()]
            size = width
        self.mlp = nn.Sequential(*blocks)
        self.pose = MultiLinear(NUM_JOINT_HEADS, size, 6)
        self.shape = nn.Linear(size, num_betas)
        self.cam = nn.Linear(size, 3)
        for layer in (self.pose, self.shape, self.cam):       # start at the initial estimate
            nn.init.normal_(layer.weight, std=1e-3)
            nn.init.zeros_(layer.bias)

    def forward(self, hidden: torch.Tensor, bbox_info: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch = hidden.shape[0]
        features = self.mlp(torch.cat([hidden, bbox_info[:, None].expand(-1, NUM_HEADS, -1)], dim=-1))
        pose = self.pose(features[:, :NUM_JOINT_HEADS]).reshape(batch, NUM_JOINT_HEADS * 6)
        return pose, self.shape(features[:, NUM_JOINT_HEADS]), self.cam(features[:, NUM_JOINT_HEADS + 1])
