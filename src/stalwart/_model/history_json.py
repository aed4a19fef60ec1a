"""Histories in Temporal's history JSON form (``{"events": [...]}``), both ways.

Each event becomes ``{"eventId": "5", "eventTime": "...Z", "eventType":
"EVENT_TYPE_ACTIVITY_TASK_SCHEDULED", "activityTaskScheduledEventAttributes": {...}}`` with
camelCase attribute names and payloads as ``{"metadata": {"encoding": <base64>}, "data":
<base64>}``, as Temporal's tools write them. Importing reverses the mapping exactly.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .events import HistoryEvent

_CAMEL = re.compile(r"_([a-z0-9])")
_SNAKE = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def _snake(name: str) -> str:
    return _SNAKE.sub(lambda m: "_" + m.group(1).lower(), name)


def _enum_name(event_type: str) -> str:
    return "EVENT_TYPE_" + _snake(event_type).upper()


def _event_type_from_enum(name: str) -> str:
    body = name.removeprefix("EVENT_TYPE_").lower()
    return "".join(part.capitalize() for part in body.split("_"))


def _is_store_payload(value: Any) -> bool:
    return isinstance(value, dict) and "metadata" in value and (
        "data" in value or "data_b64" in value)


def _payload_out(value: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: base64.b64encode(v.encode("latin-1")).decode()
                for k, v in value["metadata"].items()}
    data = value["data"].encode() if "data" in value else base64.b64decode(value["data_b64"])
    return {"metadata": metadata, "data": base64.b64encode(data).decode()}


def _payload_in(value: dict[str, Any]) -> dict[str, Any]:
    metadata = {k: base64.b64decode(v).decode("latin-1") for k, v in value["metadata"].items()}
    data = base64.b64decode(value.get("data", ""))
    if metadata.get("encoding") == "json/plain":
        return {"metadata": metadata, "data": data.decode()}
    return {"metadata": metadata, "data_b64": base64.b64encode(data).decode()}


def _out(value: Any) -> Any:
    if _is_store_payload(value):
        return _payload_out(value)
    if isinstance(value, dict):
        return {_camel(k): _out(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(_is_store_payload(v) for v in value):
            return {"payloads": [_payload_out(v) for v in value]}
        return [_out(v) for v in value]
    return value


def _in(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"payloads"} and isinstance(value["payloads"], list):
            return [_payload_in(p) for p in value["payloads"]]
        if "metadata" in value and "data" in value and isinstance(value["metadata"], dict):
            return _payload_in(value)
        return {_snake(k): _in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_in(v) for v in value]
    return value


_TIME = re.compile(r"(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")
_NS = 1_000_000_000


def _format_time(timestamp: float) -> str:
    # Nanoseconds, as Temporal writes them: datetime keeps only microseconds, which would
    # change a float timestamp on the way back in.
    seconds, nanos = divmod(round(Decimal(timestamp) * _NS), _NS)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _parse_time(text: str) -> float:
    match = _TIME.fullmatch(text)
    if match is None:
        return datetime.fromisoformat(text).timestamp()
    base, fraction, zone = match.groups()
    whole = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone)).timestamp()
    nanos = int(((fraction or "") + "0" * 9)[:9])
    return float((Decimal(int(whole)) * _NS + nanos) / _NS)


def history_to_json(events: Sequence[HistoryEvent]) -> dict[str, Any]:
    out = []
    for event in events:
        attrs_key = event.event_type[0].lower() + event.event_type[1:] + "EventAttributes"
        out.append({
            "eventId": str(event.event_id),
            "eventTime": _format_time(event.timestamp),
            "eventType": _enum_name(event.event_type),
            attrs_key: _out(event.attributes),
        })
    return {"events": out}


def history_from_json(data: dict[str, Any]) -> list[HistoryEvent]:
    events = []
    for raw in data.get("events", []):
        event_type = raw["eventType"]
        event_type = _event_type_from_enum(event_type) if event_type.startswith(
            "EVENT_TYPE_") else event_type
        attrs_key = next((k for k in raw if k.endswith("EventAttributes")), None)
        timestamp = _parse_time(raw["eventTime"])
        events.append(HistoryEvent(int(raw["eventId"]), event_type, timestamp,
                                   _in(raw[attrs_key]) if attrs_key else {}))
    return events
