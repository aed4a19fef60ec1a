"""Values to payloads and back, and exceptions to recorded failures and back.

Mirrors ``temporalio.converter``: a :class:`DataConverter` bundles a (synchronous) payload
converter that runs inside workflow code, an optional asynchronous :class:`PayloadCodec`
(encryption, compression) applied at the store boundary, and a failure converter.
Values are decoded by the type hints of the function that receives them.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import enum
import json
import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from . import exceptions as exc
from ._converter_failures import (
    FailureAndWrapperMethods,
    PayloadConverterWrapperMethods,
)
from ._converter_types import (
    ActivitySerializationContext,
    JSONTypeConverter,
    JSONTypeConverterUnhandled,
    Payload,
    PayloadCodec,
    SerializationContext,
    TransferTypeConverter,
    WithSerializationContext,
    WorkflowSerializationContext,
    bound_to,
    none_take_context,
    transfer_converter_of,
    transfer_type_convertible,
)

# Re-exported for the modules that import them from here.
from ._converter_types import _payload_from_json as _payload_from_json
from ._converter_types import _payload_to_json as _payload_to_json
from ._converter_types import headers_from_json as headers_from_json
from ._converter_types import headers_to_json as headers_to_json
from ._converter_values import _custom_type_converters, value_to_type
from .common import RawValue

__all__ = [
    "ActivitySerializationContext",
    "AdvancedJSONEncoder",
    "BinaryNullPayloadConverter",
    "BinaryPlainPayloadConverter",
    "BinaryProtoPayloadConverter",
    "CompositePayloadConverter",
    "DataConverter",
    "DefaultFailureConverter",
    "DefaultFailureConverterWithEncodedAttributes",
    "DefaultPayloadConverter",
    "EncodingPayloadConverter",
    "ExternalStorage",
    "FailureConverter",
    "JSONPlainPayloadConverter",
    "JSONProtoPayloadConverter",
    "JSONTypeConverter",
    "JSONTypeConverterUnhandled",
    "LocalDirectoryStorageDriver",
    "Payload",
    "PayloadCodec",
    "PayloadConverter",
    "SerializationContext",
    "StorageDriver",
    "StorageDriverActivityInfo",
    "StorageDriverClaim",
    "StorageDriverRetrieveContext",
    "StorageDriverSelectContext",
    "StorageDriverStoreContext",
    "StorageDriverWorkflowInfo",
    "StorageWarning",
    "TransferTypeConverter",
    "WithSerializationContext",
    "WorkflowSerializationContext",
    "create_payload_validation_error",
    "decode_search_attributes",
    "decode_typed_search_attributes",
    "default",
    "encode_search_attribute_values",
    "encode_search_attributes",
    "encode_typed_search_attribute_value",
    "transfer_type_convertible",
    "value_to_type",
]

_JSON_PLAIN = b"json/plain"
_BINARY_NULL = b"binary/null"
_BINARY_PLAIN = b"binary/plain"


class PayloadConverter(PayloadConverterWrapperMethods):
    """Converts values to payloads and back; synchronous, safe inside workflow code."""

    default: ClassVar[PayloadConverter]

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        raise NotImplementedError

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: Sequence[Any] | None = None
    ) -> list[Any]:
        raise NotImplementedError

    def to_payload(self, value: Any) -> Payload:
        return self.to_payloads([value])[0]

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        return self.from_payloads([payload], [type_hint])[0]


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _to_jsonable(value: Any, path: str) -> Any:
    """Plain JSON data for ``value``; raises TypeError naming the type and the path."""
    if type(value) in _JSON_SCALARS:
        return value  # no transfer converter can be attached to a builtin type
    transfer = transfer_converter_of(type(value))
    if transfer is not None:
        return _to_jsonable(transfer.to_transfer_type(value), path)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return _to_jsonable(value.value, path)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if isinstance(key, enum.Enum):
                key = key.value
            if not isinstance(key, str | int | float | bool):
                raise TypeError(
                    f"cannot serialize {path}: dict key {key!r} of type {type(key).__name__} "
                    "is not a str, int, float, bool or enum; convert keys to strings"
                )
            out[str(key) if not isinstance(key, str) else key] = _to_jsonable(
                item, f"{path}[{key!r}]"
            )
        return out
    if isinstance(value, list | tuple | set | frozenset):
        return [_to_jsonable(item, f"{path}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _to_jsonable(getattr(value, f.name), f"{path}.{f.name}")
            for f in dataclasses.fields(value)
        }
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    dump = getattr(value, "model_dump", None)
    if dump is not None and callable(dump):  # pydantic v2 model
        return dump(mode="json")
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(
        f"cannot serialize {path}: a value of type {type(value).__module__}."
        f"{type(value).__qualname__} is not JSON-serializable; use a dataclass, a pydantic "
        "model, or plain dict/list/str/int/float/bool values"
    )


class EncodingPayloadConverter:
    """Converts values of one encoding; a :class:`CompositePayloadConverter` tries several in
    order. ``to_payload`` returns None for a value this converter does not take."""

    @property
    def encoding(self) -> str:
        raise NotImplementedError

    def to_payload(self, value: Any) -> Payload | None:
        raise NotImplementedError

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        raise NotImplementedError


class BinaryNullPayloadConverter(EncodingPayloadConverter):
    """``None`` as ``binary/null``."""

    @property
    def encoding(self) -> str:
        return "binary/null"

    def to_payload(self, value: Any) -> Payload | None:
        return Payload({"encoding": _BINARY_NULL}, b"") if value is None else None

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        return None


class BinaryPlainPayloadConverter(EncodingPayloadConverter):
    """``bytes`` as ``binary/plain``."""

    @property
    def encoding(self) -> str:
        return "binary/plain"

    def to_payload(self, value: Any) -> Payload | None:
        return Payload({"encoding": _BINARY_PLAIN}, value) if isinstance(value, bytes) else None

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        return payload.data


class AdvancedJSONEncoder(json.JSONEncoder):
    """``json.JSONEncoder`` that also takes dataclasses, pydantic models, enums, datetimes,
    timedeltas, UUIDs and bytes, the way Stalwart's JSON payloads carry them."""

    def default(self, o: Any) -> Any:
        return _to_jsonable(o, "value")



