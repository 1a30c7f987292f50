"""Conversion between dataclasses and plain JSON values, with every field checked: the
machinery behind the typed ``summary.json`` schema (:mod:`synergy_utils.summary`)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

from .results import to_jsonable

T = TypeVar("T")


class SchemaError(ValueError):
    """A summary (section) does not match the schema; the message names the field."""


def to_dict(obj: Any) -> Any:
    """A dataclass (or containers of them) as plain JSON values (NaN and inf become None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return to_jsonable(obj)


def from_dict(cls: type[T], data: Any, where: str = "") -> T:
    """Build ``cls`` (a dataclass, e.g. of :mod:`synergy_utils.summary`) from plain values,
    checking every field.

    Unknown keys, missing required fields and values of the wrong type raise
    :class:`SchemaError` naming the dotted path of the field.
    """
    return _convert(cls, data, where or cls.__name__)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return to_jsonable(value)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(option, value, where)
            except SchemaError as err:
                errors.append(str(err))
        raise SchemaError(errors[0] if errors else f"{where}: None is not allowed")
    if dataclasses.is_dataclass(tp):
        return _convert_dataclass(tp, value, where)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise SchemaError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp) or (Any,)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SchemaError(f"{where}: expected a mapping, got {type(value).__name__}")
        _, item = typing.get_args(tp) or (str, Any)
        return {str(k): _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    return _convert_scalar(tp, value, where)


def _convert_scalar(tp: Any, value: Any, where: str) -> Any:
    value = to_jsonable(value)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SchemaError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise SchemaError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise SchemaError(f"{where}: expected a string, got {value!r}")
        return value
    raise SchemaError(f"{where}: unsupported field type {tp!r}")


def _convert_dataclass(cls: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(value) and isinstance(value, cls):
        value = to_dict(value)
    if not isinstance(value, Mapping):
        raise SchemaError(f"{where}: expected a mapping for {cls.__name__}, got {value!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise SchemaError(
            f"{where}: unknown field(s) {unknown}; {cls.__name__} has {sorted(fields)}"
        )
    kwargs = {}
    for name, spec in fields.items():
        if name in value:
            kwargs[name] = _convert(hints[name], value[name], f"{where}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise SchemaError(f"{where}: missing required field {name!r}")
    return cls(**kwargs)
