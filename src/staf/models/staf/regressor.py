"""Iterative error feedback regressor (HMR/SPIN, used by STAF §III-D for each of 3 stages).

Input [feature, pose (24 × 6D), β (10), camera (3)] → FC 1024 → Dropout → FC 1024 → Dropout →
Δpose (144), Δβ (10), Δcam (3); the new parameters are the old plus the deltas. The output layers
start Xavier-uniform with gain 0.01 so the first prediction is close to the initial parameters.
"""

from __future__ import annotations

import torch
from torch import nn


class IEFRegressor(nn.Module):
    """One IEF step. Args: feature_dim (2205 or 2155), hidden (1024), num_betas (10), dropout (0.5)."""

    def __init__(self, feature_dim: int, hidden: int = 1024, num_betas: int = 10, num_joints: int = 24,
                 dropout: float = 0.5) -> None:
        super().__init__()
        pose_dim = num_joints * 6
        self.fc1 = nn.Linear(feature_dim + pose_dim + num_betas + 3, hidden)
        self.drop1 = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)
        self.drop2 = nn.Dropout(dropout)
        self.decpose = nn.Linear(hidden, pose_dim)
        self.decshape = nn.Linear(hidden, num_betas)
        self.deccam = nn.Linear(hidden, 3)
        for layer in (self.decpose, self.decshape, self.deccam):
            nn.init.xavier_uniform_(layer.weight, gain=0.01)

    def forward(self, features: torch.Tensor, pose_6d: torch.Tensor, betas: torch.Tensor,
                cam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, F), (N, 144), (N, K), (N, 3) → updated (pose_6d, betas, cam)."""
        hidden = self.drop1(self.fc1(torch.cat([features, pose_6d, betas, cam], dim=1)))
        hidden = self.drop2(self.fc2(hidden))
        return pose_6d + self.decpose(hidden), betas + self.decshape(hidden), cam + self.deccam(hidden)