class JSONPlainPayloadConverter(EncodingPayloadConverter):
    """JSON for everything JSON can carry, plus dataclasses, pydantic models, enums, datetimes.

    Args:
        encoder: A ``json.JSONEncoder`` class for values JSON cannot carry (the default
            handles everything listed above).
        decoder: A ``json.JSONDecoder`` class.
        encoding: The encoding name written into payloads.
        custom_type_converters: Tried, in order, before the default when rebuilding typed
            values.
    """

    def __init__(self, *, encoder: type[json.JSONEncoder] | None = AdvancedJSONEncoder,
                 decoder: type[json.JSONDecoder] | None = None, encoding: str = "json/plain",
                 custom_type_converters: Sequence[JSONTypeConverter] = ()) -> None:
        self._encoder = encoder
        self._decoder = decoder
        self._encoding = encoding
        self._custom = tuple(custom_type_converters)

    @property
    def encoding(self) -> str:
        return self._encoding

    def to_payload(self, value: Any, path: str = "value") -> Payload | None:
        if self._encoder is None or self._encoder is AdvancedJSONEncoder:
            # Keys sorted and non-ASCII escaped, as temporalio writes them: the same value
            # gives the same bytes on both, and a dict comes back in the same key order.
            data = json.dumps(_to_jsonable(value, path), separators=(",", ":"),
                              sort_keys=True)
        else:
            data = json.dumps(value, cls=self._encoder, separators=(",", ":"),
                              sort_keys=True)
        return Payload({"encoding": self._encoding.encode()}, data.encode())

    def from_payload(self, payload: Payload, type_hint: Any = None) -> Any:
        decoded = json.loads(payload.data, cls=self._decoder)
        if not self._custom:
            return value_to_type(type_hint, decoded)
        token = _custom_type_converters.set(self._custom)
        try:
            return value_to_type(type_hint, decoded)
        finally:
            _custom_type_converters.reset(token)


