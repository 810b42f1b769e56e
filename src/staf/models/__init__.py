"""Mesh-recovery models behind one interface (:mod:`staf.models.base`), built by name through
:mod:`staf.models.registry`: STAF (:mod:`staf.models.staf`, one file per paper module) and the
mean-pose baseline; the shared ResNet encoder is :mod:`staf.models.backbone`."""

from staf.models.base import BodyPrediction, MeshRecoveryModel, ModelOutput, SequenceInput, StageRecipe
from staf.models.registry import build_model, model_class, model_names
from staf.models.staf import STAF, STAFConfig, STAFOutput

__all__ = ["STAF", "BodyPrediction", "MeshRecoveryModel", "ModelOutput", "STAFConfig", "STAFOutput", "SequenceInput",
           "StageRecipe", "build_model", "model_class", "model_names"]
