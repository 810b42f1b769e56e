"""Average pooling module, APM (STAF §III-D, eq. 9).

The target frame's encoder feature is replaced by the mean of the T frames' features, so the
model relies less on the target frame alone; the other frames are unchanged.
"""

from __future__ import annotations

import torch


def average_pool_target(features: torch.Tensor, target_index: int) -> torch.Tensor:
    """Eq. 9: φ0[target] ← mean_t φ0[t].

    Args:
        features: (B, T, C, H, W) encoder features φ0.
        target_index: the target frame (T // 2 in STAF).

    Returns:
        (B, T, C, H, W), a new tensor; frames other than the target are unchanged.
    """
    pooled = features.clone()
    pooled[:, target_index] = features.mean(dim=1)
    return pooled
