"""How a training db's person boxes relate to the box spanned by the 14 LSP joints.

    python scripts/joint_box_ratio.py DB [DB ...]

staf's synthetic boxes are the projected mesh's box; LSP-dev's boxes are the box spanned by the
14 labelled joints, which is smaller (hands, feet and the top of the head reach past the
joints). For each db this prints the ratio of the person box's longer side to the joint box's
longer side and the offset of the box centre from the joint box centre (in joint-box sides,
y down). The crop scale that shows a model trained with crop scale ``s`` on this db the same
context on joint boxes is ``s × ratio`` (``staf eval --data lsp --crop-scale``). Only the
training data are read, never the LSP labels.
"""

from __future__ import annotations

import argparse

import numpy as np

from staf.body.joint_sets import SPIN49_LSP14
from staf.data.crops import DB_CROP_SCALE
from staf.data.db import read_db


def box_ratio(data: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) person-box side / joint-box side and (N, 2) centre offset in joint-box sides."""
    joints = data["joints2D"][:, SPIN49_LSP14, :2]                     # (N, 14, 2)
    low, high = joints.min(axis=1), joints.max(axis=1)
    side = (high - low).max(axis=1)
    box = data["bbox"]                                                  # (N, 4) cx, cy, w, h
    return np.maximum(box[:, 2], box[:, 3]) / side, (box[:, :2] - (low + high) / 2) / side[:, None]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", nargs="+", help="*_db.pt files with bbox and joints2D (SPIN-49)")
    args = parser.parse_args()
    for path in args.db:
        ratio, offset = box_ratio(read_db(path, required=("bbox", "joints2D")))
        p10, p50, p90 = np.percentile(ratio, [10, 50, 90])
        dx, dy = np.median(offset, axis=0)
        print(f"{path}: {len(ratio)} frames, box side / joint-box side median {p50:.3f} (p10 {p10:.3f}, "
              f"p90 {p90:.3f}); centre offset median ({dx:+.3f}, {dy:+.3f}); matched crop scale "
              f"{DB_CROP_SCALE} x {p50:.3f} = {DB_CROP_SCALE * p50:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
