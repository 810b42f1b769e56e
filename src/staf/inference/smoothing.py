"""One-Euro filtering of a track's motion (``staf demo --smooth``), rotations on SO(3).

The One-Euro filter (Casiez, Roussel and Vogel, CHI 2012) low-passes a signal with a cutoff
that rises with its speed: ``fc = min_cutoff + beta·|ẋ|``, smoothing ``α = 1 / (1 + τ/Tₑ)`` with
``τ = 1 / (2π fc)``, so slow motion is smoothed hard (less jitter) and fast motion little (less
lag); the speed itself is low-passed at ``d_cutoff``.

Rotations are filtered on the manifold, not on axis-angle numbers: the step from the last
filtered rotation R̂ to the new one is ``ω = log(R̂ᵀ R)`` (a rotation vector, via roma), the
speed is ``ω / Tₑ``, and the filtered rotation is ``R̂ · exp(α ω)``: always a rotation, and
for rotations about one fixed axis exactly the scalar filter on the angle. Translations are
filtered per coordinate.
"""

from __future__ import annotations

import dataclasses
import math

import roma
import torch

from staf.errors import InvalidInputError


@dataclasses.dataclass(frozen=True)
class OneEuroConfig:
    """``min_cutoff`` (Hz): smoothing at rest; ``beta`` (s per unit of speed): how fast the
    cutoff rises with speed; ``d_cutoff`` (Hz): the speed's own low-pass; ``fps``: frame rate."""

    min_cutoff: float = 1.0
    beta: float = 0.5
    d_cutoff: float = 1.0
    fps: float = 30.0

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff", "fps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidInputError(f"One-Euro {name} must be a positive number, got {value}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise InvalidInputError(f"One-Euro beta must be ≥ 0, got {self.beta}")


def smoothing_factor(cutoff: torch.Tensor | float, period: float) -> torch.Tensor | float:
    """α for a first-order low-pass of ``cutoff`` Hz sampled every ``period`` seconds."""
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / period)


def smooth_rotations(rotations: torch.Tensor, config: OneEuroConfig = OneEuroConfig()) -> torch.Tensor:
    """(T, …, 3, 3) rotation matrices over T frames → filtered, same shape (every rotation of the
    trailing dimensions, e.g. the 24 joints, filtered independently)."""
    period = 1.0 / config.fps
    filtered = [rotations[0]]
    speed = torch.zeros(rotations.shape[1:-2] + (3,), dtype=rotations.dtype, device=rotations.device)
    alpha_speed = smoothing_factor(config.d_cutoff, period)
    for frame in range(1, len(rotations)):
        step = roma.rotmat_to_rotvec(filtered[-1].transpose(-1, -2) @ rotations[frame])   # (…, 3)
        speed = speed + alpha_speed * (step / period - speed)
        cutoff = config.min_cutoff + config.beta * speed.norm(dim=-1, keepdim=True)
        alpha = smoothing_factor(cutoff, period)
        filtered.append(filtered[-1] @ roma.rotvec_to_rotmat(alpha * step))
    return torch.stack(filtered)


def smooth_vectors(values: torch.Tensor, config: OneEuroConfig = OneEuroConfig()) -> torch.Tensor:
    """(T, …) values over T frames (e.g. translations (T, 3)) → filtered per coordinate."""
    period = 1.0 / config.fps
    filtered = [values[0]]
    speed = torch.zeros_like(values[0])
    alpha_speed = smoothing_factor(config.d_cutoff, period)
    for frame in range(1, len(values)):
        step = values[frame] - filtered[-1]
        speed = speed + alpha_speed * (step / period - speed)
        alpha = smoothing_factor(config.min_cutoff + config.beta * speed.abs(), period)
        filtered.append(filtered[-1] + alpha * step)
    return torch.stack(filtered)
