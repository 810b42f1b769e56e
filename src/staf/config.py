"""Typed configuration: dataclasses filled from YAML presets, no global state.

``load_config(STAFConfig, "staf-r50")`` reads ``staf/configs/staf-r50.yaml`` (a preset name) or
any YAML path, and checks every key against the dataclass so that a typo is an error.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from staf.errors import StafError

T = TypeVar("T")


def check_number(where: str, value: Any, low: float | None = None, high: float | None = None,
                 integer: bool = False, low_open: bool = False) -> None:
    """Refuse a value that is not a (finite) number in [low, high] (``low_open``: > low)."""
    import math

    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not float(value).is_integer()):
        raise StafError(f"{where} must be {kind}, got {value!r}")
    if not math.isfinite(value) or (low is not None and (value <= low if low_open else value < low)) or \
            (high is not None and value > high):
        bounds = f"{'>' if low_open else '≥'} {low}" if low is not None else ""
        bounds += (" and " if bounds and high is not None else "") + (f"≤ {high}" if high is not None else "")
        raise StafError(f"{where} must be {kind} {bounds}, got {value!r}")


def check_name(where: str, value: str) -> None:
    """Refuse a name that is not a plain file-name part (no folders, no '..')."""
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", value) or ".." in value:
        raise StafError(f"{where} must be a plain name (letters, digits, '_', '-', '.'), got {value!r}")


#: the deepest nesting of lists and mappings a YAML settings file may have
MAX_YAML_DEPTH = 50


class _SettingsLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases (a billion-laughs file expands them without bound once
    the settings are copied) and with a nesting limit (deep nesting ends in RecursionError)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"YAML aliases (*{event.anchor}) are not allowed in settings; write the values out")
        self.depth = getattr(self, "depth", 0) + 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise yaml.YAMLError(f"nested more than {MAX_YAML_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(text: str, where: str) -> Any:
    """A settings text → Python values (as ``yaml.safe_load``, without aliases, at most
    :data:`MAX_YAML_DEPTH` levels deep); :class:`StafError` naming ``where`` and the place when not."""
    try:
        return yaml.load(text, Loader=_SettingsLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise StafError(f"{where}: not valid settings YAML{place} ({getattr(exc, 'problem', None) or exc})") from None


def parse_key_values(items: list[str], flag: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings of a repeatable ``flag`` → {key: YAML-typed value} (:func:`load_yaml`)."""
    values = {}
    for item in items:
        key, separator, value = item.partition("=")
        if not separator or not key:
            raise StafError(f"{flag} {item}: expected KEY=VALUE")
        values[key] = load_yaml(value, f"{flag} {key}=" + (value if len(value) <= 60 else f"{value[:40]}…"))
    return values


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
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in values.items()}
    try:
        return cls(**kwargs)
    except StafError as exc:
        raise type(exc)(f"{where}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise StafError(f"{where}: {exc}") from exc


#: a float written as YAML 1.1 reads it as a string (``1e-4``, ``-2E3``): accepted for float fields
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _convert(hint: Any, value: Any, where: str) -> Any:
    """A YAML value for a field of type ``hint``, checked against it: ``int`` refuses ``1.0`` and
    ``true``; ``bool`` refuses ``2`` and ``"maybe"``; ``float`` takes an int (and YAML 1.1's
    ``1e-4`` text) but no bool; ``str`` only text; ``X | None``; ``tuple[X, ...]`` element by
    element; nested dataclasses from mappings; ``Any`` as it is."""
    import types

    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        options = [option for option in typing.get_args(hint) if option is not type(None)]
        if value is None and len(options) < len(typing.get_args(hint)):
            return None
        for option in options:
            try:
                return _convert(option, value, where)
            except StafError as error:
                last = error
        raise last if len(options) == 1 else StafError(f"{where} must be {_describe(hint)}, got {value!r}")
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise StafError(f"{where} must be a list, got {value!r}")
        arguments = typing.get_args(hint)
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return tuple(_convert(arguments[0], entry, f"{where}[{index}]") for index, entry in enumerate(value))
        if arguments and len(arguments) != len(value):
            raise StafError(f"{where} must be a list of {len(arguments)}, got {len(value)} items")
        if not arguments:
            return tuple(value)
        return tuple(_convert(item, entry, f"{where}[{index}]") for index, (item, entry) in enumerate(zip(arguments, value)))
    return _convert_scalar(hint, value, where)


def _convert_scalar(hint: Any, value: Any, where: str) -> Any:
    if hint is bool and not isinstance(value, bool):
        raise StafError(f"{where} must be true or false, got {value!r}")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise StafError(f"{where} must be a whole number (without a decimal point), got {value!r}")
    if hint is float:
        if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StafError(f"{where} must be a number, got {value!r}")
        return float(value)
    if hint is str and not isinstance(value, str):
        raise StafError(f"{where} must be text, got {value!r}")
    return value


def _describe(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text", type(None): "null"}
    return " or ".join(names.get(option, getattr(option, "__name__", str(option))) for option in typing.get_args(hint))


def load_config(cls: type[T], source: str | Path, overrides: dict[str, Any] | None = None) -> T:
    """Read a preset name or YAML file into ``cls``, applying ``overrides`` (dotted keys)."""
    path = Path(source)
    if not path.suffix:
        path = preset_path(str(source))
        if not path.is_file():
            raise StafError(f"unknown preset '{source}'; available: {', '.join(available_presets())}")
    if not path.is_file():
        raise StafError(f"config file {path} does not exist")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise StafError(f"{path}: cannot be read as a YAML text file ({exc})") from None
    values = load_yaml(text, str(path)) or {}
    if not isinstance(values, dict):
        raise StafError(f"{path}: expected a mapping of settings, got {type(values).__name__}")
    for key, value in (overrides or {}).items():
        node = values
        *parents, leaf = key.split(".")
        for depth, parent in enumerate(parents):
            node = node.setdefault(parent, {})
            if not isinstance(node, dict):
                group = ".".join(parents[: depth + 1])
                raise StafError(f"--set {key}: {group} is {type(node).__name__}, not a group of settings; "
                                f"set {group} itself, or a key of a group (e.g. stage1.epochs)")
        node[leaf] = value
    return from_dict(cls, values, str(path))


def plain(value: Any) -> Any:
    """Tuples as lists, recursively through dicts and lists (for YAML snapshots, and so that
    configs read back from checkpoints compare equal to fresh ones)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain data (dicts, lists, scalars)."""
    return plain(dataclasses.asdict(config))