class CompositePayloadConverter(PayloadConverter, WithSerializationContext):
    """Tries its encoding converters in order to encode a value; decodes each payload with
    the converter of its encoding."""

    converters: Mapping[bytes, EncodingPayloadConverter]
    # Class-level defaults, for subclasses that set ``converters`` without this __init__.
    _plan: tuple[tuple[EncodingPayloadConverter, bool], ...] = ()
    _plan_of: tuple[EncodingPayloadConverter, ...] = ()
    _plain_json: JSONPlainPayloadConverter | None = None

    def __init__(self, *converters: EncodingPayloadConverter) -> None:
        self.converters = {c.encoding.encode(): c for c in converters}

    def with_context(self, context: SerializationContext) -> Self:
        """A copy whose encoding converters took ``context`` (``self`` if none did)."""
        converters = self.get_converters_with_context(context)
        if converters is None:
            return self
        bound = type(self)()  # as temporalio's: needs a constructor without arguments
        bound.converters = {c.encoding.encode(): c for c in converters}
        return bound

    def get_converters_with_context(self, context: SerializationContext
                                    ) -> list[EncodingPayloadConverter] | None:
        """The encoding converters bound to ``context``; None when none takes one."""
        current = tuple(self.converters.values())  # public: may change between calls
        if none_take_context(self, current):
            return None
        old = list(current)
        new = [c.with_context(context) if isinstance(c, WithSerializationContext) else c
               for c in old]
        return new if any(a is not b for a, b in zip(new, old, strict=True)) else None

    def _converters_in_order(self) -> tuple[tuple[EncodingPayloadConverter, bool], ...]:
        """The converters, each with whether it takes the value's path; worked out again only
        when ``converters`` changed (it is a public attribute)."""
        current = tuple(self.converters.values())
        if current != self._plan_of:
            self._plan = tuple((c, isinstance(c, JSONPlainPayloadConverter)) for c in current)
            self._plan_of = current
            self._plain_json = _plain_json_converter(current)
        return self._plan

    def to_payloads(self, values: Sequence[Any]) -> list[Payload]:
        out = []
        plan = self._converters_in_order()
        plain_json = self._plain_json
        for i, value in enumerate(values):
            if plain_json is not None and type(value) in _PLAIN_JSON_TYPES:
                payload = plain_json.to_payload(value, f"args[{i}]")
                if payload is not None:  # always: JSON takes every such value
                    out.append(payload)
                    continue
            if isinstance(value, RawValue) and isinstance(value.payload, Payload):
                out.append(value.payload)  # already encoded, as in Temporal
                continue
            for converter, takes_path in plan:
                payload = (converter.to_payload(value, f"args[{i}]")  # type: ignore[call-arg]
                           if takes_path else converter.to_payload(value))
                if payload is not None:
                    out.append(payload)
                    break
            else:
                raise TypeError(f"cannot serialize args[{i}]: no payload converter takes a "
                                f"{type(value).__name__} (tried "
                                f"{', '.join(c.encoding for c in self.converters.values())})")
        return out

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: Sequence[Any] | None = None
    ) -> list[Any]:
        out = []
        for i, payload in enumerate(payloads):
            hint = type_hints[i] if type_hints and i < len(type_hints) else None
            encoding = payload.metadata.get("encoding", b"")
            converter = self.converters.get(encoding)
            if converter is None:
                raise exc.ApplicationError(
                    f"cannot decode payload {i}: unknown encoding "
                    f"{encoding.decode(errors='replace')!r}; is a payload "
                    "codec configured on this client's data converter?",
                    type="PayloadDecodeError", non_retryable=True,
                )
            out.append(converter.from_payload(payload, hint))
        return out


# Values that every converter in _PLAIN_JSON_DECLINERS declines (they take None, bytes or
# protobuf messages), by exact type. The converters of the default order are tried one by one
# for each value, the JSON converter last; for these values the answer is known in advance.
_PLAIN_JSON_TYPES = frozenset({str, int, float, bool, list, dict})
_PLAIN_JSON_DECLINERS: set[type] = set()


def _plain_json_converter(converters: Sequence[EncodingPayloadConverter]
                          ) -> JSONPlainPayloadConverter | None:
    """The converter that takes plain JSON values when only converters known to decline them
    precede it (exact types: a subclass may take more); None otherwise."""
    for converter in converters:
        if type(converter) is JSONPlainPayloadConverter:
            return converter
        if type(converter) not in _PLAIN_JSON_DECLINERS:
            return None
    return None


class DefaultPayloadConverter(CompositePayloadConverter):
    """``None`` as binary/null, ``bytes`` as binary/plain, everything else as JSON."""

    default_encoding_payload_converters: ClassVar[tuple[EncodingPayloadConverter, ...]] = (
        BinaryNullPayloadConverter(), BinaryPlainPayloadConverter(),
        JSONPlainPayloadConverter())

    def __init__(self) -> None:
        super().__init__(*type(self).default_encoding_payload_converters)


