"""Top view of people's paths over the ground (issue 32): ``trajectory.png``.

The world is :mod:`staf.geometry.ground`'s (y up, the ground at y = 0, z the first camera's
view direction along the ground, x = y × z, which points to the camera's *left*). Seen from
above with the first camera at the bottom looking up the page, the page's right is −x and its
up is +z: :func:`top_view` maps world points to those page coordinates, so the plot is not
mirrored against the video.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from staf.io import atomic_write


def top_view(points: np.ndarray) -> np.ndarray:
    """(..., 3) world points → (..., 2) page coordinates (metres to the first camera's right, ahead of it)."""
    points = np.asarray(points, np.float64)
    return np.stack([-points[..., 0], points[..., 2]], axis=-1)


def plot_trajectories(path: str | Path, paths: dict[int, np.ndarray], camera: tuple[np.ndarray, np.ndarray] | None,
                      title: str, size_inches: tuple[float, float] = (6.0, 6.0), dpi: int = 120) -> Path:
    """Write a PNG of each track's (N, 3) world path (colour by track as in the overlay, a dot at
    its start, an arrow at its end) and the camera's centre and view direction ((3,), (3,)),
    on equal axes in metres with a grid."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    from staf.render.overlay import PALETTE

    figure = Figure(figsize=size_inches, dpi=dpi)
    axes = figure.add_subplot()
    for track_id, points in sorted(paths.items()):
        page = top_view(points)
        colour = PALETTE[track_id % len(PALETTE)]
        axes.plot(page[:, 0], page[:, 1], color=colour, linewidth=1.5, label=f"track {track_id}")
        axes.plot(*page[0], "o", color=colour, markersize=5)
        if len(page) > 1:
            axes.annotate("", xy=page[-1], xytext=page[max(0, len(page) - 5)],
                          arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 1.5})
    if camera is not None:
        centre, direction = top_view(camera[0]), top_view(camera[1])
        direction = direction / max(np.linalg.norm(direction), 1e-9)
        axes.plot(*centre, "ks", markersize=6, label="camera (first frame)")
        axes.annotate("", xy=centre + 0.8 * direction, xytext=centre, arrowprops={"arrowstyle": "->", "color": "k"})
    axes.set_aspect("equal", adjustable="datalim")
    axes.grid(True, linewidth=0.5, alpha=0.5)
    axes.set_xlabel("metres to the first camera's right")
    axes.set_ylabel("metres ahead of the first camera")
    axes.set_title(title, fontsize=9)
    if paths or camera is not None:
        axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    path = Path(path)
    atomic_write(path, lambda handle: figure.savefig(handle, format="png"))
    return path
