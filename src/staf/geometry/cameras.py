"""Cameras: the crop camera (official perspective rule, weak perspective), its conversions to
the original image, CLIFF.

Conventions (STAF §III-A; the reference sheet):

- A crop is a square box ``(cx, cy, size)`` in image pixels; normalised crop coordinates
  are in [-1, 1] (``x_pixel = cx + x_norm · size / 2``).
- Crop camera ``[s, tx, ty]``, projected as the official STAF code (PyMAF's ``projection``)
  does: a perspective camera of focal length 5000 px on a 224-px crop at translation
  ``[tx, ty, 2·5000 / (224·s)]``, so X projects to ``s · (X_xy + [tx, ty]) / (1 + 224·s·Z / 10000)``
  in normalised crop coordinates (:func:`crop_perspective_project`). At Z = 0 this is the
  weak-perspective ``s · (X_xy + [tx, ty])`` (:func:`weak_perspective_project`), which is what
  VIBE's ``orig_cam`` (below) and CLIFF's translation assume.
- ``orig_cam = [sx, sy, tx, ty]`` (VIBE/TCMR/STAF output files): the same projection in
  normalised *image* coordinates, ``x_norm = sx (X + tx)``, ``y_norm = sy (Y + ty)`` with
  ``x_pixel = (x_norm + 1) · W / 2``, ``y_pixel = (y_norm + 1) · H / 2``.
- Full perspective (CLIFF, Li et al. ECCV 2022): camera at the origin looking down +z,
  focal length f in pixels, principal point at the image centre, and a body translation
  ``[tx, ty, tz]`` derived from the crop camera and the box.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch


def weak_perspective_project(points: torch.Tensor, cam: torch.Tensor) -> torch.Tensor:
    """Weak perspective: (B, N, 3) points, (B, 3) cameras [s, tx, ty] → (B, N, 2) normalised crop
    coordinates ``s · (X_xy + [tx, ty])``, depth ignored. This is *not* what STAF's network does
    (see :func:`crop_perspective_project`); it is the rule behind VIBE's ``orig_cam``."""
    scale, offset = cam[:, None, :1], cam[:, None, 1:]
    return scale * (points[..., :2] + offset)


#: The official crop camera: focal length in pixels and the crop size it is defined on (PyMAF /
#: STAF ``lib/utils/geometry.py``: ``projection``).
OFFICIAL_FOCAL_LENGTH = 5000.0
OFFICIAL_CROP_SIZE = 224.0


def crop_perspective_project(points: torch.Tensor, cam: torch.Tensor, focal_length: float = OFFICIAL_FOCAL_LENGTH,
                             crop_size: float = OFFICIAL_CROP_SIZE) -> torch.Tensor:
    """The official STAF projection of (B, N, 3) points with (B, 3) crop cameras [s, tx, ty] →
    (B, N, 2) normalised crop coordinates in [-1, 1].

    A pinhole camera of ``focal_length`` pixels on a ``crop_size``-pixel crop, principal point at
    the crop centre, the body translated by ``[tx, ty, tz]`` with ``tz = 2 f / (crop_size · s)``
    (the official code adds 1e-9 to the denominator, kept here), the pixels divided by half the
    crop. Equivalently ``s · (X_xy + [tx, ty]) / (1 + crop_size · s · Z / (2 f))``: weak
    perspective scaled by the point's relative depth. Used wherever the official code calls
    ``projection``: the stage-2/3 mesh sampling points (STAF eq. 3) and every stage's 2D
    keypoints, hence the 2D loss (eq. 11).
    """
    scale = cam[:, None, :1]
    depth = 2.0 * focal_length / (crop_size * scale + 1e-9)                # (B, 1, 1)
    shifted_xy = points[..., :2] + cam[:, None, 1:]
    return focal_length * shifted_xy / (points[..., 2:3] + depth) / (crop_size / 2.0)


