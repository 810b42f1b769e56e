"""The registered models: ``build_model(name, config, body)`` and configs that say which model.

A configuration names its model, ``model: {name: staf, variant: staf, backbone: resnet50, …}``;
:func:`model_config_from_dict` reads the rest with that model's config class (a missing ``name``
reads as ``staf``, the layout of configs written before there was a second model).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from staf.body import BodyModel
from staf.errors import StafError
from staf.models.base import MeshRecoveryModel

_MODELS: dict[str, type[MeshRecoveryModel]] = {}
#: names older checkpoints recorded (the class name)
_ALIASES = {"STAF": "staf"}


def register(cls: type[MeshRecoveryModel]) -> type[MeshRecoveryModel]:
    """Class decorator: add a model class under its ``name`` (``@register`` above ``class X``)."""
    _MODELS[cls.name] = cls
    return cls


#: modules whose classes register themselves when imported (the built-in models)
BUILTIN_MODULES = ("staf.models.staf", "staf.models.tar", "staf.models.mean_pose")


def _builtin() -> dict[str, type[MeshRecoveryModel]]:
    import importlib

    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    return _MODELS


def model_names() -> list[str]:
    return sorted(_builtin())


def model_class(name: str) -> type[MeshRecoveryModel]:
    """The class registered as ``name``."""
    models = _builtin()
    name = _ALIASES.get(name, name)
    if name not in models:
        raise StafError(f"unknown model '{name}'; registered: {', '.join(sorted(models))}")
    return models[name]


def model_name(config: Any) -> str:
    """The registered name of the model whose config class ``config`` is."""
    for name, cls in _builtin().items():
        if type(config) is cls.config_class:
            return name
    raise StafError(f"{type(config).__name__} is not the config of a registered model")


def build_model(name: str, config: Any, body: BodyModel) -> MeshRecoveryModel:
    """A new model ``name`` with ``config`` (an instance of its config class, or a mapping)."""
    cls = model_class(name)
    if isinstance(config, dict):
        config = model_config_from_dict({"name": name, **config})
    return cls(config, body)


def model_config_from_dict(values: Any, where: str = "model") -> Any:
    """``{name: …, **fields}`` → the named model's config dataclass (every key checked)."""
    from staf.config import from_dict

    if dataclasses.is_dataclass(values):
        return values
    if not isinstance(values, dict):
        raise StafError(f"{where}: expected a mapping with the model's 'name' and settings")
    values = dict(values)
    cls = model_class(str(values.pop("name", "staf")))
    return from_dict(cls.config_class, values, where)


def model_config_to_dict(config: Any) -> dict[str, Any]:
    """The inverse of :func:`model_config_from_dict`: ``{name: …, **fields}`` as plain data."""
    from staf.config import to_dict

    return {"name": model_name(config), **to_dict(config)}
