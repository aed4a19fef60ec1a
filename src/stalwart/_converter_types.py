"""Converter types with no dependence on the converters themselves: ``Payload`` and its store
form, serialization contexts, JSON type converters and transfer-type converters (re-exported
by ``stalwart.converter``)."""

from __future__ import annotations

import abc
import base64
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar

from . import _payload_wire
from ._converter_failures import PayloadCodecWrapperMethods

ValueT = TypeVar("ValueT")
TransferTypeT = TypeVar("TransferTypeT")

TRANSFER_TYPE_CONVERTER_ATTR = "__stalwart_transfer_type_converter__"

_JSON_PLAIN = b"json/plain"


@dataclass(frozen=True)
class Payload:
    """One encoded value: metadata (``encoding`` at least) and the encoded bytes."""

    metadata: Mapping[str, bytes]
    data: bytes

    @property
    def encoding(self) -> str:
        return self.metadata.get("encoding", b"").decode()

    def SerializeToString(self, *, deterministic: bool = False) -> bytes:
        """The payload in Temporal's protobuf wire form (as temporalio's ``Payload``), what
        a payload codec encrypts or compresses; ``deterministic`` orders metadata by key."""
        metadata = dict(sorted(self.metadata.items())) if deterministic else self.metadata
        return _payload_wire.encode(metadata, self.data)

    @classmethod
    def FromString(cls, serialized: bytes) -> Payload:
        """A payload back from ``SerializeToString``'s bytes (or temporalio's)."""
        metadata, data = _payload_wire.decode(serialized)
        return cls(metadata, data)

    def ByteSize(self) -> int:
        return len(self.SerializeToString())


def _payload_to_json(payload: Payload) -> dict[str, Any]:
    """Store form of a payload: readable text for JSON, base64 for anything else."""
    metadata = {k: v.decode("latin-1") for k, v in payload.metadata.items()}
    if payload.metadata.get("encoding") == _JSON_PLAIN:
        return {"metadata": metadata, "data": payload.data.decode()}
    return {"metadata": metadata, "data_b64": base64.b64encode(payload.data).decode()}


def headers_to_json(headers: Mapping[str, Payload] | None) -> dict[str, Any]:
    """Interceptor headers (name -> Payload) in their store form."""
    return {name: _payload_to_json(payload) for name, payload in (headers or {}).items()}


def headers_from_json(data: Mapping[str, Any] | None) -> dict[str, Payload]:
    return {name: _payload_from_json(payload) for name, payload in (data or {}).items()}


def _payload_from_json(data: Mapping[str, Any]) -> Payload:
    metadata = {k: v.encode("latin-1") for k, v in data["metadata"].items()}
    if "data" in data:
        return Payload(metadata, data["data"].encode())
    return Payload(metadata, base64.b64decode(data["data_b64"]))




class SerializationContext(ABC):  # noqa: B024 - a marker base, as in temporalio
    """What a payload being converted belongs to: a :class:`WorkflowSerializationContext`
    (a workflow's input, result, signal, query or update; for a child, the child's id) or an
    :class:`ActivitySerializationContext` (an activity's input, result or heartbeat)."""


@dataclass(frozen=True)
class WorkflowSerializationContext(SerializationContext):
    namespace: str
    workflow_id: str


@dataclass(frozen=True)
class ActivitySerializationContext(SerializationContext):
    namespace: str
    activity_id: str | None
    activity_type: str | None
    activity_task_queue: str | None
    workflow_id: str | None
    workflow_type: str | None
    is_local: bool


class WithSerializationContext(ABC):  # noqa: B024 - implementers override one method
    """A payload converter, codec or failure converter that can take a context: the data
    converter replaces it with ``with_context(context)`` before converting."""

    def with_context(self, context: SerializationContext) -> Self:
        raise NotImplementedError(
            f"{type(self).__qualname__} inherits WithSerializationContext but does not "
            "implement with_context(context)")


# isinstance(part, WithSerializationContext) per type: the data converter asks it of its three
# parts for every activity, child and workflow it converts for, and an ABC's isinstance is a
# Python-level call. Cleared when any ABC's registry changes (``register``), so the answer
# stays isinstance's.
_TAKES_CONTEXT: dict[type, bool] = {}
_takes_context_token = abc.get_cache_token()


