"""Names that ``staf demo``'s command line needs before torch is loaded (its help is built from
them): the export formats and spaces (the exporters themselves and their registry are
:mod:`staf.inference.exporters`) and the refine stage's weights (:mod:`staf.inference.refine`)."""

from __future__ import annotations

import sys

#: the built-in exporters, in registry order
BUILTIN_FORMATS = ("pkl", "npz", "glb", "bvh", "trajectory", "obj")
#: the formats ``staf demo`` writes unless ``--formats`` says otherwise
DEFAULT_FORMATS = ("pkl", "npz", "glb", "bvh", "trajectory")
#: where glb and bvh animate the bodies (``--export-space``): the world with gravity, or the first camera
EXPORT_SPACES = ("world", "camera")
#: the depth of a track's bodies is steadied over this many seconds before they go into the world
#: (``staf demo --depth-window``; docs/demo.md measures 1–4 s on synthetic truth)
DEPTH_WINDOW_SECONDS = 4.0


def known_formats() -> tuple[str, ...]:
    """Every format name: the registry's once it is loaded (exporters added there included),
    else the built-in ones."""
    registry = sys.modules.get("staf.inference.exporters")
    return tuple(registry.EXPORTERS) if registry is not None else BUILTIN_FORMATS


#: the weighted terms of the refine stage's loss (``--refine-weight TERM=VALUE``)
REFINE_WEIGHTS = ("reprojection", "world", "pose_prior", "shape_prior", "joint_limits", "smoothness", "shape")
#: the refine stage's default L-BFGS iterations per track
REFINE_ITERATIONS = 100