class FailureConverter:
    """Converts exceptions to recorded failures (plain dicts) and back."""

    default: ClassVar[FailureConverter]

    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter
                   ) -> dict[str, Any]:
        raise NotImplementedError

    def from_failure(self, failure: Mapping[str, Any], payload_converter: PayloadConverter
                     ) -> BaseException:
        raise NotImplementedError


class DefaultFailureConverter(FailureConverter):
    """Temporal's failure shape: message, stack trace, cause chain and a typed info block.

    Args:
        encode_common_attributes: Move each failure's message and stack trace into an
            ``encoded_attributes`` payload (the message reads "Encoded failure"), so that a
            payload codec encrypts them along with the other payloads.
    """

    def __init__(self, *, encode_common_attributes: bool = False) -> None:
        self._encode_common_attributes = encode_common_attributes

    def to_failure(self, exception: BaseException, payload_converter: PayloadConverter
                   ) -> dict[str, Any]:
        failure = self._to_failure(exception, payload_converter)
        if self._encode_common_attributes:
            level: dict[str, Any] | None = failure
            while level is not None:
                level["encoded_attributes"] = _payload_to_json(payload_converter.to_payload(
                    {"message": level["message"], "stack_trace": level["stack_trace"]}))
                level["message"], level["stack_trace"] = "Encoded failure", ""
                level = level.get("cause")
        return failure

    def _to_failure(self, exception: BaseException, payload_converter: PayloadConverter
                    ) -> dict[str, Any]:
        failure: dict[str, Any] = {
            "message": exception.message if isinstance(exception, exc.FailureError)
            else str(exception),
            "stack_trace": "".join(traceback.format_exception(
                type(exception), exception, exception.__traceback__, chain=False
            )).strip() if exception.__traceback__ else "",
        }
        if isinstance(exception, exc.ApplicationError):
            failure["application_failure_info"] = {
                "type": exception.type or "",
                "non_retryable": exception.non_retryable,
                "details": _encode_details(exception.details, payload_converter),
                "next_retry_delay": exception.next_retry_delay.total_seconds()
                if exception.next_retry_delay is not None else None,
                "category": int(exception.category),
            }
        elif isinstance(exception, exc.TimeoutError):
            failure["timeout_failure_info"] = {
                "timeout_type": int(exception.type) if exception.type is not None else None,
                "last_heartbeat_details": _encode_details(
                    exception.last_heartbeat_details, payload_converter),
            }
        elif isinstance(exception, exc.CancelledError):
            failure["canceled_failure_info"] = {
                "details": _encode_details(exception.details, payload_converter)}
        elif isinstance(exception, exc.TerminatedError):
            failure["terminated_failure_info"] = {}
        elif isinstance(exception, exc.ServerError):
            failure["server_failure_info"] = {"non_retryable": exception.non_retryable}
        elif isinstance(exception, exc.ActivityError):
            failure["activity_failure_info"] = {
                "scheduled_event_id": exception.scheduled_event_id,
                "started_event_id": exception.started_event_id,
                "identity": exception.identity, "activity_type": exception.activity_type,
                "activity_id": exception.activity_id,
                "retry_state": int(exception.retry_state) if exception.retry_state else 0,
            }
        elif isinstance(exception, exc.ChildWorkflowError):
            failure["child_workflow_execution_failure_info"] = {
                "namespace": exception.namespace, "workflow_id": exception.workflow_id,
                "run_id": exception.run_id, "workflow_type": exception.workflow_type,
                "initiated_event_id": exception.initiated_event_id,
                "started_event_id": exception.started_event_id,
                "retry_state": int(exception.retry_state) if exception.retry_state else 0,
            }
        else:
            failure["application_failure_info"] = {
                "type": type(exception).__name__, "non_retryable": False, "details": [],
                "next_retry_delay": None, "category": 0,
            }
        if exception.__cause__ is not None:
            failure["cause"] = self._to_failure(exception.__cause__, payload_converter)
        return failure

    def from_failure(self, failure: Mapping[str, Any], payload_converter: PayloadConverter
                     ) -> BaseException:
        encoded = failure.get("encoded_attributes")
        if encoded is not None:
            # Decoded whatever this converter's setting: the writer chose to encode.
            attributes = payload_converter.from_payload(_payload_from_json(encoded))
            if isinstance(attributes, Mapping):
                failure = {**failure, "message": attributes.get("message", ""),
                           "stack_trace": attributes.get("stack_trace", "")}
        message = failure.get("message", "")
        error: exc.FailureError
        if (info := failure.get("application_failure_info")) is not None:
            error = exc.ApplicationError(
                message, *_decode_details(info.get("details"), payload_converter),
                type=info.get("type") or None, non_retryable=bool(info.get("non_retryable")),
                next_retry_delay=datetime.timedelta(seconds=info["next_retry_delay"])
                if info.get("next_retry_delay") is not None else None,
                category=exc.ApplicationErrorCategory(info.get("category") or 0),
            )
        elif (info := failure.get("timeout_failure_info")) is not None:
            timeout_type = info.get("timeout_type")
            error = exc.TimeoutError(
                # 0 (unspecified) is what a store writes for a workflow's execution timeout.
                message, type=exc.TimeoutType(timeout_type or exc.TimeoutType.START_TO_CLOSE)
                if timeout_type is not None else None,
                last_heartbeat_details=_decode_details(
                    info.get("last_heartbeat_details"), payload_converter),
            )
        elif (info := failure.get("canceled_failure_info")) is not None:
            error = exc.CancelledError(
                message, *_decode_details(info.get("details"), payload_converter))
        elif failure.get("terminated_failure_info") is not None:
            error = exc.TerminatedError(message)
        elif (info := failure.get("server_failure_info")) is not None:
            error = exc.ServerError(message, non_retryable=bool(info.get("non_retryable")))
        elif (info := failure.get("activity_failure_info")) is not None:
            error = exc.ActivityError(
                message, scheduled_event_id=info.get("scheduled_event_id", 0),
                started_event_id=info.get("started_event_id", 0),
                identity=info.get("identity", ""), activity_type=info.get("activity_type", ""),
                activity_id=info.get("activity_id", ""),
                retry_state=exc.RetryState(info.get("retry_state") or 0),
            )
        elif (info := failure.get("child_workflow_execution_failure_info")) is not None:
            error = exc.ChildWorkflowError(
                message, namespace=info.get("namespace", "default"),
                workflow_id=info.get("workflow_id", ""), run_id=info.get("run_id", ""),
                workflow_type=info.get("workflow_type", ""),
                initiated_event_id=info.get("initiated_event_id", 0),
                started_event_id=info.get("started_event_id", 0),
                retry_state=exc.RetryState(info.get("retry_state") or 0),
            )
        else:
            error = exc.FailureError(message)
        error._failure = dict(failure)
        if failure.get("cause") is not None:
            error.__cause__ = self.from_failure(failure["cause"], payload_converter)
        return error


