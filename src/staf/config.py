"""Typed configuration: dataclasses filled from YAML presets, no global state.

``load_config(STAFConfig, "staf-r50")`` reads ``staf/configs/staf-r50.yaml`` (a preset name) or
any YAML path, and checks every key against the dataclass so that a typo is an error.
"""

from __future__ import annotations

import dataclasses
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from staf.errors import StafError

T = TypeVar("T")


def preset_path(name: str) -> Path:
    """Path of a bundled preset (``staf/configs/NAME.yaml``)."""
    return Path(str(resources.files("staf") / "configs" / f"{name}.yaml"))


def available_presets() -> list[str]:
    folder = Path(str(resources.files("staf") / "configs"))
    return sorted(path.stem for path in folder.glob("*.yaml"))


def from_dict(cls: type[T], values: dict[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclasses."""
    if not isinstance(values, dict):
        raise StafError(f"{where}: expected a mapping, got {type(values).__name__}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise StafError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = from_dict(hint, value, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise StafError(f"{where}: {exc}") from exc


def load_config(cls: type[T], source: str | Path, overrides: dict[str, Any] | None = None) -> T:
    """Read a preset name or YAML file into ``cls``, applying ``overrides`` (dotted keys)."""
    path = Path(source)
    if not path.suffix:
        path = preset_path(str(source))
        if not path.is_file():
            raise StafError(f"unknown preset '{source}'; available: {', '.join(available_presets())}")
    if not path.is_file():
        raise StafError(f"config file {path} does not exist")
    values = yaml.safe_load(path.read_text()) or {}
    for key, value in (overrides or {}).items():
        node = values
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return from_dict(cls, values, str(path))


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain data (for checkpoints and YAML)."""
    return dataclasses.asdict(config)
