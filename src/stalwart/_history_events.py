"""History events as temporalio code reads them.

temporalio hands out Temporal's protobuf ``HistoryEvent``: ``event.event_type`` is an
``EventType`` number, ``event.event_time`` a ``Timestamp`` and the attributes a message
(``event.activity_task_scheduled_event_attributes.activity_type.name``), whose unset fields
read as defaults. Stalwart keeps each event's attributes in Temporal's proto3 JSON form
(``event.attributes``) and its type as a name (``"ActivityTaskScheduled"``). The classes here
give both readings over the same event: the type is the name and compares equal to
Temporal's number, and the attributes read as the message, by ``proto_schema``'s table.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ._converter_types import Payload
from ._model.events import HistoryEvent as _StoredEvent
from ._model.history_json import enum_name
from ._model.proto_enums import ENUMS, EventType
from ._model.proto_schema import MESSAGES, SCALARS, FieldSpec, MessageSpec, attributes_message

_NS = 1_000_000_000


class EventTypeName(str):
    """An event's type: Stalwart's name (``"TimerFired"``) that also compares equal to
    Temporal's number (``EventType.EVENT_TYPE_TIMER_FIRED``, 18), so comparisons written for
    either read the same. Its hash is the name's: in a set or dict key it is the name."""

    __slots__ = ()

    @property
    def number(self) -> int:
        return _NUMBERS.get(self, 0)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return str.__eq__(self, other)
        if isinstance(other, int) and not isinstance(other, bool):
            return _NUMBERS.get(self, 0) == other
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__

    def __int__(self) -> int:
        return self.number


_NUMBERS: dict[str, int] = {}
for _member in EventType:
    _body = _member.name.removeprefix("EVENT_TYPE_").lower()
    _NUMBERS["".join(part.capitalize() for part in _body.split("_"))] = int(_member)
_NAMES = {name: EventTypeName(name) for name in _NUMBERS}


class _SecondsAndNanos:
    """What protobuf's Timestamp and Duration share: seconds and nanoseconds, and their
    conversions."""

    __slots__ = ("nanos", "seconds")

    def __init__(self, seconds: int = 0, nanos: int = 0) -> None:
        self.seconds, self.nanos = seconds, nanos

    def ToSeconds(self) -> int:
        return self.seconds

    def ToMilliseconds(self) -> int:
        return self.seconds * 1000 + self.nanos // 1_000_000

    def ToNanoseconds(self) -> int:
        return self.seconds * _NS + self.nanos

    def ToJsonString(self) -> str:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (self.seconds, self.nanos) == (
            other.seconds, other.nanos)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ToJsonString()})"