class DefaultFailureConverterWithEncodedAttributes(DefaultFailureConverter):
    """:class:`DefaultFailureConverter` with ``encode_common_attributes=True``."""

    def __init__(self) -> None:
        super().__init__(encode_common_attributes=True)


def _encode_details(details: Sequence[Any], converter: PayloadConverter) -> list[dict[str, Any]]:
    if not details:
        return []
    try:
        return [_payload_to_json(p) for p in converter.to_payloads(list(details))]
    except TypeError as error:
        # A failure must always be recordable, even when its details are not.
        return [_payload_to_json(converter.to_payload(f"<unserializable details: {error}>"))]


def _decode_details(details: Any, converter: PayloadConverter) -> list[Any]:
    if not details:
        return []
    return converter.from_payloads([_payload_from_json(p) for p in details])


@dataclass(frozen=True)
class DataConverter(FailureAndWrapperMethods):
    """Payload converter, optional codec and failure converter, used together.

    Args:
        payload_converter_class: Class of the synchronous value <-> payload converter.
        payload_codec: Optional async transform applied to every payload the store keeps.
        failure_converter_class: Class of the exception <-> failure converter.
        external_storage: Optional :class:`ExternalStorage`: payloads above its size
            threshold (after the codec) are kept by a driver and the store holds a reference.
    """

    payload_converter_class: type[PayloadConverter] = DefaultPayloadConverter
    payload_codec: PayloadCodec | None = None
    failure_converter_class: type[FailureConverter] = DefaultFailureConverter
    payload_converter: PayloadConverter = field(init=False)
    failure_converter: FailureConverter = field(init=False)
    external_storage: ExternalStorage | None = None

    default: ClassVar[DataConverter]

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload_converter", self.payload_converter_class())
        object.__setattr__(self, "failure_converter", self.failure_converter_class())

    @property
    def _store_codec(self) -> PayloadCodec | None:
        """What turns payloads into what the store keeps: the codec, then external storage."""
        if self.external_storage is None:
            return self.payload_codec
        return StorageCodec(self.payload_codec, self.external_storage)

    async def encode(self, values: Sequence[Any]) -> list[Payload]:
        payloads = self.payload_converter.to_payloads(values)
        codec = self._store_codec
        if codec is not None:
            payloads = await codec.encode(payloads)
        return payloads

    async def decode(self, payloads: Sequence[Payload],
                     type_hints: Sequence[Any] | None = None) -> list[Any]:
        codec = self._store_codec
        if codec is not None:
            payloads = await codec.decode(payloads)
        return self.payload_converter.from_payloads(payloads, type_hints)

    def _takes_no_context(self) -> bool:
        """Whether no part takes a serialization context, so that ``with_context`` is
        ``self``: the usual case, asked for every workflow, activity and child, answered by
        one remembered check (see ``none_take_context``) instead of asking each part."""
        pc = self.payload_converter
        if getattr(type(pc), "with_context", None) is CompositePayloadConverter.with_context:
            # A composite takes a context only through its encoding converters (a public
            # mapping: they may change between calls).
            parts = (*pc.converters.values(),  # type: ignore[attr-defined]
                     self.payload_codec, self.failure_converter)
        else:
            parts = (pc, self.payload_codec, self.failure_converter)
        return none_take_context(self, parts)

    def with_context(self, context: SerializationContext) -> DataConverter:
        """A copy whose parts that are :class:`WithSerializationContext` took ``context``."""
        if self._takes_no_context():
            return self
        pc = self.payload_converter
        converter, codec, failure = (bound_to(pc, context), bound_to(self.payload_codec, context),
                                     bound_to(self.failure_converter, context))
        if (converter is self.payload_converter and codec is self.payload_codec
                and failure is self.failure_converter):
            return self
        copy = dataclasses.replace(self, payload_codec=codec)
        object.__setattr__(copy, "payload_converter", converter)
        object.__setattr__(copy, "failure_converter", failure)
        return copy

    def _conversion_context(self, context: SerializationContext) -> DataConverter:
        """What the worker and client use: the payload and failure converters get
        ``context``; the codec does not, because the workflow worker decodes a run's whole
        history in one pass, so every side must encode with the same codec."""
        if self._takes_no_context():
            return self
        bound = self.with_context(context)
        if bound is self or bound.payload_codec is self.payload_codec:
            return bound
        copy = dataclasses.replace(bound, payload_codec=self.payload_codec)
        object.__setattr__(copy, "payload_converter", bound.payload_converter)
        object.__setattr__(copy, "failure_converter", bound.failure_converter)
        return copy


