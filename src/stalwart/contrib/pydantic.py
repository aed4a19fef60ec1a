"""A data converter for pydantic models (mirrors ``temporalio.contrib.pydantic``).

Pass :data:`pydantic_data_converter` to ``Client.connect(url, data_converter=...)``. Values are
serialized with pydantic (``to_json``, the JSON form of ``model_dump(mode="json")``), so models,
nested models and the datetimes, UUIDs, decimals and enums inside them survive a round trip.
On the way back every value is validated against the type hint of the function that receives
it, with a ``TypeAdapter``: ``list[Model]``, ``dict[str, Model]``, ``Model | None`` and plain
types all work.

Needs the ``pydantic`` extra (``pip install 'stalwart[pydantic]'``).
"""

from __future__ import annotations

import functools
import inspect
import json
from dataclasses import dataclass
from typing import Any

try:
    from pydantic import TypeAdapter
    from pydantic_core import PydanticSerializationError, SchemaSerializer, to_json
    from pydantic_core.core_schema import any_schema
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "stalwart.contrib.pydantic needs pydantic 2: pip install 'stalwart[pydantic]'"
    ) from error

from .._runtime import guard as _guard
from ..converter import (
    BinaryNullPayloadConverter,
    BinaryPlainPayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    Payload,
)

__all__ = [
    "PydanticJSONPlainPayloadConverter",
    "PydanticPayloadConverter",
    "ToJsonOptions",
    "pydantic_data_converter",
]

_JSON_PLAIN = b"json/plain"


@functools.lru_cache(maxsize=512)
def _cached_adapter(hint: Any) -> TypeAdapter[Any]:
    return _new_adapter(hint)


def _new_adapter(hint: Any) -> TypeAdapter[Any]:
    # Decoding a workflow's input runs inside its activation, and pydantic reads its plugins'
    # entry points (files) when it builds its first validator in the process. That is
    # library set-up, the same on every replay, not workflow I/O.
    with _guard.unrestricted():
        return TypeAdapter(hint)


def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    """A (cached: building one compiles a validator) TypeAdapter, or None for 'no hint'."""
    if hint is None or hint is Any or hint is object or hint is inspect.Parameter.empty:
        return None
    if isinstance(hint, str):
        # An unresolved forward reference: nothing to validate against.
        return None
    try:
        return _cached_adapter(hint)
    except TypeError:  # unhashable hint, e.g. Annotated with an unhashable marker
        return _new_adapter(hint)


@dataclass
class ToJsonOptions:
    """Options for converting to JSON with pydantic.

    Attributes:
        exclude_unset: Leave out model fields that were never set (``model_dump``'s
            ``exclude_unset``).
    """

    exclude_unset: bool = False


class PydanticJSONPlainPayloadConverter(JSONPlainPayloadConverter):
    """``json/plain`` payloads written and read by pydantic.

    Args:
        to_json_options: How values are written (see :class:`ToJsonOptions`).
        max_cached_type_adapters: Accepted for temporalio's shape; Stalwart keeps one
            process-wide cache of 512 type adapters.
    """

    encoding = "json/plain"

    def __init__(self, to_json_options: ToJsonOptions | None = None, *,
                 max_cached_type_adapters: int | None = 1024) -> None:
        super().__init__()
        if max_cached_type_adapters is not None and max_cached_type_adapters < 0:
            raise ValueError("max_cached_type_adapters cannot be negative, got "
                             f"{max_cached_type_adapters}")
        if to_json_options is not None and not isinstance(to_json_options, ToJsonOptions):
            raise TypeError(f"to_json_options must be a ToJsonOptions, got {to_json_options!r}")
        self._to_json_options = to_json_options
        self._serializer = SchemaSerializer(any_schema())

    def to_payload(self, value: Any, path: str = "value") -> Payload | None:
        try:
            options = self._to_json_options
            data = to_json(value) if options is None else self._serializer.to_json(
                value, exclude_unset=options.exclude_unset)
        except PydanticSerializationError as error:
            raise TypeError(
                f"cannot serialize {path}: a value of type {type(value).__module__}."
                f"{type(value).__qualname__} is not serializable by pydantic: {error}"
            ) from None
        return Payload({"encoding": _JSON_PLAIN}, data)

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        adapter = _adapter(type_hint)
        if adapter is None:
            return json.loads(payload.data)
        return adapter.validate_json(payload.data)


class PydanticPayloadConverter(DefaultPayloadConverter):
    """The default converter with pydantic in place of the plain JSON converter. For options,
    use a subclass without constructor arguments as ``payload_converter_class``."""

    default_encoding_payload_converters = (
        BinaryNullPayloadConverter(), BinaryPlainPayloadConverter(),
        PydanticJSONPlainPayloadConverter())

    def __init__(self, to_json_options: ToJsonOptions | None = None, *,
                 max_cached_type_adapters: int | None = 1024) -> None:
        super().__init__()
        if to_json_options is not None or max_cached_type_adapters != 1024:
            json_converter = PydanticJSONPlainPayloadConverter(
                to_json_options, max_cached_type_adapters=max_cached_type_adapters)
            self.converters = {**self.converters, _JSON_PLAIN: json_converter}


pydantic_data_converter = DataConverter(payload_converter_class=PydanticPayloadConverter)
"""A :class:`~stalwart.converter.DataConverter` that serializes with pydantic."""
