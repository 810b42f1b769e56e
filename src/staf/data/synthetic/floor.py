"""A textured floor under the synthetic people (``SynthConfig.floor_probability``, issue 32).

The backdrop of a synthetic sequence is a picture at infinity: it slides with the camera's turn
and never with its travel, so a camera that walks shows no parallax in it. The floor is the plane
y = 0 of the scene's world (:mod:`staf.data.synthetic.scene`) with a texture of its own, seen in
perspective: a homography per frame takes the texture's pixels to the image,

    H = K [r₁ · res,  r₃ · res,  R (x₀, 0, z₀) + t],

for the camera ``x_cam = R x_world + t`` (columns r₁, r₃ of R), texture pixel (u, v) at world
(x₀ + u · res, 0, z₀ + v · res). The floor is drawn where a pixel's ray meets it in front of the
camera, fading into the backdrop between ``FADE_START`` and ``FADE_END`` metres away (no hard,
camera-fixed edge for a corner detector to follow); the people stand on it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

#: metres per texture pixel, and the floor's half extent around the subject's start (metres)
RESOLUTION, HALF_EXTENT = 0.04, 30.0
#: the floor fades into the backdrop between these distances from the camera (metres, on the floor)
FADE_START, FADE_END = 12.0, 20.0


@dataclasses.dataclass
class Floor:
    """texture (S, S, 3) uint8, covering world x, z ∈ origin ± HALF_EXTENT."""

    texture: np.ndarray
    origin: np.ndarray

    def homography(self, intrinsics: np.ndarray, rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
        """(3, 3): texture pixels → image pixels for the camera ``x_cam = R x_world + t``."""
        corner = np.array([self.origin[0] - HALF_EXTENT, 0.0, self.origin[1] - HALF_EXTENT])
        columns = np.stack([rotation[:, 0] * RESOLUTION, rotation[:, 2] * RESOLUTION, rotation @ corner + translation], 1)
        return intrinsics @ columns

    def weight(self, intrinsics: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
               size: int) -> np.ndarray:
        """(size, size) in [0, 1]: how much of each pixel is floor (0 above the horizon and far away)."""
        pixels = np.stack([*np.meshgrid(np.arange(size), np.arange(size)), np.ones((size, size))], -1)
        rays = pixels.reshape(-1, 3) @ np.linalg.inv(intrinsics).T @ rotation      # world directions
        centre = -rotation.T @ translation
        with np.errstate(divide="ignore", invalid="ignore"):
            reach = np.where(rays[:, 1] < 0, -centre[1] / rays[:, 1], np.inf)
        distance = reach * np.linalg.norm(rays[:, [0, 2]], axis=1)
        weight = np.clip((FADE_END - distance) / (FADE_END - FADE_START), 0.0, 1.0)
        return weight.reshape(size, size)

    def draw(self, background: np.ndarray, intrinsics: np.ndarray, rotation: np.ndarray,
             translation: np.ndarray) -> np.ndarray:
        """The square (S, S, 3) uint8 ``background`` with the floor drawn over it."""
        import cv2

        size = background.shape[0]
        seen = cv2.warpPerspective(self.texture, self.homography(intrinsics, rotation, translation), (size, size),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        weight = self.weight(intrinsics, rotation, translation, size)[..., None]
        return np.round(seen * weight + background * (1 - weight)).astype(np.uint8)


def random_floor(rng: np.random.Generator, origin: np.ndarray) -> Floor:
    """A floor around the world point (x, z) ``origin``: tiles 0.3–1.2 m with grout lines, stains
    of 0.1–1 m and band-limited grain, every draw from ``rng``."""
    import cv2

    from staf.data.synthetic.appearance import random_colour

    side = int(round(2 * HALF_EXTENT / RESOLUTION))
    base, other = random_colour(rng), random_colour(rng)
    cells = int(rng.integers(40, 120))
    grain = cv2.resize(rng.random((cells, cells)), (side, side), interpolation=cv2.INTER_CUBIC)
    shade = 0.75 + 0.35 * grain
    tile = rng.uniform(0.3, 1.2) / RESOLUTION
    index = np.arange(side) // tile
    checker = ((index[:, None] + index[None]) % 2)[..., None]
    mix = rng.uniform(0.1, 0.4)
    image = (base * (1 - mix * checker) + other * mix * checker) * shade[..., None]
    image = np.clip(image * 255, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(600, 1500))):
        colour = tuple(int(c) for c in random_colour(rng) * 255)
        centre = (int(rng.integers(0, side)), int(rng.integers(0, side)))
        radius = int(rng.uniform(0.05, 0.5) / RESOLUTION)
        axes = (radius, max(1, int(radius * rng.uniform(0.3, 1.0))))
        cv2.ellipse(image, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    lines = np.arange(0, side, tile).astype(int)
    grout = tuple(int(c) for c in random_colour(rng) * 255)
    for position in lines:
        cv2.line(image, (int(position), 0), (int(position), side - 1), grout, 1)
        cv2.line(image, (0, int(position)), (side - 1, int(position)), grout, 1)
    return Floor(cv2.GaussianBlur(image, (0, 0), 0.7), np.asarray(origin, np.float64))
