"""Converter helpers that build on the converters (re-exported by ``stalwart.converter``):
search attribute payloads, the payload validation error, protobuf payload converters."""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Any

from . import exceptions as exc
from ._model.search_attributes import (
    TYPES_BY_NAME,
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    check_value,
)
from .converter import EncodingPayloadConverter, Payload, default


def _indexed_fields(api: Any) -> Any:
    """Temporal passes a ``SearchAttributes`` message; Stalwart has no protos, so the
    ``indexed_fields`` mapping itself (name -> Payload) stands in for it."""
    return getattr(api, "indexed_fields", api)


def encode_typed_search_attribute_value(key: SearchAttributeKey[Any], value: Any) -> Payload:
    """The payload of one typed value, with its type in the ``type`` metadata."""
    if value is None:
        # No type metadata on a null: the server reads it as "unset".
        return default().payload_converter.to_payload(None)
    if key.indexed_value_type == SearchAttributeIndexedValueType.DATETIME and \
            isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(f"search attribute {key.name!r}: a datetime needs a timezone, got "
                         f"{value!r}; use datetime(..., tzinfo=timezone.utc)")
    payload = default().payload_converter.to_payload(check_value(key, value))
    return Payload({**payload.metadata, "type": key.value_type_name.encode()}, payload.data)


def encode_search_attribute_values(vals: Sequence[Any]) -> Payload:
    """The payload of one attribute's values in the older dict form (a list of one type)."""
    if not isinstance(vals, list):
        raise TypeError(f"search attribute values must be a list, got {type(vals).__name__}")
    kind: type | None = None
    safe: list[Any] = []
    for value in vals:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"search attribute date {value!r} has no timezone")
            value = value.isoformat()
        elif not isinstance(value, str | int | float | bool):
            raise TypeError(f"search attribute value of type {type(value).__name__} is not one "
                            "of str, int, float, bool or datetime")
        elif kind is not None and type(value) is not kind:
            raise TypeError("search attribute values of one key must all have one type, got "
                            f"{kind.__name__} and {type(value).__name__}")
        kind = kind or type(value)
        safe.append(value)
    return default().payload_converter.to_payload(safe)


def encode_search_attributes(attributes: TypedSearchAttributes | Mapping[str, Sequence[Any]],
                             api: Any) -> None:
    """Write ``attributes`` into ``api`` (a mapping of name -> Payload, or an object with
    such an ``indexed_fields``)."""
    fields: MutableMapping[str, Payload] = _indexed_fields(api)
    if isinstance(attributes, TypedSearchAttributes):
        for pair in attributes:
            fields[pair.key.name] = encode_typed_search_attribute_value(pair.key, pair.value)
        return
    for name, values in (attributes or {}).items():
        fields[name] = encode_search_attribute_values(list(values))


def decode_search_attributes(api: Any) -> dict[str, list[Any]]:
    """The older dict form (name -> list of values) of encoded search attributes."""
    converter = default().payload_converter
    out: dict[str, list[Any]] = {}
    for name, payload in _indexed_fields(api).items():
        value = converter.from_payload(payload)
        values = value if isinstance(value, list) else [value]
        if payload.metadata.get("type") == b"Datetime":
            values = [datetime.fromisoformat(v) for v in values]
        out[name] = values
    return out


def decode_typed_search_attributes(api: Any) -> TypedSearchAttributes:
    """Typed search attributes; entries with no or an unknown ``type`` metadata, or a value
    of the wrong type, are left out (as Temporal does)."""
    converter = default().payload_converter
    pairs: list[SearchAttributePair[Any]] = []
    for name, payload in _indexed_fields(api).items():
        kind = TYPES_BY_NAME.get(payload.metadata.get("type", b"").decode())
        if kind is None:
            continue
        key: SearchAttributeKey[Any] = SearchAttributeKey(name, kind)
        value = converter.from_payload(payload)
        if kind != SearchAttributeIndexedValueType.KEYWORD_LIST and isinstance(value, list):
            if len(value) != 1:
                continue
            value = value[0]
        if kind == SearchAttributeIndexedValueType.DATETIME and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif kind == SearchAttributeIndexedValueType.DOUBLE and type(value) is int:
            value = float(value)  # visibility returns a whole Double as a JSON integer
        try:
            check_value(key, value)
        except TypeError:
            continue
        pairs.append(SearchAttributePair(key, value))
    return TypedSearchAttributes(pairs)


