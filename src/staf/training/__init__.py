"""Training: datasets and sampling, losses (eq. 11), the two-stage trainer."""

from staf.training.config import AugmentConfig, LossWeights, SourceConfig, StageConfig, TrainConfig
from staf.training.trainer import Trainer

__all__ = ["AugmentConfig", "LossWeights", "SourceConfig", "StageConfig", "TrainConfig", "Trainer"]
