"""Rebuilding typed values from decoded JSON: the type hint of an argument or a result says
what the JSON payload converter turns a plain JSON value into (a dataclass, an enum, a
datetime, a typed list ...)."""

from __future__ import annotations

import base64
import contextvars
import dataclasses
import datetime
import enum
import inspect
import sys
import types
import typing
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ._converter_types import JSONTypeConverter, transfer_converter_of

# The custom type converters of the JSON payload converter that is decoding (set around
# value_to_type by JSONPlainPayloadConverter.from_payload).
_custom_type_converters: contextvars.ContextVar[Sequence[JSONTypeConverter]] = \
    contextvars.ContextVar("stalwart_custom_type_converters", default=())


def value_to_type(hint: Any, value: Any) -> Any:
    """Rebuild a JSON-decoded ``value`` as the type ``hint`` describes.

    Unknown or missing hints return the value unchanged; a value that cannot match the
    hint raises ``TypeError`` naming both.
    """
    for custom in _custom_type_converters.get():
        converted = custom.to_typed_value(hint, value)
        if converted is not JSONTypeConverter.Unhandled:
            return converted
    if hint is None or hint is Any or hint is object or hint is inspect.Parameter.empty:
        return value
    if hint is str or hint is int or hint is float or hint is bool:
        # What the general path below ends in for these hints, without its other checks.
        if value is None:
            raise TypeError(f"expected {hint.__name__}, got None")
        return _scalar_value(hint, value)
    if isinstance(hint, str):
        return value
    transfer = transfer_converter_of(hint) if isinstance(hint, type) else None
    if transfer is not None:
        return transfer.from_transfer_type(value_to_type(transfer.transfer_type, value), hint)
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return value_to_type(typing.get_args(hint)[0], value)
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return value_to_type(arg, value)
            except (TypeError, ValueError) as error:
                errors.append(str(error))
        raise TypeError(f"value {value!r} matches none of {hint}: {'; '.join(errors)}")
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise TypeError(f"value {value!r} is not one of {hint}")
        return value
    if origin in (list, Sequence, typing.Sequence, set, frozenset, tuple, typing.Iterable):
        if not isinstance(value, list):
            raise TypeError(f"expected a list for {hint}, got {type(value).__name__}")
        args = typing.get_args(hint)
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(value_to_type(args[0], v) for v in value)
            if args:
                return tuple(value_to_type(a, v) for a, v in zip(args, value, strict=False))
            return tuple(value)
        item = args[0] if args else None
        items = [value_to_type(item, v) for v in value]
        if origin in (set, frozenset):
            return origin(items)
        return items
    if origin in (dict, Mapping, typing.Mapping):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {hint}, got {type(value).__name__}")
        args = typing.get_args(hint)
        key_hint, val_hint = args if args else (None, None)
        return {value_to_type(key_hint, k): value_to_type(val_hint, v) for k, v in value.items()}
    if not isinstance(hint, type):
        return value
    if value is None:
        if hint is type(None):
            return None
        raise TypeError(f"expected {hint.__name__}, got None")
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for dataclass {hint.__name__}, got {value!r}")
        hints = _type_hints(hint)
        kwargs = {}
        for f in dataclasses.fields(hint):
            if f.name in value:
                kwargs[f.name] = value_to_type(hints.get(f.name), value[f.name])
        return hint(**kwargs)
    validate = getattr(hint, "model_validate", None)
    if validate is not None:  # pydantic v2 model
        return validate(value)
    if issubclass(hint, enum.Enum):
        return hint(value)
    if hint is datetime.datetime:
        return datetime.datetime.fromisoformat(value)
    if hint is datetime.date:
        return datetime.date.fromisoformat(value)
    if hint is datetime.time:
        return datetime.time.fromisoformat(value)
    if hint is datetime.timedelta:
        return datetime.timedelta(seconds=value)
    if hint is uuid.UUID:
        return uuid.UUID(value)
    if hint is bytes:
        return base64.b64decode(value) if isinstance(value, str) else value
    return _scalar_value(hint, value)


def _scalar_value(hint: type, value: Any) -> Any:
    if hint is int or hint is float:
        # As lenient as temporalio's converter: any JSON number (a bool too) becomes the
        # hinted numeric type.
        if not isinstance(value, int | float):
            raise TypeError(f"expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return int(value) if hint is int else float(value)
    if hint in (str, bool, list, dict):
        if not isinstance(value, hint):
            raise TypeError(f"expected {hint.__name__}, got {type(value).__name__} {value!r}")
        return value
    return value


def _type_hints(obj: Any) -> dict[str, Any]:
    try:
        module = sys.modules.get(getattr(obj, "__module__", ""), None)
        return typing.get_type_hints(obj, globalns=vars(module) if module else None,
                                     include_extras=True)
    except Exception:
        return {}