def create_payload_validation_error(details: Any) -> exc.ApplicationError:
    """A non-retryable ``ApplicationError`` of type ``PayloadValidationError``, for a
    converter that finds a decoded value invalid."""
    extra: tuple[Any, ...] = () if details is None else (details,)
    return exc.ApplicationError("Payload validation failed", *extra,
                                type="PayloadValidationError", non_retryable=True)


def _protobuf() -> Any:
    try:
        import google.protobuf.json_format
        import google.protobuf.message
        import google.protobuf.message_factory
    except ImportError as error:  # pragma: no cover - depends on the install
        raise RuntimeError("protobuf payloads need the protobuf package: pip install "
                           "'stalwart[protobuf]'") from error
    return google.protobuf


# Whether values of a type are protobuf messages: every payload passes this check (protobuf
# converters come before JSON), so it is answered once per type.
_MESSAGE_TYPES: dict[type, bool] = {}


def _is_message(value: Any) -> bool:
    kind = type(value)
    known = _MESSAGE_TYPES.get(kind)
    if known is None:
        try:
            from google.protobuf.message import Message
        except ImportError:
            known = False
        else:
            known = isinstance(value, Message)
        if len(_MESSAGE_TYPES) < 4096:  # bounded, whatever classes a program makes
            _MESSAGE_TYPES[kind] = known
    return known


def _message_class(payload: Payload, type_hint: Any) -> Any:
    protobuf = _protobuf()
    if isinstance(type_hint, type) and issubclass(type_hint, protobuf.message.Message):
        return type_hint
    name = payload.metadata.get("messageType", b"").decode()
    from google.protobuf import descriptor_pool
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(name)
    except KeyError as error:
        raise RuntimeError(f"unknown protobuf message type {name!r}: import the module that "
                           "defines it, or pass the message class as the type hint") from error
    return protobuf.message_factory.GetMessageClass(descriptor)


class JSONProtoPayloadConverter(EncodingPayloadConverter):
    """Protobuf messages as ``json/protobuf`` (their JSON form, the type in ``messageType``)."""

    def __init__(self, ignore_unknown_fields: bool = False) -> None:
        self._ignore_unknown_fields = ignore_unknown_fields

    @property
    def encoding(self) -> str:
        return "json/protobuf"

    def to_payload(self, value: Any) -> Payload | None:
        # Tried for every value before plain JSON: a type already known not to be a message
        # is answered without a call.
        if _MESSAGE_TYPES.get(type(value)) is False or not _is_message(value):
            return None
        protobuf = _protobuf()
        data = json.dumps(protobuf.json_format.MessageToDict(value), separators=(",", ":"),
                          sort_keys=True)
        return Payload({"encoding": self.encoding.encode(),
                        "messageType": value.DESCRIPTOR.full_name.encode()}, data.encode())

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        protobuf = _protobuf()
        message = _message_class(payload, type_hint)()
        try:
            return protobuf.json_format.Parse(payload.data, message,
                                              ignore_unknown_fields=self._ignore_unknown_fields)
        except protobuf.json_format.ParseError as error:
            raise RuntimeError(f"cannot parse a {type(message).__name__} from JSON: {error}"
                               ) from error


class BinaryProtoPayloadConverter(EncodingPayloadConverter):
    """Protobuf messages as ``binary/protobuf`` (their wire form, the type in
    ``messageType``)."""

    @property
    def encoding(self) -> str:
        return "binary/protobuf"

    def to_payload(self, value: Any) -> Payload | None:
        # Tried for every value before plain JSON: a type already known not to be a message
        # is answered without a call.
        if _MESSAGE_TYPES.get(type(value)) is False or not _is_message(value):
            return None
        return Payload({"encoding": self.encoding.encode(),
                        "messageType": value.DESCRIPTOR.full_name.encode()},
                       value.SerializeToString())

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        message = _message_class(payload, type_hint)()
        message.ParseFromString(payload.data)
        return message
