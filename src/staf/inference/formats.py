"""The names of ``staf demo``'s export formats, without importing the exporters (the command
line's help is built from them before torch is loaded); the exporters themselves and their
registry are :mod:`staf.inference.exporters`."""

from __future__ import annotations

import sys

#: the built-in exporters, in registry order
BUILTIN_FORMATS = ("pkl", "npz", "glb", "bvh", "obj")
#: the formats ``staf demo`` writes unless ``--formats`` says otherwise
DEFAULT_FORMATS = ("pkl", "npz", "glb", "bvh")


def known_formats() -> tuple[str, ...]:
    """Every format name: the registry's once it is loaded (exporters added there included),
    else the built-in ones."""
    registry = sys.modules.get("staf.inference.exporters")
    return tuple(registry.EXPORTERS) if registry is not None else BUILTIN_FORMATS