def takes_context(part: object) -> bool:
    global _takes_context_token
    token = abc.get_cache_token()
    if token != _takes_context_token:
        _TAKES_CONTEXT.clear()
        _takes_context_token = token
    kind = type(part)
    known = _TAKES_CONTEXT.get(kind)
    if known is None:
        known = isinstance(part, WithSerializationContext)
        if len(_TAKES_CONTEXT) < 1024 and getattr(part, "__class__", kind) is kind:
            _TAKES_CONTEXT[kind] = known
    return known


def none_take_context(holder: object, parts: tuple[object, ...]) -> bool:
    """Whether none of ``parts`` takes a context; remembered on ``holder`` until its parts or
    an ABC's registry change."""
    token = abc.get_cache_token()
    known = getattr(holder, "_context_known", None)
    if known is None or known[0] != token or known[1] != parts:
        known = (token, parts, not any(takes_context(part) for part in parts))
        # object.__setattr__: the holder may be a frozen dataclass (the DataConverter).
        object.__setattr__(holder, "_context_known", known)
    return bool(known[2])


def bound_to(part: ValueT, context: SerializationContext) -> ValueT:
    """``part.with_context(context)`` if ``part`` takes a context, else ``part``."""
    return part.with_context(context) if takes_context(part) else part  # type: ignore


class JSONTypeConverter:
    """Extends how JSON values are rebuilt as typed values: ``to_typed_value(hint, value)``
    returns the typed value, or ``JSONTypeConverter.Unhandled`` to leave it to the default."""

    Unhandled: ClassVar[Any]

    def to_typed_value(self, hint: Any, value: Any) -> Any:
        raise NotImplementedError


class JSONTypeConverterUnhandled:
    """The type of ``JSONTypeConverter.Unhandled``."""

    def __repr__(self) -> str:
        return "JSONTypeConverter.Unhandled"


JSONTypeConverter.Unhandled = JSONTypeConverterUnhandled()


class TransferTypeConverter(Generic[ValueT, TransferTypeT], ABC):
    """Turns a value of a class JSON cannot carry into one it can (the transfer type) and
    back; attach it to the class with :func:`transfer_type_convertible`."""

    transfer_type: type[TransferTypeT] | None = None
    """The type the JSON form is first decoded as (``None``: the plain JSON value)."""

    @abstractmethod
    def to_transfer_type(self, value: ValueT) -> TransferTypeT:
        raise NotImplementedError

    @abstractmethod
    def from_transfer_type(self, value: TransferTypeT, type_hint: type[ValueT]) -> ValueT:
        raise NotImplementedError


class _TransferTypeConvertibleDecorator(Generic[ValueT, TransferTypeT]):
    def __init__(self, converter_type: type[TransferTypeConverter[ValueT, TransferTypeT]]
                 ) -> None:
        self._converter_type = converter_type

    def __call__(self, cls: type[ValueT]) -> type[ValueT]:
        if TRANSFER_TYPE_CONVERTER_ATTR in cls.__dict__:
            raise TypeError(f"class {cls.__qualname__} already has a transfer type converter")
        setattr(cls, TRANSFER_TYPE_CONVERTER_ATTR, self._converter_type())
        return cls


def transfer_type_convertible(
    converter_type: type[TransferTypeConverter[ValueT, TransferTypeT]],
) -> _TransferTypeConvertibleDecorator[ValueT, TransferTypeT]:
    """Class decorator: payloads carry instances of the class as
    ``converter_type().to_transfer_type(value)`` and rebuild them on decoding."""
    return _TransferTypeConvertibleDecorator(converter_type)


def transfer_converter_of(value_type: object) -> TransferTypeConverter[Any, Any] | None:
    converter = getattr(value_type, TRANSFER_TYPE_CONVERTER_ATTR, None)
    return converter if isinstance(converter, TransferTypeConverter) else None


# Here rather than in ``converter``, so that external storage (``_converter_storage``), which
# ``converter`` re-exports, can build on it whichever of the two is imported first.
class PayloadCodec(PayloadCodecWrapperMethods):
    """Transforms lists of payloads on their way to and from the store (e.g. encryption)."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raise NotImplementedError

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        raise NotImplementedError
