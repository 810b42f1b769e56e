"""Two people who pass each other in front of a static camera, rendered with the truth (issue 33).

Each person is the open body model walking (the ``walk`` family's gait of
:mod:`staf.data.synthetic.motion`), straight across the view at a steady speed: one left to
right, the other right to left, ``depth_gap`` metres further from the camera, so that the near
one hides the far one as they pass at the middle frame. The camera stands still at eye height
(OpenCV pinhole, focal length = the frame's width). Both people are rendered separately and
composited by depth, so the truth holds each person's own box (the extent of their whole mesh's
projection) and the share of their pixels that stays visible.

A video where the truth is known, for detection recall and identity switches
(:mod:`staf.evaluation.tracking`; ``scripts/crossing_eval.py``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from staf.body import BodyModel
from staf.config import check_number
from staf.data.synthetic import appearance
from staf.data.synthetic.motion import walk
from staf.data.synthetic.scene import look_at
from staf.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle


@dataclasses.dataclass(frozen=True)
class CrossingConfig:
    """What :func:`crossing_scene` renders.

    Attributes:
        frames: video length; the people pass each other at the middle frame.
        width, height: frame size in pixels.
        distance: the near person's distance from the camera, metres.
        depth_gap: how much further the far person walks, metres.
        span: each person walks from −span to +span metres across the view (or back).
        fps: frame rate (the gait's cadence is in cycles per second).
        seed: the people's gait, shape and clothing, the backdrop and the light.
    """

    frames: int = 90
    width: int = 960
    height: int = 540
    distance: float = 5.0
    depth_gap: float = 1.0
    span: float = 1.8
    fps: float = 30.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low, high in (("frames", 2, 10_000), ("width", 64, 4096), ("height", 64, 4096)):
            check_number(name, getattr(self, name), low, high, integer=True)
        for name, low, high in (("distance", 1, 50), ("depth_gap", 0.2, 20), ("span", 0, 20), ("fps", 1, 1000)):
            check_number(name, getattr(self, name), low, high)


@dataclasses.dataclass
class CrossingTruth:
    """boxes (T, 2, 4) x1 y1 x2 y2 of each person's whole projected mesh; visible (T, 2) the share
    of each person's rendered pixels not hidden by the other (0 where outside the frame)."""

    boxes: np.ndarray
    visible: np.ndarray


def walkers(config: CrossingConfig, body: BodyModel, rng: np.random.Generator) -> list[np.ndarray]:
    """The two people's (T, N, 3) camera-frame vertices: near one left → right, far one right → left."""
    look = look_at(np.array([0.0, 1.5, 0.0]), np.array([0.0, 1.2, config.distance + config.depth_gap / 2]))
    rotation, shift = look[:3, :3], look[:3, 3]
    progress = np.linspace(-1.0, 1.0, config.frames)
    people = []
    for direction, depth in ((1.0, config.distance), (-1.0, config.distance + config.depth_gap)):
        pose, _, _ = walk(rng, config.frames, config.fps)
        heading = torch.tensor([0.0, direction * math.pi / 2, 0.0], dtype=torch.float64)   # facing the way they walk
        pose[:, 0] = matrix_to_axis_angle(axis_angle_to_matrix(heading)).numpy()
        betas = torch.tensor(np.clip(rng.normal(0, 1, body.num_betas), -2.0, 2.0))[None]
        with torch.no_grad():
            rest = body(torch.zeros(1, 72, dtype=torch.float64), betas)
            moving = body(torch.tensor(pose.reshape(config.frames, 72)), betas.expand(config.frames, -1)).vertices.numpy()
        floor = -float(rest.vertices[0, :, 1].min())
        place = np.stack([direction * config.span * progress, np.full(config.frames, floor),
                          np.full(config.frames, depth)], axis=1)
        people.append(np.einsum("ij,tnj->tni", rotation, moving + place[:, None]) + shift)
    return people


def crossing_scene(config: CrossingConfig = CrossingConfig(), body: BodyModel | None = None
                   ) -> tuple[list[np.ndarray], CrossingTruth]:
    """The video's (T) frames, each (H, W, 3) uint8 RGB, and its truth."""
    from staf.render import MeshRenderer

    body = body or BodyModel.load(dtype=torch.float64)
    rng = np.random.default_rng([config.seed, 33])
    vertices = walkers(config, body, rng)
    segmentation = body.part_segmentation.numpy()
    with torch.no_grad():
        rest = body(torch.zeros(1, 72, dtype=torch.float64), torch.zeros(1, body.num_betas, dtype=torch.float64))
    colours = [appearance.person_colours(rng, rest.vertices[0].numpy(), segmentation, rest.joints[0].numpy())
               for _ in vertices]
    light = appearance.random_lighting(rng)
    backdrop = appearance.procedural_background(rng, config.width, config.height)
    focal = float(config.width)
    intrinsics = np.array([[focal, 0, (config.width - 1) / 2], [0, focal, (config.height - 1) / 2], [0, 0, 1.0]])
    renderer = MeshRenderer(config.width, config.height, body.faces.numpy())
    truth = CrossingTruth(boxes=np.zeros((config.frames, 2, 4)), visible=np.zeros((config.frames, 2)))
    images = []
    for frame in range(config.frames):
        near, far = (renderer.render(person[frame], colour, intrinsics, None, light)
                     for person, colour in zip(vertices, colours))
        in_front = near.mask & (near.depth <= far.depth)
        for who, (result, shown) in enumerate(((near, in_front), (far, far.mask & ~in_front))):
            truth.visible[frame, who] = shown.sum() / max(result.mask.sum(), 1)
            uv = vertices[who][frame, :, :2] / vertices[who][frame, :, 2:3] * focal + intrinsics[:2, 2]
            truth.boxes[frame, who] = np.concatenate([uv.min(0), uv.max(0)])
        image = np.where(far.mask[..., None], far.rgb, backdrop)
        images.append(np.where(in_front[..., None], near.rgb, image))
    renderer.release()
    return images, truth
