"""Training: datasets and sampling, losses (eq. 11), the two-stage trainer."""

from staf.training.config import LossWeights, SourceConfig, StageConfig, TrainConfig
from staf.training.trainer import Trainer

__all__ = ["LossWeights", "SourceConfig", "StageConfig", "TrainConfig", "Trainer"]
