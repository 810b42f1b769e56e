"""The mean-pose baseline: every frame gets the body model's mean pose, β and camera.

The reference point of staf's result tables (docs/RESULTS.md): any model that learned
something beats it. It has no parameters and reads no image.
"""

from __future__ import annotations

import dataclasses

import torch

from staf.body import BodyModel
from staf.errors import StafError
from staf.models.base import BodyPrediction, MeshRecoveryModel, ModelOutput, SequenceInput
from staf.models.registry import register


@dataclasses.dataclass
class MeanPoseConfig:
    """``seq_len`` 1 (each frame alone); ``image_size``: the crops it is handed (and ignores)."""

    seq_len: int = 1
    image_size: int = 64


@register
class MeanPose(MeshRecoveryModel):
    """Predicts the body model's mean parameters for every frame."""

    name = "mean-pose"
    config_class = MeanPoseConfig

    def __init__(self, config: MeanPoseConfig, body: BodyModel) -> None:
        super().__init__(config, body)
        self.register_mean_parameters(body)

    def forward(self, inputs: SequenceInput | torch.Tensor | None = None, *, features: torch.Tensor | None = None,
                meshes: bool = True) -> ModelOutput:
        crops = inputs if isinstance(inputs, torch.Tensor) else inputs.crops
        batch, length = crops.shape[:2]
        frames = self._mean(batch * length, meshes)
        return ModelOutput(frames=[frames.reshape(batch, length)], targets=[self._mean(batch, meshes)])

    def forward_features(self, features, inputs, meshes):  # pragma: no cover - forward needs no features
        raise StafError("the mean-pose baseline uses no encoder features")

    @classmethod
    def training_stages(cls, config: MeanPoseConfig):
        raise StafError("the mean-pose baseline has nothing to train; evaluate it with 'staf eval --mean-pose'")

    @torch.no_grad()
    def predict_sequence(self, track: SequenceInput, progress=None) -> BodyPrediction:
        return self._mean(len(track.crops))

    def _mean(self, count: int, meshes: bool = True) -> BodyPrediction:
        expand = lambda tensor: tensor.expand(count, -1)  # noqa: E731
        return self.predict_body(expand(self.init_pose), expand(self.init_shape), expand(self.init_cam), meshes=meshes)
