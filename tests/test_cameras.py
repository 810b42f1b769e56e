"""Projection and camera conversions on hand-made cases and consistency checks."""

from __future__ import annotations

import numpy as np
import torch

from staf.geometry.cameras import (
    CropCamera,
    crop_cam_to_orig_cam,
    crop_perspective_project,
    crop_to_image_points,
    default_focal_length,
    image_to_crop_points,
    orig_cam_project,
    perspective_project,
    weak_perspective_project,
)


def test_weak_perspective_hand_case():
    points = torch.tensor([[[0.1, 0.2, 5.0], [-0.3, 0.0, -1.0]]])
    cam = torch.tensor([[2.0, 0.1, -0.1]])
    expected = torch.tensor([[[0.4, 0.2], [-0.4, -0.2]]])
    assert torch.allclose(weak_perspective_project(points, cam), expected)


def test_orig_cam_hand_case():
    # a 100-px box centred in a 200×100 image: sx = s·100/200, sy = s·100/100, no offset
    orig = crop_cam_to_orig_cam(torch.tensor([[1.0, 0.0, 0.0]]), torch.tensor([[100.0, 50.0, 100.0]]), 200, 100)
    assert torch.allclose(orig, torch.tensor([[0.5, 1.0, 0.0, 0.0]]))
    # a point at the body origin lands on the box centre
    pixel = orig_cam_project(torch.zeros(1, 1, 3), orig, 200, 100)
    assert torch.allclose(pixel, torch.tensor([[[100.0, 50.0]]]))


def test_orig_cam_reproduces_the_crop_projection_in_the_image():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(5, 30, 3, generator=generator, dtype=torch.float64)
    cam = torch.cat([torch.rand(5, 1, generator=generator, dtype=torch.float64) + 0.5,
                     torch.randn(5, 2, generator=generator, dtype=torch.float64) * 0.2], dim=1)
    bbox = torch.tensor([[300, 200, 150], [50, 60, 40], [640, 360, 500], [10, 700, 90], [400, 100, 220.0]],
                        dtype=torch.float64)
    width, height = 1280, 720
    through_crop = crop_to_image_points(weak_perspective_project(points, cam), bbox)
    through_orig = orig_cam_project(points, crop_cam_to_orig_cam(cam, bbox, width, height), width, height)
    assert (through_crop - through_orig).abs().max() < 1e-9
    assert (image_to_crop_points(through_crop, bbox) - weak_perspective_project(points, cam)).abs().max() < 1e-12


def test_cliff_translation_hand_case():
    translation = CropCamera().translation(
        torch.tensor([[1.0, 0.1, -0.2]]), torch.tensor([[500.0, 500.0, 200.0]]), (1000, 1000), 1000.0)
    # tz = 2f / (s·size) = 10; a centred box adds no offset to the crop translation
    assert torch.allclose(translation, torch.tensor([[0.1, -0.2, 10.0]]))


def test_cliff_translation_matches_weak_perspective_on_the_body_plane():
    generator = torch.Generator().manual_seed(1)
    points = torch.randn(4, 25, 3, generator=generator, dtype=torch.float64)
    points[..., 2] = 0.0  # exact on z = 0; elsewhere a perspective effect
    cam = torch.tensor([[0.9, 0.05, 0.1], [1.2, -0.1, 0.0], [0.6, 0.0, 0.3], [1.0, 0.2, -0.2]], dtype=torch.float64)
    bbox = torch.tensor([[300, 200, 150], [900, 500, 300], [640, 360, 600], [100, 650, 120.0]], dtype=torch.float64)
    width, height = 1280, 720
    focal = default_focal_length(width, height)
    translation = CropCamera().translation(cam, bbox, (width, height), focal)
    centre = torch.tensor([width / 2, height / 2], dtype=torch.float64)
    full = perspective_project(points, translation, focal, centre)
    weak = crop_to_image_points(weak_perspective_project(points, cam), bbox)
    assert (full - weak).abs().max() < 1e-9


def test_perspective_hand_case():
    pixel = perspective_project(torch.tensor([[[1.0, -0.5, 0.0]]]), torch.tensor([[0.0, 0.0, 5.0]]), 500.0,
                                torch.tensor([320.0, 240.0]))
    assert torch.allclose(pixel, torch.tensor([[[420.0, 190.0]]]))


def _pinhole_reference(points: np.ndarray, cam: np.ndarray, focal: float = 5000.0, size: float = 224.0) -> np.ndarray:
    """Float64 re-computation of PyMAF's ``projection``: intrinsics K, translation, divide by z,
    pixels about the crop centre divided by half the crop."""
    out = np.empty(points.shape[:2] + (2,))
    for b in range(len(points)):
        translation = np.array([cam[b, 1], cam[b, 2], 2 * focal / (size * cam[b, 0] + 1e-9)])
        intrinsics = np.array([[focal, 0, 0], [0, focal, 0], [0, 0, 1.0]])
        homogeneous = (intrinsics @ (points[b] + translation).T).T
        out[b] = homogeneous[:, :2] / homogeneous[:, 2:] / (size / 2)
    return out


