"""Training configuration (YAML presets in ``staf/configs/train-*.yaml``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from staf.config import check_number, to_dict
from staf.data.crops import CropRule
from staf.errors import StafError
from staf.models.registry import model_config_from_dict, model_config_to_dict, model_name


#: the label kinds a training source may use
LABELS = ("2d", "3d", "smpl")


@dataclasses.dataclass
class SourceConfig:
    """One training data source: a db file and how much of each batch it fills.

    Attributes:
        db: path of a ``*_db.pt`` file.
        image_root: folder its image / crop paths are relative to (default: the db's folder).
        ratio: share of each batch drawn from this source (normalised over sources).
        labels: which labels to use: any of ``2d``, ``3d``, ``smpl`` (missing ones are masked).
        images_only: frames are independent images, repeated T times to make a window.
    """

    db: str
    image_root: str | None = None
    ratio: float = 1.0
    labels: tuple[str, ...] = LABELS
    images_only: bool = False

    def __post_init__(self) -> None:
        check_number("ratio", self.ratio, 0, 1e6, low_open=True)
        unknown = [label for label in self.labels if label not in LABELS]
        if unknown or not self.labels:
            raise StafError(f"labels must be some of {', '.join(LABELS)}, got {list(self.labels)}")


@dataclasses.dataclass
class LossWeights:
    """Eq. 11 weights (official: 2D 300, 3D 300, pose 60, shape 0.06).

    ``all_stages``: sum the loss over the three stages' predictions (stage 1 on every window
    frame). The official code takes the final stage only, but since parameters are detached
    between stages that leaves TCFM, SAFM and the first two regressors without any gradient;
    staf therefore sums over stages by default (``all_stages: false`` is the official rule).
    """

    keypoints_2d: float = 300.0
    keypoints_3d: float = 300.0
    pose: float = 60.0
    shape: float = 0.06
    all_stages: bool = True

    def __post_init__(self) -> None:
        for name in ("keypoints_2d", "keypoints_3d", "pose", "shape"):
            check_number(f"losses.{name}", getattr(self, name), 0, 1e6)


@dataclasses.dataclass
class StageConfig:
    """One training stage: epochs, iterations, batch size, optimiser and learning-rate schedule.

    ``schedule``: ``plateau`` (the paper: ×0.1 after ``patience`` epochs without a better
    validation MPJPE) or ``cosine`` (linear warm-up over ``warmup`` iterations, then cosine decay to
    0 at the last iteration; for short fixed budgets). ``encoder_lr``: the encoder's own learning
    rate (None: ``lr``), e.g. lower for an ImageNet-trained encoder; the schedule scales both.
    """

    epochs: int = 45
    iterations_per_epoch: int = 500
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.0
    grad_clip: float = 5.0
    patience: int = 5
    schedule: str = "plateau"
    warmup: int = 0
    encoder_lr: float | None = None

    def __post_init__(self) -> None:
        check_number("epochs", self.epochs, 1, 100_000, integer=True)
        check_number("iterations_per_epoch", self.iterations_per_epoch, 1, 10_000_000, integer=True)
        check_number("batch_size", self.batch_size, 1, 65_536, integer=True)
        check_number("lr", self.lr, 0, 10, low_open=True)
        check_number("weight_decay", self.weight_decay, 0, 10)
        check_number("grad_clip", self.grad_clip, 0)
        check_number("patience", self.patience, 1, integer=True)
        check_number("warmup", self.warmup, 0, integer=True)
        if self.encoder_lr is not None:
            check_number("encoder_lr", self.encoder_lr, 0, 10, low_open=True)
        if self.schedule not in ("plateau", "cosine"):
            raise StafError(f"schedule must be 'plateau' or 'cosine', got {self.schedule!r}")


@dataclasses.dataclass
class AugmentConfig:
    """Stage-1 augmentation (see :mod:`staf.training.augment`); off unless ``enabled``.

    scale: zoom range ±; shift: crop-centre shift range, fraction of the half-size; color:
    per-channel multiplicative range ± (SPIN uses 0.25 scale and 0.4 colour noise).
    """

    enabled: bool = False
    scale: float = 0.25
    shift: float = 0.1
    color: float = 0.4

    def __post_init__(self) -> None:
        if not (0 <= self.scale < 1 and 0 <= self.color < 1 and self.shift >= 0):
            raise StafError(f"augment: need 0 ≤ scale < 1, 0 ≤ color < 1 and shift ≥ 0, got scale={self.scale}, "
                            f"color={self.color}, shift={self.shift}")


@dataclasses.dataclass
class TrainConfig:
    """Training of any registered model, in the stages of its recipe (``training_stages``; for
    STAF §IV-C: stage 1 the single-frame base model end to end, stage 2 the video model from it
    with the encoder frozen and its features cached).

    ``model``: ``{name: staf, …}``, read with the named model's config class (registry).
    ``crop``: how person boxes become crops (recorded in the checkpoints; ``staf eval`` uses it).
    ``precision``: ``auto`` (default: ``bf16`` where the device runs bfloat16 natively, else
    ``fp32``; decided and printed at start), ``fp32`` or ``bf16`` (the encoder under bfloat16
    autocast, also when caching stage-2 features; the rest in float32; a warning when emulated).
    ``freeze_batchnorm``: every batch norm keeps its running statistics (eval mode) while
    training; ``freeze_encoder_batchnorm``: only the encoder's (e.g. an ImageNet-trained one's).
    """

    model: Any = dataclasses.field(default_factory=lambda: model_config_from_dict({"name": "staf"}))
    train: tuple[SourceConfig, ...] = ()
    val: SourceConfig | None = None
    stage1: StageConfig = dataclasses.field(default_factory=lambda: StageConfig(epochs=20, lr=1e-4))
    stage2: StageConfig = dataclasses.field(default_factory=StageConfig)
    losses: LossWeights = dataclasses.field(default_factory=LossWeights)
    body_model: str = "open"
    seed: int = 0
    val_windows: int = 512
    freeze_batchnorm: bool = False
    freeze_encoder_batchnorm: bool = False
    precision: str = "auto"
    augment: AugmentConfig = dataclasses.field(default_factory=AugmentConfig)
    crop: CropRule = dataclasses.field(default_factory=CropRule)

    def __post_init__(self) -> None:
        self.model = model_config_from_dict(self.model, "model")
        check_number("seed", self.seed, 0, 2**63 - 1, integer=True)
        check_number("val_windows", self.val_windows, 1, 10_000_000, integer=True)
        from staf.models.backbone import PRECISIONS

        if self.precision not in ("auto", *PRECISIONS):
            raise StafError(f"precision must be auto, {', '.join(PRECISIONS)}; got {self.precision!r}")

    @property
    def model_name(self) -> str:
        return model_name(self.model)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (YAML snapshots, checkpoints), the model with its ``name``."""
        return {**to_dict(self), "model": model_config_to_dict(self.model)}
