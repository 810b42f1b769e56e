"""Body models: SMPL-format linear blend skinning, the bundled open model, joint sets.

>>> from staf.body import BodyModel
>>> body = BodyModel.load()            # the bundled open model; BodyModel.load("smpl") for SMPL
>>> out = body(torch.zeros(1, 72))     # out.vertices (1, N, 3), out.joints (1, 24, 3)
"""

from staf.body.assets import BASE_DATA_ENV, bundled_model_path, load_body_model_data
from staf.body.body_model import BodyModel, BodyOutput
from staf.body.model_data import BodyModelData, MeanParams, read_smpl_file

__all__ = [
    "BASE_DATA_ENV",
    "BodyModel",
    "BodyModelData",
    "BodyOutput",
    "MeanParams",
    "bundled_model_path",
    "load_body_model_data",
    "read_smpl_file",
]
