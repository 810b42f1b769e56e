"""Mesh-recovery models behind one interface (:mod:`staf.models.base`), built by name through
:mod:`staf.models.registry` (models register with ``@register``) and loaded by what a user names
through :func:`load` (:mod:`staf.models.loader`): STAF (:mod:`staf.models.staf`, one file per paper module) and the
mean-pose baseline; the shared ResNet encoder is :mod:`staf.models.backbone`."""

from staf.models.base import BodyPrediction, MeshRecoveryModel, ModelOutput, SequenceInput, StageRecipe
from staf.models.loader import LoadedModel, load
from staf.models.registry import build_model, model_class, model_names, register
from staf.models.staf import STAF, STAFConfig, STAFOutput

__all__ = ["STAF", "BodyPrediction", "LoadedModel", "MeshRecoveryModel", "ModelOutput", "STAFConfig", "STAFOutput", "SequenceInput",
           "StageRecipe", "build_model", "load", "model_class", "model_names", "register"]