# External storage builds on the classes above (and is re-exported from here, as in temporalio).
from ._converter_storage import (  # noqa: E402
    ExternalStorage,
    LocalDirectoryStorageDriver,
    StorageCodec,
    StorageDriver,
    StorageDriverActivityInfo,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverSelectContext,
    StorageDriverStoreContext,
    StorageDriverWorkflowInfo,
    StorageWarning,
)

DataConverter.default = DataConverter()
PayloadConverter.default = DataConverter.default.payload_converter
FailureConverter.default = DataConverter.default.failure_converter


def default() -> DataConverter:
    """The default data converter."""
    return DataConverter.default


# Helpers that build on the classes above; imported last because they import this module.
from ._converter_extras import (  # noqa: E402
    BinaryProtoPayloadConverter,
    JSONProtoPayloadConverter,
    create_payload_validation_error,
    decode_search_attributes,
    decode_typed_search_attributes,
    encode_search_attribute_values,
    encode_search_attributes,
    encode_typed_search_attribute_value,
)

_PLAIN_JSON_DECLINERS.update({BinaryNullPayloadConverter, BinaryPlainPayloadConverter,
                              JSONProtoPayloadConverter, BinaryProtoPayloadConverter})
# Temporal's default order: protobuf messages are tried before plain JSON.
DefaultPayloadConverter.default_encoding_payload_converters = (
    BinaryNullPayloadConverter(), BinaryPlainPayloadConverter(), JSONProtoPayloadConverter(),
    BinaryProtoPayloadConverter(), JSONPlainPayloadConverter())
DataConverter.default = DataConverter()
