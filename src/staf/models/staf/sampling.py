"""Grid and mesh-projection sampling with the point-wise MLP (STAF §III-B, eqs. 2–3).

Features φ_k (N, 256, H, W) are read at points in normalised crop coordinates [-1, 1]² by
bilinear ``grid_sample`` (align_corners=True): at a fixed 21×21 grid in stage 1, at the
official crop-camera projections (``crop_perspective_project``) of the 431 down-sampled mesh vertices in stages 2 and 3. A
point-wise MLP (PyMAF's mesh-aligned feature extractor) reduces each point's 256 channels to 5;
the point features are flattened channel-major: (N, 5·P) = 2205 (grid) or 2155 (mesh).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def grid_points(grid_size: int = 21) -> torch.Tensor:
    """(grid_size², 2) points (x, y) on [-1, 1]², x-major (the official ``points_grid`` order)."""
    axis = torch.linspace(-1.0, 1.0, grid_size)
    x, y = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)


def sample_features(features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear features at points.

    Args:
        features: (N, C, H, W).
        points: (N, P, 2) normalised (x, y) in [-1, 1].

    Returns:
        (N, C, P).
    """
    return F.grid_sample(features, points.unsqueeze(2), mode="bilinear", align_corners=True)[..., 0]


class PointFeatureMLP(nn.Module):
    """Point-wise MLP 256 → 128 → 64 → 5 with the input re-concatenated before every layer
    after the first; leaky ReLU between layers, ReLU at the end (1×1 Conv1d as in PyMAF).

    Args:
        channels: (C_in, hidden…, C_out), (256, 128, 64, 5) in STAF.
    """

    def __init__(self, channels: tuple[int, ...] = (256, 128, 64, 5)) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Conv1d(channels[i] + (channels[0] if i > 0 else 0), channels[i + 1], 1)
            for i in range(len(channels) - 1)
        )

    def forward(self, point_features: torch.Tensor) -> torch.Tensor:
        """(N, C_in, P) → (N, C_out·P), channel-major.

        The 1×1 convolutions are computed as matrix products on channel-last features (the
        same parameters; several times faster than ``conv1d`` on CPUs)."""
        inputs = point_features.transpose(1, 2)  # (N, P, C_in)
        y = inputs
        for index, layer in enumerate(self.layers):
            y = F.linear(y if index == 0 else torch.cat([y, inputs], dim=-1), layer.weight[..., 0], layer.bias)
            y = F.leaky_relu(y) if index < len(self.layers) - 1 else F.relu(y)
        return y.transpose(1, 2).flatten(1)
