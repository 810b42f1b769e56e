"""Body models: SMPL-format linear blend skinning, the bundled open model, joint sets.

>>> from staf.body import BodyModel
>>> body = BodyModel.load()            # the bundled open model; BodyModel.load("smpl") for SMPL
>>> out = body(torch.zeros(1, 72))     # out.vertices (1, N, 3), out.joints (1, 24, 3)

Names are imported on first use (PEP 562), so ``staf.body.assets`` and ``staf.body.joint_sets``
load without torch (``staf --help`` stays fast).
"""

from __future__ import annotations

import importlib

_WHERE = {
    "BASE_DATA_ENV": "staf.body.assets",
    "bundled_model_path": "staf.body.assets",
    "load_body_model_data": "staf.body.assets",
    "BodyModel": "staf.body.body_model",
    "BodyOutput": "staf.body.body_model",
    "BodyModelData": "staf.body.model_data",
    "MeanParams": "staf.body.model_data",
    "read_smpl_file": "staf.body.model_data",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'staf.body' has no attribute '{name}'")