class Timestamp(_SecondsAndNanos):
    """``google.protobuf.Timestamp``'s reading side."""

    __slots__ = ()

    def ToDatetime(self, tzinfo: Any = None) -> datetime:
        moment = datetime.fromtimestamp(self.seconds, UTC) + timedelta(
            microseconds=self.nanos // 1000)
        return moment.astimezone(tzinfo) if tzinfo else moment.replace(tzinfo=None)

    def ToJsonString(self) -> str:
        whole = datetime.fromtimestamp(self.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return whole + (f".{self.nanos:09d}".rstrip("0") if self.nanos else "") + "Z"


class Duration(_SecondsAndNanos):
    """``google.protobuf.Duration``'s reading side."""

    __slots__ = ()

    def ToTimedelta(self) -> timedelta:
        return timedelta(seconds=self.seconds, microseconds=self.nanos // 1000)

    def ToJsonString(self) -> str:
        fraction = f".{abs(self.nanos):09d}".rstrip("0") if self.nanos else ""
        return f"{self.seconds}{fraction}s"


_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
_DURATION = re.compile(r"(-?)(\d+)(?:\.(\d{1,9}))?s$")


def _timestamp(value: Any) -> Timestamp:
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        return Timestamp()
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    seconds = int(datetime.fromisoformat(match.group(1) + zone).timestamp())
    return Timestamp(seconds, int((match.group(2) or "0").ljust(9, "0")))


def _duration(value: Any) -> Duration:
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not match:
        return Duration()
    sign = -1 if match.group(1) else 1
    return Duration(sign * int(match.group(2)),
                    sign * int((match.group(3) or "0").ljust(9, "0")))


def _payload(value: Any) -> Payload:
    if not isinstance(value, Mapping):
        return Payload({}, b"")
    metadata = {key: base64.b64decode(raw) for key, raw in (value.get("metadata") or {}).items()}
    return Payload(metadata, base64.b64decode(value.get("data") or ""))


def _scalar(kind: str, value: Any) -> Any:
    if kind == "str":
        return "" if value is None else str(value)
    if kind in ("i64", "i32", "u32"):
        return 0 if value is None else int(value)
    if kind == "bool":
        return bool(value)
    if kind in ("f64", "f32"):
        return 0.0 if value is None else float(value)
    return b"" if value is None else base64.b64decode(value)  # bytes


def _read_one(kind: str, value: Any) -> Any:
    if kind in SCALARS:
        return _scalar(kind, value)
    if kind == "Timestamp":
        return _timestamp(value)
    if kind == "Duration":
        return _duration(value)
    if kind == "Payload":
        return _payload(value)
    enum = ENUMS.get(kind)
    if enum is not None:
        if isinstance(value, str):
            return enum.__members__.get(value, enum(0))
        try:
            return enum(int(value or 0))
        except ValueError:
            return int(value)
    return ProtoMessage(MESSAGES[kind], value if isinstance(value, Mapping) else {})


def _read(field: FieldSpec, value: Any) -> Any:
    if field.repeated:
        return [_read_one(field.kind, item) for item in value or ()]
    if field.mapped:
        return {key: _read_one(field.kind, item) for key, item in (value or {}).items()}
    return _read_one(field.kind, value)


def _present(field: FieldSpec, data: Mapping[str, Any]) -> bool:
    value = data.get(field.json_name)
    if field.repeated or field.mapped:
        return bool(value)
    # A message written as {} is set (and empty), as proto3 JSON reads it.
    return value is not None


class ProtoMessage:
    """A message of Temporal's API read from its proto3 JSON form, as temporalio's protobuf
    message reads: fields by their Temporal names, an unset field as its default,
    ``HasField`` and ``WhichOneof``. Read-only."""

    __slots__ = ("_data", "_spec")

    def __init__(self, spec: MessageSpec, data: Mapping[str, Any]) -> None:
        self._spec = spec
        self._data = data

    def __getattr__(self, name: str) -> Any:
        field = self._spec.fields.get(name)
        if field is None:
            raise AttributeError(f"{self._spec.name} has no field {name!r}")
        return _read(field, self._data.get(field.json_name))

    def HasField(self, name: str) -> bool:
        """Whether a message field (or a oneof group) is set; as protobuf, asking about a
        plain scalar or repeated field raises ``ValueError``."""
        if name in self._spec.oneofs:
            return self.WhichOneof(name) is not None
        field = self._spec.fields.get(name)
        if field is None or field.repeated or field.mapped or field.kind in SCALARS or \
                field.kind in ENUMS:
            raise ValueError(f'Protocol message {self._spec.name} has no non-repeated '
                             f'submessage field "{name}"')
        return _present(field, self._data)

    def WhichOneof(self, group: str) -> str | None:
        members = self._spec.oneofs.get(group)
        if members is None:
            raise ValueError(f'Protocol message {self._spec.name} has no "{group}" field.')
        return next((name for name in members
                     if _present(self._spec.fields[name], self._data)), None)

    def ListFields(self) -> list[tuple[str, Any]]:
        """The set fields as (name, value) pairs (temporalio gives descriptors; here the
        name stands for it)."""
        return [(field.name, _read(field, self._data.get(field.json_name)))
                for field in self._spec.fields.values() if _present(field, self._data)]

    def to_json_dict(self) -> dict[str, Any]:
        """The message in proto3 JSON form, as ``MessageToDict`` gives it."""
        return dict(self._data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProtoMessage) and self._spec is other._spec and \
            self._data == other._data

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{self._spec.name}({self._data!r})"


_ATTRIBUTES_SUFFIX = "_event_attributes"


def _attributes_field(event_type: str) -> str:
    return enum_name(event_type).removeprefix("EVENT_TYPE_").lower() + _ATTRIBUTES_SUFFIX


class HistoryEvent(_StoredEvent):
    """One event of a run's history in Temporal's model (see the module's docstring).

    ``event_id``, ``event_type`` (its name, equal to Temporal's number), ``timestamp`` (epoch
    seconds) and ``attributes`` (proto3 JSON) are Stalwart's own reading; ``event_time``,
    the ``..._event_attributes`` messages, ``HasField`` and ``WhichOneof("attributes")``
    are temporalio's."""

    __slots__ = ()

    @property
    def event_time(self) -> Timestamp:
        seconds = int(self.timestamp // 1)
        return Timestamp(seconds, round((self.timestamp - seconds) * 1_000_000) * 1000)

    @property
    def user_metadata(self) -> ProtoMessage:
        """The summary and details given to what the event starts (``summary=`` of an
        activity or ``workflow.sleep``, a workflow's ``static_summary``...)."""
        return ProtoMessage(MESSAGES["UserMetadata"], self.metadata or {})

    @property
    def version(self) -> int:
        return 0

    @property
    def task_id(self) -> int:
        return 0

    @property
    def worker_may_ignore(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        if name.endswith(_ATTRIBUTES_SUFFIX):
            spec = MESSAGES.get("".join(
                part.capitalize() for part in name.removesuffix(_ATTRIBUTES_SUFFIX).split("_")
            ) + "EventAttributes")
            if spec is not None:
                own = name == _attributes_field(self.event_type)
                return ProtoMessage(spec, self.attributes if own else {})
        raise AttributeError(f"HistoryEvent has no field {name!r}")

    def HasField(self, name: str) -> bool:
        if name == "attributes":
            return attributes_message(self.event_type) is not None
        if name == "event_time":
            return True
        if name == "user_metadata":
            return bool(self.metadata)
        return name == _attributes_field(self.event_type)

    def WhichOneof(self, group: str) -> str | None:
        if group != "attributes":
            raise ValueError(f'Protocol message HistoryEvent has no "{group}" field.')
        return _attributes_field(self.event_type)


def public_events(events: Iterable[_StoredEvent]) -> list[HistoryEvent]:
    """The events as users are handed them (already in Temporal's model)."""
    out = []
    for event in events:
        if type(event) is not HistoryEvent or type(event.event_type) is not EventTypeName:
            name = _NAMES.get(event.event_type) or EventTypeName(event.event_type)
            event = HistoryEvent(event.event_id, name, event.timestamp, event.attributes,
                                 event.event_group_markers, event.metadata)
        out.append(event)
    return out
