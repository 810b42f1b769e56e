"""Stage ``smooth`` (``--smooth``): One-Euro filtering (:mod:`staf.inference.smoothing`) of each
record's joint rotations on SO(3), β and crop camera; the body is then re-posed by the model
(its ``predict_body``, with the record's geometry for cameras that need it)."""

from __future__ import annotations

import torch

from staf.geometry.rotations import matrix_to_rot6d
from staf.inference.record import PersonTrack
from staf.inference.smoothing import OneEuroConfig, smooth_rotations, smooth_vectors
from staf.models.base import BodyPrediction, MeshRecoveryModel, SequenceInput


class SmoothStage:
    name = "smooth"

    def enabled(self, config) -> bool:
        return bool(config.smooth)

    def __call__(self, records: list[PersonTrack], context) -> list[PersonTrack]:
        settings = OneEuroConfig(context.config.smooth_min_cutoff, context.config.smooth_beta, fps=context.fps)
        for record in records:
            record.prediction = smooth_prediction(context.model, record.prediction, settings, record.geometry)
        return records


def smooth_prediction(model: MeshRecoveryModel, prediction: BodyPrediction, settings: OneEuroConfig,
                      geometry: SequenceInput | None = None) -> BodyPrediction:
    """One-Euro filtered rotations (on SO(3)), β and camera → a new prediction, float32 CPU
    (``geometry``: the frames' boxes, image size and focal length, for models whose camera needs them)."""
    rotmat = smooth_rotations(prediction.rotmat.double(), settings).float()
    betas = smooth_vectors(prediction.betas.double(), settings).float()
    cam = smooth_vectors(prediction.cam.double(), settings).float()
    device = model.device
    with torch.no_grad():
        smoothed = model.predict_body(matrix_to_rot6d(rotmat).reshape(len(rotmat), -1).to(device), betas.to(device),
                                      cam.to(device), geometry=None if geometry is None else geometry.to(device))
    return smoothed.map(lambda tensor: tensor.float().cpu())
