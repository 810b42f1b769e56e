"""Recurrent Refinement Module (TAR §3.3, Fig. 5; after ReFit's feedback loop).

Each of L iterations (5):

1. the K = 26 markers of the current estimate Φ_l (detached) are projected into the crop
   through the full-image camera (eqs. 5–6, :func:`~staf.geometry.cameras.cliff_crop_project`);
2. around each projection the temporal local features are read in a window of radius r = 3
   feature-map pixels, ``‖j − j_k‖ ≤ r`` (eq. 7: the 29 grid offsets of the disc), from a map of
   one channel per marker (a 1×1 convolution of m, ReFit's layout); each marker's window is
   reduced to 5 numbers by its own linear layer and the K × 5 numbers by a linear layer;
3. the feedback ``s_l = [samples, Φ_l, v^cliff]`` (eq. 8) updates the 26 GRUs (eq. 9), whose
   hidden states start from the GTE's (ReFit starts from zeros);
4. the 26 regressors map the hidden states to ΔΦ_l and ``Φ_{l+1} = Φ_l + ΔΦ_l``.
"""

from __future__ import annotations

import torch
from torch import nn

from staf.models.staf.sampling import sample_features
from staf.models.tar.regressor import NUM_HEADS, MultiLinear


def disc_offsets(radius: int) -> torch.Tensor:
    """(P, 2) integer offsets (x, y) with x² + y² ≤ radius² (eq. 7's window), row-major."""
    axis = torch.arange(-radius, radius + 1, dtype=torch.float32)
    y, x = torch.meshgrid(axis, axis, indexing="ij")
    offsets = torch.stack([x.reshape(-1), y.reshape(-1)], dim=-1)
    return offsets[(offsets**2).sum(-1) <= radius**2]


class MultiGRU(nn.Module):
    """26 GRUs, one per hidden state, each with its own weights (eq. 9): (B, 26, H) states and
    (B, I) feedback → (B, 26, H)."""

    def __init__(self, hidden: int, inputs: int, heads: int = NUM_HEADS) -> None:
        super().__init__()
        self.gates = MultiLinear(heads, hidden + inputs, 2 * hidden)
        self.candidate = MultiLinear(heads, hidden + inputs, hidden)

    def forward(self, hidden: torch.Tensor, feedback: torch.Tensor) -> torch.Tensor:
        inputs = feedback[:, None].expand(-1, hidden.shape[1], -1)
        update, reset = torch.sigmoid(self.gates(torch.cat([hidden, inputs], dim=-1))).chunk(2, dim=-1)
        candidate = torch.tanh(self.candidate(torch.cat([reset * hidden, inputs], dim=-1)))
        return (1 - update) * hidden + update * candidate


class MarkerFeedback(nn.Module):
    """Steps 2 of the loop: temporal local features m (B, D, h, w) and marker positions (B, K, 2)
    in normalised crop coordinates → the local part of the feedback (B, local_dim).

    Args:
        channels: D.
        markers: K.
        radius: r in feature-map pixels (3).
        per_marker: numbers each marker's window is reduced to (5, ReFit's).
        local_dim: width of the local feedback (256, ReFit's).
    """

    def __init__(self, channels: int, markers: int, radius: int = 3, per_marker: int = 5, local_dim: int = 256) -> None:
        super().__init__()
        self.register_buffer("offsets", disc_offsets(radius), persistent=False)
        self.marker_maps = nn.Conv2d(channels, markers, 1)
        self.per_marker = MultiLinear(markers, len(self.offsets), per_marker)
        self.local = nn.Linear(markers * per_marker, local_dim)

    def maps(self, local: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) → (B, K, h, w), one map per marker (computed once per window)."""
        return self.marker_maps(local)

    def forward(self, marker_maps: torch.Tensor, markers: torch.Tensor) -> torch.Tensor:
        batch, count, height, width = marker_maps.shape
        # a feature-map pixel is 2 / (size − 1) in normalised units (align_corners=True sampling)
        step = torch.tensor([2.0 / (width - 1), 2.0 / (height - 1)], device=markers.device, dtype=markers.dtype)
        points = markers[:, :, None] + self.offsets.to(markers.dtype) * step                # (B, K, P, 2)
        samples = sample_features(marker_maps.reshape(batch * count, 1, height, width),
                                  points.reshape(batch * count, -1, 2)).reshape(batch, count, -1)
        return self.local(torch.relu(self.per_marker(samples)).flatten(1))
