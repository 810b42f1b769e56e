"""Metrics on hand-made cases with known answers and against a float64 numpy re-computation."""

from __future__ import annotations

import numpy as np
import torch

from staf.evaluation import metrics
from staf.geometry.rotations import axis_angle_to_matrix

LSP_HIPS = (2, 3)


def random_joints(n: int = 8, j: int = 14, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, j, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 0.3


def test_similarity_transformed_copy_has_zero_pa_mpjpe_but_not_zero_mpjpe():
    gt = random_joints()
    rotation = axis_angle_to_matrix(torch.tensor([[0.3, -0.5, 0.2]], dtype=torch.float64))
    pred = 1.3 * gt @ rotation.transpose(1, 2) + torch.tensor([0.1, 0.2, 3.0], dtype=torch.float64)
    assert metrics.pa_mpjpe(pred, gt).max() < 1e-9
    assert metrics.mpjpe(pred, gt, LSP_HIPS).min() > 10.0


def test_known_offset_gives_known_mpjpe():
    gt = random_joints()
    pred = gt.clone()
    pred[:, 5] += torch.tensor([0.0, 0.014, 0.0], dtype=torch.float64)  # 14 mm on one of 14 joints (not a hip)
    assert torch.allclose(metrics.mpjpe(pred, gt, LSP_HIPS), torch.full((8,), 1.0, dtype=torch.float64))
    shifted = gt + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)  # a global shift is centred away
    assert metrics.mpjpe(shifted, gt, LSP_HIPS).max() < 1e-9
    assert metrics.mpjpe(shifted, gt, 0).max() < 1e-9


def test_a_mirror_image_is_not_forgiven_by_pa_mpjpe():
    gt = random_joints()
    mirrored = gt * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    assert metrics.pa_mpjpe(mirrored, gt).min() > 1.0


def test_constant_velocity_motion_has_zero_acceleration_error():
    gt = random_joints(n=20)
    t = torch.arange(20, dtype=torch.float64)[:, None, None]
    pred = gt + 0.01 * t * torch.tensor([1.0, 0.5, -0.2], dtype=torch.float64) + 0.3
    assert metrics.accel_error(pred, gt).abs().max() < 1e-9
    assert metrics.accel_error(pred + 0.001 * t**2, gt).min() > 1.0  # acceleration is caught
    curve = metrics.accel_error(gt + 0.002 * t**2 * torch.tensor([1.0, 0, 0], dtype=torch.float64), gt)
    assert torch.allclose(curve, torch.full((18,), 4.0, dtype=torch.float64))  # 2·0.002 m = 4 mm/frame²
    assert abs(metrics.to_metres_per_second_squared(4.0, 30.0) - 3.6) < 1e-12


def numpy_reference(pred: np.ndarray, gt: np.ndarray):
    """float64 numpy MPJPE (mid-hip pelvis), PA-MPJPE (Umeyama), accel error."""
    pelvis = lambda x: x - x[:, [2, 3]].mean(1, keepdims=True)  # noqa: E731
    mpjpe = np.linalg.norm(pelvis(pred) - pelvis(gt), axis=-1).mean(-1) * 1000
    pa = []
    for p, g in zip(pred, gt):
        mp, mg = p.mean(0), g.mean(0)
        u, d, vt = np.linalg.svd((g - mg).T @ (p - mp))
        s = np.diag([1, 1, np.sign(np.linalg.det(u @ vt))])
        r = u @ s @ vt
        scale = np.trace(np.diag(d) @ s) / ((p - mp) ** 2).sum()
        aligned = scale * (p - mp) @ r.T + mg
        pa.append(np.linalg.norm(aligned - g, axis=-1).mean() * 1000)
    accel = np.linalg.norm((pred[2:] - 2 * pred[1:-1] + pred[:-2]) - (gt[2:] - 2 * gt[1:-1] + gt[:-2]), axis=-1)
    return mpjpe, np.array(pa), accel.mean(-1) * 1000


def test_against_float64_recomputation_on_random_data():
    gt = random_joints(n=30, seed=1)
    pred = gt + random_joints(n=30, seed=2) * 0.2
    mpjpe, pa, accel = numpy_reference(pred.numpy(), gt.numpy())
    assert np.allclose(metrics.mpjpe(pred.float(), gt.float(), LSP_HIPS).numpy(), mpjpe, atol=1e-3)
    assert np.allclose(metrics.pa_mpjpe(pred.float(), gt.float()).numpy(), pa, atol=1e-3)
    assert np.allclose(metrics.accel_error(pred.float(), gt.float()).numpy(), accel, atol=1e-3)


def test_accel_of_two_concatenated_sequences_is_the_frame_weighted_mean():
    first_gt, second_gt = random_joints(n=12, seed=3), random_joints(n=7, seed=4) + 5.0  # a jump between videos
    first_pred, second_pred = first_gt + random_joints(12, seed=5) * 0.05, second_gt + random_joints(7, seed=6) * 0.05
    separate = [metrics.accel_error(first_pred, first_gt), metrics.accel_error(second_pred, second_gt)]
    expected = (separate[0].sum() + separate[1].sum()) / (10 + 5)
    together = metrics.accel_error_by_sequence(torch.cat([first_pred, second_pred]), torch.cat([first_gt, second_gt]),
                                               [12, 7])
    assert torch.allclose(together, expected)
    leaky = metrics.accel_error(torch.cat([first_pred, second_pred]), torch.cat([first_gt, second_gt])).mean()
    assert not torch.allclose(leaky, expected)


def test_interior_valid_needs_the_whole_stencil():
    valid = torch.tensor([1, 1, 1, 0, 1, 1, 1, 1], dtype=torch.bool)
    assert metrics.interior_valid(valid, 8).tolist() == [True, False, False, False, True, True]
