"""Overlay frames: every person's mesh, in their track's colour, drawn over the video frame.

All people of a frame are drawn in one pass of :class:`MeshRenderer` through one shared pinhole
camera (the image centre, focal length ``focal``): their camera-space vertices come from
:func:`staf.geometry.cameras.crop_points_to_camera`, so each mesh covers exactly the pixels its
crop camera projects it to and nearer people hide farther ones. The optional side view turns the
frame's people 90° about the vertical axis through their centre and draws them on grey beside
the overlay.
"""

from __future__ import annotations

import numpy as np

from staf.render.renderer import MeshRenderer

#: track colours (RGB in [0, 1]), cycled by track id
PALETTE = np.array([
    [0.35, 0.63, 0.94], [0.95, 0.55, 0.25], [0.40, 0.80, 0.45], [0.90, 0.35, 0.45], [0.70, 0.55, 0.90],
    [0.95, 0.85, 0.35], [0.35, 0.85, 0.85], [0.85, 0.55, 0.75],
])
SIDE_BACKGROUND = 60


class OverlayRenderer:
    """Draws up to ``max_people`` meshes of one topology over frames of one size.

    Args:
        width, height: frame size.
        faces: (F, 3) the body model's faces.
        num_vertices: vertices per body.
        max_people: most people in any frame.
        focal: shared camera focal length, pixels.
        alpha: opacity of the meshes over the frame.
    """

    def __init__(self, width: int, height: int, faces: np.ndarray, num_vertices: int, max_people: int, focal: float,
                 alpha: float = 0.85) -> None:
        self.width, self.height, self.num_vertices = width, height, num_vertices
        self.max_people = max(1, max_people)
        tiled = np.concatenate([faces + index * num_vertices for index in range(self.max_people)])
        self.renderer = MeshRenderer(width, height, tiled, near=0.05, far=1000.0)
        self.intrinsics = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
        self.alpha = alpha

    def draw(self, frame: np.ndarray, people: list[tuple[int, np.ndarray]], side_view: bool = False) -> np.ndarray:
        """(H, W, 3) uint8 frame and ``[(track_id, (V, 3) camera-space vertices), …]`` → the overlay
        (H, W, 3), or (H, 2W, 3) with the side view."""
        overlay = self._blend(frame, people)
        if not side_view:
            return overlay
        side = np.full_like(frame, SIDE_BACKGROUND)
        if people:
            side = self._blend(side, _turned(people), opaque=True)
        return np.concatenate([overlay, side], axis=1)

    def _blend(self, frame: np.ndarray, people: list[tuple[int, np.ndarray]], opaque: bool = False) -> np.ndarray:
        if not people:
            return frame.copy()
        vertices = np.zeros((self.max_people * self.num_vertices, 3), np.float32)
        vertices[:, 2] = -1.0                                  # unused slots: behind the camera, clipped
        colours = np.zeros_like(vertices)
        for slot, (track_id, points) in enumerate(people[: self.max_people]):
            rows = slice(slot * self.num_vertices, (slot + 1) * self.num_vertices)
            vertices[rows], colours[rows] = points, PALETTE[track_id % len(PALETTE)]
        result = self.renderer.render(vertices, colours, self.intrinsics)
        alpha = 1.0 if opaque else self.alpha
        blended = frame.astype(np.float32)
        mask = result.mask
        blended[mask] = alpha * result.rgb[mask] + (1 - alpha) * blended[mask]
        return blended.round().astype(np.uint8)

    def release(self) -> None:
        self.renderer.release()


def _turned(people: list[tuple[int, np.ndarray]]) -> list[tuple[int, np.ndarray]]:
    """The people turned 90° about the vertical (camera y) axis through their joint centre."""
    centre = np.mean([points.mean(axis=0) for _, points in people], axis=0)
    turn = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])
    return [(track_id, (points - centre) @ turn.T + centre) for track_id, points in people]
