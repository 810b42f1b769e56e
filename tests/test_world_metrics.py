"""World-frame measures (staf.evaluation.world) against an independent float64 Umeyama written
here with numpy, hand cases of drift and sliding, and camera rotations with known offsets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from staf.evaluation.world import camera_rotation_error, foot_sliding, segments, world_mpjpe


def umeyama(source: np.ndarray, target: np.ndarray):
    """Scale, rotation, translation with target ≈ s R source + t (Umeyama 1991, eqs. 38–42)."""
    mean_source, mean_target = source.mean(0), target.mean(0)
    centred_source, centred_target = source - mean_source, target - mean_target
    covariance = centred_target.T @ centred_source / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    fix = np.eye(3)
    fix[2, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rotation = u @ fix @ vt
    scale = np.trace(np.diag(singular) @ fix) / (centred_source ** 2).sum(axis=1).mean()
    return scale, rotation, mean_target - scale * rotation @ mean_source


def reference_w_mpjpe(pred, gt, fit_frames):
    errors = []
    for start in range(0, len(gt), 100):
        p, g = pred[start:start + 100], gt[start:start + 100]
        if len(g) < 10:
            continue
        count = len(g) if fit_frames is None else fit_frames
        s, r, t = umeyama(p[:count].reshape(-1, 3), g[:count].reshape(-1, 3))
        errors.append(np.linalg.norm(s * p @ r.T + t - g, axis=-1).mean(axis=-1))
    return 1000 * np.concatenate(errors).mean()


def walk(frames=250, seed=0):
    rng = np.random.default_rng(seed)
    body = rng.normal(0, 0.3, (24, 3))
    path = np.cumsum(rng.normal(0, 0.01, (frames, 3)), axis=0) + np.arange(frames)[:, None] * [0.03, 0, 0.01]
    return body[None] + path[:, None] + rng.normal(0, 0.01, (frames, 24, 3))


def test_segments_cover_the_sequence_in_hundreds():
    assert [(c.start, c.stop) for c in segments(250)] == [(0, 100), (100, 200), (200, 250)]
    assert [(c.start, c.stop) for c in segments(205)] == [(0, 100), (100, 200)]          # 5 frames left out
    assert [(c.start, c.stop) for c in segments(6)] == [(0, 6)]


@pytest.mark.parametrize("fit_frames", [2, None])
def test_w_and_wa_mpjpe_equal_an_independent_umeyama(fit_frames):
    gt = walk(seed=1)
    pred = walk(seed=2) * 0.9 + 0.5
    assert world_mpjpe(pred, gt, fit_frames) == pytest.approx(reference_w_mpjpe(pred, gt, fit_frames), rel=1e-9)


def test_a_moved_turned_and_scaled_copy_is_no_error_and_drift_shows_in_w_not_wa():
    gt = walk(seed=3)
    turn = Rotation.from_euler("y", 40, degrees=True).as_matrix()
    copy = 1.3 * gt @ turn.T + [2.0, -1.0, 5.0]
    assert world_mpjpe(copy, gt, 2) < 1e-6 and world_mpjpe(copy, gt, None) < 1e-6
    drift = gt + np.arange(len(gt))[:, None, None] * np.array([0.001, 0.0, 0.0])      # 1 mm/frame sideways
    w, wa = world_mpjpe(drift, gt, 2), world_mpjpe(drift, gt, None)
    assert w == pytest.approx(np.mean([abs(t % 100 - 0.5) for t in range(250)]), rel=0.15)   # ≈ 49 mm
    assert wa < w / 3


def test_foot_sliding_counts_only_the_planted_frames():
    gt = np.zeros((30, 1, 3))
    gt[15:, 0, 0] = 0.05 + np.arange(15) * 0.05                # planted for 15 frames, then swinging
    pred = gt.copy()
    pred[:15, 0, 2] = np.arange(15) * 0.004                    # slides 4 mm/frame while planted
    assert foot_sliding(pred, gt) == pytest.approx(4.0)
    assert np.isnan(foot_sliding(pred[15:], gt[15:]))


def test_camera_rotation_error_ignores_a_fixed_offset_and_sums_a_drift():
    frames = 61
    gt = Rotation.from_euler("y", np.linspace(0, 30, frames)[:, None], degrees=True).as_matrix()
    offset = Rotation.from_euler("x", 10, degrees=True).as_matrix()
    assert camera_rotation_error(gt @ offset, gt)["accumulated"] < 1e-6      # the same turns from another start
    drifting = Rotation.from_euler("y", (np.linspace(0, 30, frames) + 0.1 * np.arange(frames))[:, None],
                                  degrees=True).as_matrix()
    error = camera_rotation_error(drifting, gt)
    assert error["per_frame"] == pytest.approx(0.1, rel=1e-6)
    assert error["accumulated"] == pytest.approx(6.0, rel=1e-6) and error["true_turn"] == pytest.approx(30.0)
