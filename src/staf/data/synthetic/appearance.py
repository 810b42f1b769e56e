"""Appearance of synthetic people and scenes: clothing, skin, hair, light, backgrounds, occluders.

Clothing is painted per vertex through the body model's 24-part segmentation (each vertex's
dominant joint): a top (short or long sleeves), a bottom (shorts or trousers), shoes, skin and
hair, each a colour or a pattern (stripes, checks) in the rest pose's coordinates.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from staf.body.joint_sets import SMPL_JOINT_NAMES
from staf.render.renderer import Lighting

J = {name: index for index, name in enumerate(SMPL_JOINT_NAMES)}

#: skin tones (sRGB), light to dark, after the Fitzpatrick scale's usual renderings
SKIN_TONES = np.array([(255, 224, 196), (241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36),
                       (92, 51, 23)], dtype=np.float64) / 255
HAIR_COLOURS = np.array([(20, 15, 10), (60, 40, 25), (110, 75, 40), (180, 140, 80), (130, 130, 130)],
                        dtype=np.float64) / 255

TOP = ("spine1", "spine2", "spine3", "left_collar", "right_collar", "left_shoulder", "right_shoulder")
SLEEVES = ("left_elbow", "right_elbow")
BOTTOM = ("pelvis", "left_hip", "right_hip")
LEGS = ("left_knee", "right_knee")
SHOES = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """A clothing colour: saturated or muted, light or dark."""
    import colorsys

    hue, saturation, value = rng.random(), rng.uniform(0.1, 0.9), rng.uniform(0.15, 0.95)
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value))


def _paint(rng: np.random.Generator, rest: np.ndarray, selected: np.ndarray, colours: np.ndarray) -> None:
    """Fill ``selected`` vertices with a plain colour, stripes or checks (in rest coordinates)."""
    first, second = random_colour(rng), random_colour(rng)
    kind = rng.choice(["plain", "plain", "stripes", "checks"])
    if kind == "plain":
        colours[selected] = first
        return
    frequency = rng.uniform(15, 40)
    if kind == "stripes":
        on = np.sin(rest[selected, 1] * frequency * 2 * np.pi / 3) > 0
    else:
        on = (np.floor(rest[selected, 0] * frequency / 3) + np.floor(rest[selected, 1] * frequency / 3)) % 2 == 0
    colours[selected] = np.where(on[:, None], first, second)


def person_colours(rng: np.random.Generator, rest_vertices: np.ndarray, segmentation: np.ndarray,
                   rest_joints: np.ndarray) -> np.ndarray:
    """(N, 3) per-vertex colours in [0, 1] for one synthetic person."""
    colours = np.empty_like(rest_vertices)
    skin = np.clip(SKIN_TONES[rng.integers(len(SKIN_TONES))] * rng.uniform(0.92, 1.05), 0, 1)
    colours[:] = skin

    def parts(names) -> np.ndarray:
        return np.isin(segmentation, [J[name] for name in names])

    long_sleeves, trousers = rng.random() < 0.5, rng.random() < 0.7
    _paint(rng, rest_vertices, parts(TOP + (SLEEVES if long_sleeves else ())), colours)
    _paint(rng, rest_vertices, parts(BOTTOM + (LEGS if trousers else ())), colours)
    colours[parts(SHOES)] = random_colour(rng) * 0.6
    head = segmentation == J["head"]
    head_joint = rest_joints[J["head"]]
    hair = head & ((rest_vertices[:, 1] > head_joint[1] + 0.07) |
                   ((rest_vertices[:, 2] < head_joint[2] - 0.02) & (rest_vertices[:, 1] > head_joint[1] - 0.02)))
    if rng.random() < 0.9:
        colours[hair] = HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))]
    return colours


#: key-light colours at the warm (≈ 3000 K, tungsten) and cool (≈ 7500 K, shade) ends, brightest channel 1
WARM_LIGHT, COOL_LIGHT = np.array([1.0, 0.80, 0.62]), np.array([0.78, 0.88, 1.0])


def _unit(vector: np.ndarray) -> tuple[float, float, float]:
    return tuple(float(v) for v in vector / np.linalg.norm(vector))


def random_lighting(rng: np.random.Generator) -> Lighting:
    """Ambient 0.3–0.6 and a white two-sided directional light from the front hemisphere, mostly
    from above."""
    direction = np.array([rng.uniform(-1, 1), rng.uniform(-1.0, 0.2), -rng.uniform(0.3, 1.0)])
    return Lighting(_unit(direction), float(rng.uniform(0.3, 0.6)), float(rng.uniform(0.4, 0.8)))


def varied_lighting(rng: np.random.Generator) -> Lighting:
    """Lighting with the contrast and colour of real scenes (``lighting_variation_probability``).

    A one-sided key light, so the side turned away is in shade (:func:`random_lighting` lights both
    sides alike), from anywhere but below, a third of the time from behind the person (a rim
    light that leaves the front to the ambient and fill); its colour between warm and cool
    (:data:`WARM_LIGHT`, :data:`COOL_LIGHT`); ambient 0.15–0.45, key 0.5–1.0; and a white fill
    light 0–0.35 from the other side. Every draw is from ``rng``.
    """
    behind = rng.random() < 1 / 3
    key = np.array([rng.uniform(-1, 1), rng.uniform(-1.0, 0.3),
                    rng.uniform(0.2, 1.0) if behind else -rng.uniform(0.2, 1.0)])
    fill = np.array([-np.sign(key[0]) * rng.uniform(0.3, 1.0), rng.uniform(-0.5, 0.3), -rng.uniform(0.3, 1.0)])
    warmth = rng.random()
    return Lighting(direction=_unit(key), ambient=float(rng.uniform(0.15, 0.45)), diffuse=float(rng.uniform(0.5, 1.0)),
                    colour=tuple(float(c) for c in warmth * WARM_LIGHT + (1 - warmth) * COOL_LIGHT),
                    two_sided=False, fill_direction=_unit(fill), fill=float(rng.uniform(0.0, 0.35)))


def procedural_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8: a gradient, low-frequency noise, a floor band and random shapes."""
    import cv2

    ramp = np.linspace(0, 1, height)[:, None, None]
    top, bottom = random_colour(rng), random_colour(rng)
    image = top * (1 - ramp) + bottom * ramp + np.zeros((height, width, 3))
    cells = rng.integers(3, 9)
    noise = cv2.resize(rng.random((cells, cells, 3)), (width, height), interpolation=cv2.INTER_CUBIC)
    image = image * (0.75 + 0.5 * noise * rng.uniform(0.2, 1.0))
    horizon = int(height * rng.uniform(0.45, 0.75))
    image[horizon:] = image[horizon:] * 0.5 + random_colour(rng) * 0.5
    image = np.clip(image * 255, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 12)):
        colour = tuple(int(c) for c in random_colour(rng) * 255)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        extent = int(rng.integers(width // 20, width // 4))
        if rng.random() < 0.5:
            cv2.rectangle(image, (x, y), (x + extent, y + int(extent * rng.uniform(0.3, 3))), colour, -1)
        else:
            cv2.circle(image, (x, y), extent // 2, colour, -1)
    return image


def add_clutter(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → a cluttered copy: what flat procedural backdrops lack and real scenes have.

    Fine texture (band-limited noise at 16–96 cells, 10–35 % contrast), 40–150 small shapes with
    edges (boxes, ellipses, outlined boxes), 5–25 thin straight lines (poles, railings, court
    lines), then a slight defocus (Gaussian σ 0–1 px). Every draw is from ``rng``.
    """
    import cv2

    height, width = image.shape[:2]
    cells = int(rng.integers(16, 97))
    grain = cv2.resize(rng.random((cells, cells, 3)), (width, height), interpolation=cv2.INTER_LINEAR)
    out = image.astype(np.float64) * (1 + rng.uniform(0.1, 0.35) * (grain - 0.5) * 2)
    out = np.clip(out, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(40, 151))):
        colour = tuple(int(c) for c in random_colour(rng) * 255)
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        extent = int(rng.integers(max(2, width // 60), max(3, width // 8)))
        kind = rng.integers(3)
        if kind == 0:
            cv2.rectangle(out, (x, y), (x + extent, y + int(extent * rng.uniform(0.2, 4))), colour, -1)
        elif kind == 1:
            axes = (max(1, extent // 2), max(1, int(extent * rng.uniform(0.2, 1.0)) // 2))
            cv2.ellipse(out, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        else:
            cv2.rectangle(out, (x, y), (x + extent, y + extent), colour, int(rng.integers(1, 4)))
    for _ in range(int(rng.integers(5, 26))):
        colour = tuple(int(c) for c in random_colour(rng) * 255)
        start = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.1, 1.0) * width
        end = (int(start[0] + length * np.cos(angle)), int(start[1] + length * np.sin(angle)))
        cv2.line(out, start, end, colour, int(rng.integers(1, 5)))
    sigma = rng.uniform(0, 1.0)
    return cv2.GaussianBlur(out, (0, 0), sigma) if sigma > 0.3 else out


BACKGROUND_SUFFIXES = (".jpg", ".jpeg", ".png")


def background_files(folder: Path) -> list[Path]:
    """The images (jpg/png) of a backgrounds folder; :class:`InvalidInputError` when it has none."""
    from staf.errors import InvalidInputError

    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in BACKGROUND_SUFFIXES and p.is_file())
    if not files:
        raise InvalidInputError(f"backgrounds {folder}: holds no .jpg or .png images; give a folder of images")
    return files


def image_background(rng: np.random.Generator, folder: Path, width: int, height: int) -> np.ndarray:
    """A random image of ``folder`` (jpg/png), randomly cropped and resized to (H, W, 3)."""
    import cv2

    from staf.data.crops import read_image

    files = background_files(folder)
    image = read_image(files[rng.integers(len(files))])
    scale = max(width / image.shape[1], height / image.shape[0]) * rng.uniform(1.0, 1.5)
    image = cv2.resize(image, (int(np.ceil(image.shape[1] * scale)), int(np.ceil(image.shape[0] * scale))))
    top = int(rng.integers(0, image.shape[0] - height + 1))
    left = int(rng.integers(0, image.shape[1] - width + 1))
    return np.ascontiguousarray(image[top : top + height, left : left + width])


@dataclasses.dataclass
class Occluder:
    """A shape sliding across the frame: centre path (T, 2) pixels, half-size (2,), colour, kind."""

    centres: np.ndarray
    half_size: np.ndarray
    colour: tuple[int, int, int]
    kind: str

    def mask(self, frame: int, width: int, height: int) -> np.ndarray:
        import cv2

        mask = np.zeros((height, width), np.uint8)
        centre = tuple(int(v) for v in self.centres[frame])
        axes = tuple(int(v) for v in self.half_size)
        if self.kind == "box":
            cv2.rectangle(mask, (centre[0] - axes[0], centre[1] - axes[1]), (centre[0] + axes[0], centre[1] + axes[1]), 1, -1)
        else:
            cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, -1)
        return mask.astype(bool)


def random_occluder(rng: np.random.Generator, frames: int, person_centres: np.ndarray, person_size: float) -> Occluder:
    """An occluder passing in front of the person (covering roughly a quarter of them at most)."""
    start = person_centres[0] + rng.normal(0, 0.4, 2) * person_size
    velocity = rng.normal(0, 0.6, 2) * person_size / frames
    centres = start + np.arange(frames)[:, None] * velocity
    half = np.abs(rng.normal(0.18, 0.06, 2)) * person_size + 2
    return Occluder(centres, half, tuple(int(c) for c in random_colour(rng) * 255), str(rng.choice(["box", "ellipse"])))
