"""Overlay frames: every person's mesh, in their track's colour, drawn over the video frame.

All people of a frame are drawn in one pass of :class:`MeshRenderer` through one shared pinhole
camera (the image centre, focal length ``focal``): their camera-space vertices come from
:func:`staf.geometry.cameras.crop_points_to_camera`, so each mesh covers exactly the pixels its
crop camera projects it to and nearer people hide farther ones. The optional world view
(:class:`WorldView`, ``staf demo --side-view``) draws the same people in the world of
:mod:`staf.geometry.ground` (y up, the ground at y = 0) beside the overlay, from a still camera
standing to the side of the first camera, over the ground's 1 m grid: a camera that turns moves
the overlay's people, not the world view's.
"""

from __future__ import annotations

import dataclasses

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

    def draw(self, frame: np.ndarray, people: list[tuple[int, np.ndarray]], world: WorldView | None = None,
             world_people: list[tuple[int, np.ndarray]] = ()) -> np.ndarray:
        """(H, W, 3) uint8 frame and ``[(track_id, (V, 3) camera-space vertices), …]`` → the overlay
        (H, W, 3), or (H, 2W, 3) with ``world``'s view of ``world_people`` (world vertices) beside it."""
        overlay = self._blend(frame, people)
        if world is None:
            return overlay
        seen = [(track_id, world.to_camera(points)) for track_id, points in world_people]
        side = (self._blend(world.background, seen, opaque=True, intrinsics=world.intrinsics) if seen
                else world.background.copy())
        return np.concatenate([overlay, side], axis=1)

    def world_view(self, points: np.ndarray) -> WorldView:
        """The world view that holds every one of the (N, 3) world ``points`` (the people's
        mesh centres over the video), in frames of this renderer's size (:func:`world_view`)."""
        return world_view(points, self.width, self.height)

    def _blend(self, frame: np.ndarray, people: list[tuple[int, np.ndarray]], opaque: bool = False,
               intrinsics: np.ndarray | None = None) -> np.ndarray:
        if not people:
            return frame.copy()
        vertices = np.zeros((self.max_people * self.num_vertices, 3), np.float32)
        vertices[:, 2] = -1.0                                  # unused slots: behind the camera, clipped
        colours = np.zeros_like(vertices)
        for slot, (track_id, points) in enumerate(people[: self.max_people]):
            rows = slice(slot * self.num_vertices, (slot + 1) * self.num_vertices)
            vertices[rows], colours[rows] = points, PALETTE[track_id % len(PALETTE)]
        result = self.renderer.render(vertices, colours, self.intrinsics if intrinsics is None else intrinsics)
        alpha = 1.0 if opaque else self.alpha
        blended = frame.astype(np.float32)
        mask = result.mask
        blended[mask] = alpha * result.rgb[mask] + (1 - alpha) * blended[mask]
        return blended.round().astype(np.uint8)

    def release(self) -> None:
        self.renderer.release()


@dataclasses.dataclass(frozen=True)
class WorldView:
    """A still camera in the world: ``x_view = rotation x_world + translation`` (OpenCV axes),
    its (3, 3) ``intrinsics`` and its ``background`` (H, W, 3) uint8: grey with the ground's 1 m
    grid drawn."""

    rotation: np.ndarray
    translation: np.ndarray
    intrinsics: np.ndarray
    background: np.ndarray

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points → (..., 3) float32 in the view camera."""
        return (np.asarray(points, np.float64) @ self.rotation.T + self.translation).astype(np.float32)


#: the world view looks down on the ground at this angle (degrees), from the first camera's right
WORLD_VIEW_ELEVATION = 20.0
#: the world view's horizontal field of view, degrees
WORLD_VIEW_FIELD = 60.0


def world_view(points: np.ndarray, width: int, height: int, elevation: float = WORLD_VIEW_ELEVATION,
               field: float = WORLD_VIEW_FIELD) -> WorldView:
    """A camera on the first camera's right (world −x: :mod:`staf.render.trajectory`), looking
    back at the middle of the (N, 3) world ``points`` and down at ``elevation`` degrees, far
    enough that their spread across the view (z), plus 1.5 m each way, and 2.5 m of height fit
    in the image from the middle and from the nearest of them; a pinhole camera with a
    horizontal field of ``field`` degrees."""
    points = np.asarray(points, np.float64).reshape(-1, 3)
    low, high = points.min(axis=0), points.max(axis=0)
    target = np.array([(low[0] + high[0]) / 2, 1.0, (low[2] + high[2]) / 2])
    angle = np.radians(elevation)
    forward = np.array([np.cos(angle), -np.sin(angle), 0.0])          # towards +x and down
    down = np.array([-np.sin(angle), -np.cos(angle), 0.0])            # world down, square to forward
    right = np.cross(down, forward)                                   # OpenCV: x = y × z
    rotation = np.stack([right, down, forward])
    focal = (width / 2) / np.tan(np.radians(field) / 2)
    intrinsics = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
    across = (high[2] - low[2]) + 3.0
    tall = 1.4 * 2.5 / 2 * focal / (height / 2)                      # 2.5 m of height, with a margin
    distance = max(1.1 * across / 2 * focal / (width / 2), tall + (high[0] - low[0]) / 2)
    centre = target - distance * forward
    translation = -rotation @ centre
    background = np.full((height, width, 3), SIDE_BACKGROUND, np.uint8)
    _draw_grid(background, rotation, translation, intrinsics, target, distance)
    return WorldView(rotation, translation, intrinsics, background)


def _draw_grid(image: np.ndarray, rotation: np.ndarray, translation: np.ndarray, intrinsics: np.ndarray,
               target: np.ndarray, reach: float) -> None:
    """The ground's 1 m grid lines (y = 0) within ``reach`` × 2 of ``target``, drawn in place;
    each line cut where it passes behind the camera."""
    import cv2

    span = np.arange(np.floor(target[0] - 2 * reach), np.ceil(target[0] + 2 * reach) + 1)
    depth_span = np.arange(np.floor(target[2] - 2 * reach), np.ceil(target[2] + 2 * reach) + 1)
    lines = [((x, depth_span[0]), (x, depth_span[-1])) for x in span]
    lines += [((span[0], z), (span[-1], z)) for z in depth_span]
    for (x0, z0), (x1, z1) in lines:
        samples = np.linspace(0, 1, 200)[:, None]
        world = np.array([x0, 0.0, z0]) * (1 - samples) + np.array([x1, 0.0, z1]) * samples
        seen = world @ rotation.T + translation
        ahead = seen[:, 2] > 0.1
        pixels = (seen[ahead] @ intrinsics.T)
        pixels = pixels[:, :2] / pixels[:, 2:]
        if len(pixels) > 1:
            cv2.polylines(image, [np.round(pixels * 4).astype(np.int32)], False, (110, 110, 110), 1, cv2.LINE_AA, 2)