def test_crop_projection_equals_a_float64_pinhole_recomputation():
    rng = np.random.default_rng(4)
    points = rng.normal(scale=0.5, size=(6, 40, 3))
    points[..., 2] = rng.uniform(-1.0, 1.0, size=(6, 40))      # depths of a body around its root
    cam = np.stack([rng.uniform(0.5, 1.5, 6), rng.normal(scale=0.2, size=6), rng.normal(scale=0.2, size=6)], -1)
    ours = crop_perspective_project(torch.tensor(points, dtype=torch.float32), torch.tensor(cam, dtype=torch.float32))
    assert np.abs(ours.double().numpy() - _pinhole_reference(points, cam)).max() < 1e-6
    # float64 input keeps float64 precision
    ours64 = crop_perspective_project(torch.tensor(points), torch.tensor(cam))
    assert np.abs(ours64.numpy() - _pinhole_reference(points, cam)).max() < 1e-12


def test_crop_projection_is_weak_perspective_scaled_by_relative_depth():
    generator = torch.Generator().manual_seed(5)
    points = torch.randn(4, 30, 3, generator=generator, dtype=torch.float64)
    cam = torch.tensor([[0.9, 0.1, -0.2], [1.2, 0.0, 0.3], [0.6, -0.4, 0.0], [1.0, 0.2, 0.2]], dtype=torch.float64)
    weak = weak_perspective_project(points, cam)
    factor = 1.0 / (1.0 + 224.0 * cam[:, None, :1] * points[..., 2:3] / 10000.0)
    # (the official +1e-9 in tz's denominator accounts for ~1e-11)
    assert torch.allclose(crop_perspective_project(points, cam), weak * factor, atol=1e-9, rtol=0)
    # the two agree only on the plane Z = 0, and differ by about 2 % per metre of depth
    flat = points.clone()
    flat[..., 2] = 0.0
    assert torch.allclose(crop_perspective_project(flat, cam), weak_perspective_project(flat, cam), atol=1e-12)
    one_metre = torch.tensor([[[0.5, 0.5, 1.0]]], dtype=torch.float64)
    ratio = crop_perspective_project(one_metre, cam[:1]) / weak_perspective_project(one_metre, cam[:1])
    assert torch.allclose(ratio, torch.full_like(ratio, 1 / (1 + 224 * 0.9 / 10000)))


def test_crop_points_to_camera_lands_on_the_crop_projection():
    """Several people, each seen by their own official crop camera, drawn by one pinhole camera:
    same pixels (float64), and the depth is CLIFF's tz for the body origin."""
    from staf.geometry.cameras import (
        CropCamera,
        crop_perspective_project,
        crop_points_to_camera,
        crop_to_image_points,
        perspective_project,
    )

    generator = torch.Generator().manual_seed(0)
    points = torch.randn(3, 20, 3, generator=generator, dtype=torch.float64) * 0.4
    cam = torch.tensor([[0.9, 0.1, 0.2], [1.2, -0.1, 0.3], [0.5, 0.0, 0.0]], dtype=torch.float64)
    boxes = torch.tensor([[300.0, 200, 150], [800, 500, 400], [100, 90, 60]], dtype=torch.float64)
    focal, principal = 1468.6, torch.tensor([639.5, 359.5], dtype=torch.float64)
    expected = crop_to_image_points(crop_perspective_project(points, cam), boxes)
    shared = crop_points_to_camera(points, cam, boxes, focal, principal)
    pixels = perspective_project(shared, torch.zeros(3, 3, dtype=torch.float64), focal, principal)
    assert (pixels - expected).abs().max() < 1e-9
    origin = crop_points_to_camera(torch.zeros(3, 1, 3, dtype=torch.float64), cam, boxes, focal, principal)[:, 0]
    cliff = CropCamera().translation(cam, boxes, (1280, 720), focal)
    torch.testing.assert_close(origin[:, 2], cliff[:, 2], rtol=1e-9, atol=0)


def test_pinhole_intrinsics_put_the_axis_at_the_image_centre():
    """A point on the optical axis lands on ((W − 1) / 2, (H − 1) / 2); one 1 m right and 0.5 m
    down at 4 m depth lands f/4 and f/8 pixels off it (float64 re-computation)."""
    from staf.geometry.cameras import pinhole_intrinsics

    matrix = pinhole_intrinsics(1000.0, 641, 480)
    assert matrix.dtype == np.float64 and matrix.shape == (3, 3)
    for point, expected in (([0.0, 0.0, 2.0], [320.0, 239.5]), ([1.0, 0.5, 4.0], [570.0, 364.5])):
        pixel = matrix @ np.array(point)
        np.testing.assert_allclose(pixel[:2] / pixel[2], expected, atol=1e-12)