def crop_points_to_camera(points: torch.Tensor, cam: torch.Tensor, bbox: torch.Tensor, focal_length: torch.Tensor | float,
                          principal_point: torch.Tensor) -> torch.Tensor:
    """Body points (B, N, 3) of crops (B, 3) [cx, cy, size] with crop cameras (B, 3) → points in
    one shared pinhole camera (``focal_length`` px, ``principal_point`` (2,) px) that project to
    exactly the pixels :func:`crop_perspective_project` + :func:`crop_to_image_points` give.

    The official crop camera is a pinhole of focal ``f_p = 5000 · size / 224`` px at the box
    centre, the body at ``P = X + [tx, ty, 2·5000/(224·s)]``. In a camera of focal f at c0 the
    point ``[P_x + P_z (cx − c0_x)/f_p, P_y + P_z (cy − c0_y)/f_p, P_z · f/f_p]`` lands on the same
    pixel; its depth ``P_z · f/f_p`` is CLIFF's. Used to draw several people, each seen by their
    own crop camera, in one rendering of the frame."""
    size = bbox[:, 2:3, None]
    focal_crop = OFFICIAL_FOCAL_LENGTH * size / OFFICIAL_CROP_SIZE                     # (B, 1, 1)
    depth = 2.0 * OFFICIAL_FOCAL_LENGTH / (OFFICIAL_CROP_SIZE * cam[:, 0] + 1e-9)
    shifted = points + torch.cat([cam[:, 1:], depth[:, None]], dim=-1)[:, None]       # (B, N, 3)
    focal = torch.as_tensor(focal_length, dtype=points.dtype, device=points.device).reshape(-1, 1, 1)
    offset = (bbox[:, None, :2] - principal_point.to(points.dtype).reshape(1, 1, 2)) / focal_crop
    return torch.cat([shifted[..., :2] + shifted[..., 2:3] * offset, shifted[..., 2:3] * focal / focal_crop], dim=-1)


