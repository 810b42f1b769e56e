"""The output folder of ``staf demo``: everything is written into ``OUT/.staf-demo.partial`` and
moved into ``OUT`` once complete. The overwrite rule is :mod:`staf.outputs`' (every command's):
a file is replaced only when its name is one ``staf demo`` writes (:data:`OUTPUT_NAME`) and the
earlier run's ``staf_demo.json`` lists it, and then only with ``force``; the input is never
written over; ``force`` never deletes another name.
"""

from __future__ import annotations

import re
from pathlib import Path

from staf.outputs import OutputRule, write_manifest

MANIFEST = "staf_demo.json"
PARTIAL = ".staf-demo.partial"
#: every name (relative to OUT) that ``staf demo`` writes
OUTPUT_NAME = re.compile(r"(staf_output\.pkl|staf_output\.npz|overlay\.mp4|staf_demo\.json|trajectory\.png|track_\d+\.(glb|bvh)|"
                         r"meshes/track_\d+/frame_\d{6,}\.obj)")
DEMO_OUTPUT = OutputRule(MANIFEST, PARTIAL, OUTPUT_NAME, nested=("meshes/track_*/*",))

is_output_name = DEMO_OUTPUT.is_output_name
listed_outputs = DEMO_OUTPUT.listed
existing_outputs = DEMO_OUTPUT.existing
check_not_input = DEMO_OUTPUT.check_not_input
publish = DEMO_OUTPUT.publish
discard = DEMO_OUTPUT.discard

__all__ = ["MANIFEST", "PARTIAL", "OUTPUT_NAME", "DEMO_OUTPUT", "prepare_output", "write_manifest", "is_output_name",
           "listed_outputs", "existing_outputs", "check_not_input", "publish", "discard"]


def prepare_output(out: Path, force: bool, video: Path | None = None) -> Path:
    """Check ``out`` before any work; returns the empty staging folder inside it."""
    return DEMO_OUTPUT.prepare(Path(out), force, (video,))