def crop_to_image_points(points: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """(B, N, 2) normalised crop coordinates → image pixels for boxes (B, 3) [cx, cy, size]."""
    return bbox[:, None, :2] + points * bbox[:, None, 2:3] / 2.0


def image_to_crop_points(pixels: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`crop_to_image_points`."""
    return (pixels - bbox[:, None, :2]) * 2.0 / bbox[:, None, 2:3]


def crop_cam_to_orig_cam(cam: torch.Tensor, bbox: torch.Tensor, image_width: float, image_height: float) -> torch.Tensor:
    """Crop camera (B, 3) [s, tx, ty] and box (B, 3) [cx, cy, size] → (B, 4) [sx, sy, tx, ty].

    This is VIBE's ``convert_crop_cam_to_orig_img``: the projection is the same point in the
    image whichever camera is used.
    """
    cx, cy, size = bbox.unbind(-1)
    sx = cam[:, 0] * size / image_width
    sy = cam[:, 0] * size / image_height
    tx = (cx - image_width / 2.0) / (image_width / 2.0) / sx + cam[:, 1]
    ty = (cy - image_height / 2.0) / (image_height / 2.0) / sy + cam[:, 2]
    return torch.stack([sx, sy, tx, ty], dim=-1)


def orig_cam_project(points: torch.Tensor, orig_cam: torch.Tensor, image_width: float, image_height: float) -> torch.Tensor:
    """Project (B, N, 3) points with (B, 4) ``orig_cam`` → (B, N, 2) image pixels."""
    sx, sy, tx, ty = (orig_cam[:, None, i] for i in range(4))
    x_norm = sx * (points[..., 0] + tx)
    y_norm = sy * (points[..., 1] + ty)
    return torch.stack([(x_norm + 1.0) * image_width / 2.0, (y_norm + 1.0) * image_height / 2.0], dim=-1)


def default_focal_length(image_width: float, image_height: float) -> float:
    """CLIFF's default focal length: the image diagonal in pixels."""
    return float((image_width**2 + image_height**2) ** 0.5)


def pinhole_intrinsics(focal: float, image_width: int, image_height: int) -> np.ndarray:
    """(3, 3) float64 K of a camera with square pixels and its principal point at the image's
    centre, ((W − 1) / 2, (H − 1) / 2) in pixel-centre coordinates (the camera stage's rule)."""
    return np.array([[focal, 0, (image_width - 1) / 2], [0, focal, (image_height - 1) / 2], [0, 0, 1.0]])


def perspective_project(
    points: torch.Tensor, translation: torch.Tensor, focal_length: float | torch.Tensor,
    principal_point: torch.Tensor,
) -> torch.Tensor:
    """Pinhole projection of (B, N, 3) points shifted by (B, 3) → (B, N, 2) pixels.

    Args:
        focal_length: pixels, scalar or (B,).
        principal_point: (B, 2) or (2,) pixels.
    """
    shifted = points + translation[:, None]
    focal = torch.as_tensor(focal_length, dtype=points.dtype, device=points.device).reshape(-1, 1, 1)
    centre = principal_point.reshape(-1, 1, 2).to(points.dtype)
    return focal * shifted[..., :2] / shifted[..., 2:3] + centre


# --------------------------------------------------------------------------- CLIFF (TAR)

def cliff_bbox_info(boxes: torch.Tensor, image_size: torch.Tensor, focal_length: torch.Tensor) -> torch.Tensor:
    """CLIFF's bounding-box information vector (Li et al. 2022, §3.2; TAR eq. 8 ``v^cliff``):
    boxes (B, 3) ``[cx, cy, size]``, image sizes (B, 2) ``[W, H]`` and focal lengths (B,) in pixels
    → (B, 3) ``[2.8 (cx − W/2) / f, 2.8 (cy − H/2) / f, (size − 0.24 f) / (0.06 f)]``, the
    normalisation of CLIFF's and ReFit's public code (box offsets over the focal length, box size
    standardised for typical crops)."""
    focal = focal_length.reshape(-1, 1)
    offset = (boxes[:, :2] - image_size / 2.0) / focal * 2.8
    size = (boxes[:, 2:3] - 0.24 * focal) / (0.06 * focal)
    return torch.cat([offset, size], dim=-1)


def cliff_translation(cam: torch.Tensor, boxes: torch.Tensor, image_size: torch.Tensor,
                      focal_length: torch.Tensor) -> torch.Tensor:
    """TAR eq. 5's ``t^full``: crop cameras (B, 3) ``[s, tx, ty]`` with per-sample boxes (B, 3),
    image sizes (B, 2) and focal lengths (B,) → (B, 3) translations in the full-image camera
    (principal point at the image centre): ``tz = 2 f / (s · size)``, ``tx + 2 (cx − W/2) / (s · size)``,
    so points on the body's plane z = 0 project exactly where the weak-perspective crop camera
    puts them. The one translation formula of staf (training, TAR's camera, the demo's
    ``transl``, the overlay)."""
    scaled = cam[:, 0] * boxes[:, 2]
    centre = boxes[:, :2] - image_size / 2.0
    return torch.stack([cam[:, 1] + 2.0 * centre[:, 0] / scaled, cam[:, 2] + 2.0 * centre[:, 1] / scaled,
                        2.0 * focal_length / scaled], dim=-1)


def cliff_crop_project(points: torch.Tensor, cam: torch.Tensor, boxes: torch.Tensor, image_size: torch.Tensor,
                       focal_length: torch.Tensor) -> torch.Tensor:
    """TAR eqs. 5–6: (B, N, 3) body points through the full-image perspective camera (focal f,
    principal point at the image centre, the body at :func:`cliff_translation`), then into the
    crop: ``(j^full − c^bbox) / (s^bbox / 2)``, normalised crop coordinates in [-1, 1] like every
    other ``joints2d`` of staf (eq. 6 divides by the full size; staf's crop units are half sizes)."""
    translation = cliff_translation(cam, boxes, image_size, focal_length)
    pixels = perspective_project(points, translation, focal_length, image_size / 2.0)
    return image_to_crop_points(pixels, boxes)


# --------------------------------------------------------------------------- typed cameras


def _frame_tensors(count: int, image_size: tuple[int, int], focal_length: float, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(count, 2) image sizes and (count,) focal lengths of frames of one video."""
    size = torch.tensor([list(image_size)], dtype=dtype).expand(count, 2)
    return size, torch.full((count,), float(focal_length), dtype=dtype)


def cliff_cam_from_translation(translation: torch.Tensor, boxes: torch.Tensor, image_size: torch.Tensor,
                               focal_length: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`cliff_translation`: (B, 3) full-image translations → (B, 3) crop
    cameras ``[s, tx, ty]`` of boxes (B, 3) [cx, cy, size] that :func:`cliff_translation` maps back
    to them (depth must be positive)."""
    scaled = 2.0 * focal_length / translation[:, 2]                       # s · size
    centre = boxes[:, :2] - image_size / 2.0
    return torch.stack([scaled / boxes[:, 2], translation[:, 0] - 2.0 * centre[:, 0] / scaled,
                        translation[:, 1] - 2.0 * centre[:, 1] / scaled], dim=-1)


class CropCamera:
    """How a model's crop camera ``[s, tx, ty]`` places a body in the full image.

    :meth:`translation` is CLIFF's rigid translation (:func:`cliff_translation`: exact on the
    body's plane z = 0), what the demo exports as ``transl``; :meth:`camera_points` puts the body's
    points in one shared pinhole camera exactly where this camera projects them (the overlay
    draws every person in it). This class is the official perspective crop camera (STAF, the
    mean pose): :func:`crop_points_to_camera`. Models name theirs as ``camera``.
    """

    name: ClassVar[str] = "crop"

    def translation(self, cam: torch.Tensor, boxes: torch.Tensor, image_size: tuple[int, int],
                    focal_length: float) -> torch.Tensor:
        """(N, 3) crop cameras and (N, 3) squares [cx, cy, size] of frames ``image_size`` (W, H)
        → (N, 3) translations in the full-image camera (principal point at the image centre)."""
        size, focal = _frame_tensors(len(cam), image_size, focal_length, cam.dtype)
        return cliff_translation(cam, boxes.to(cam.dtype), size, focal)

    def camera_points(self, points: torch.Tensor, cam: torch.Tensor, boxes: torch.Tensor, focal_length: float,
                      image_size: tuple[int, int], principal_point: torch.Tensor) -> torch.Tensor:
        """Body points (N, V, 3) of crops ``boxes`` (N, 3) with cameras ``cam`` (N, 3) → the same
        points in a pinhole camera of ``focal_length`` px at ``principal_point`` (2,), landing on the
        pixels this camera projects them to."""
        return crop_points_to_camera(points, cam, boxes, focal_length, principal_point)


class CliffCamera(CropCamera):
    """CLIFF's full-image camera (TAR eqs. 5–6): the body at :meth:`translation` seen by a pinhole
    of the frame's focal length at the image centre; :meth:`camera_points` moves that view to
    another principal point (the same rays)."""

    name: ClassVar[str] = "cliff"

    def camera_points(self, points: torch.Tensor, cam: torch.Tensor, boxes: torch.Tensor, focal_length: float,
                      image_size: tuple[int, int], principal_point: torch.Tensor) -> torch.Tensor:
        size, _ = _frame_tensors(len(points), image_size, focal_length, points.dtype)
        shifted = points + self.translation(cam, boxes.to(points.dtype), image_size, focal_length)[:, None]
        offset = (size[:, None] / 2.0 - principal_point.to(points.dtype).reshape(1, 1, 2)) / float(focal_length)
        return torch.cat([shifted[..., :2] + shifted[..., 2:3] * offset, shifted[..., 2:3]], dim=-1)
