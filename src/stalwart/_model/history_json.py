"""Histories in Temporal's history JSON form (``{"events": [...]}``), both ways.

The form is proto3 JSON of Temporal's ``History`` message, as ``temporal workflow show --output
json`` writes it and ``temporalio``'s ``WorkflowHistory.from_json`` reads it: ``"eventId":
"5"`` (int64 as a string), ``"eventTime"`` in RFC 3339, ``"eventType":
"EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"`` and the attributes under
``"activityTaskScheduledEventAttributes"``. Events here are already in Temporal's model
(``temporal_history.to_temporal``), so their attributes are written as they are.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .events import HistoryEvent
from .proto_json import time_in, time_out
from .temporal_history import TEMPORAL_EVENT_TYPES, UNSUPPORTED_EVENT_TYPES, HistoryFormatError

_SNAKE = re.compile(r"(?<=[a-z0-9])([A-Z])")


def enum_name(event_type: str) -> str:
    return "EVENT_TYPE_" + _SNAKE.sub(lambda m: "_" + m.group(1), event_type).upper()


def _type_from_enum(name: str) -> str:
    body = name.removeprefix("EVENT_TYPE_").lower()
    return "".join(part.capitalize() for part in body.split("_"))


def attributes_key(event_type: str) -> str:
    return event_type[0].lower() + event_type[1:] + "EventAttributes"


def history_to_json(events: Sequence[HistoryEvent]) -> dict[str, Any]:
    return {"events": [{
        "eventId": str(event.event_id),
        "eventTime": time_out(event.timestamp),
        "eventType": enum_name(event.event_type),
        **({"eventGroupMarkers": event.event_group_markers}
           if event.event_group_markers else {}),
        **({"userMetadata": event.metadata} if event.metadata else {}),
        attributes_key(event.event_type): event.attributes,
    } for event in events]}


def history_from_json(data: Any) -> list[HistoryEvent]:
    """Temporal's events from the JSON form (both ``EVENT_TYPE_X`` and ``X`` type names).

    Raises:
        HistoryFormatError: names the event id and the field that is wrong.
    """
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise HistoryFormatError('a history is a JSON object {"events": [...]}, as '
                                 "`temporal workflow show --output json` writes it")
    events = []
    for index, raw in enumerate(data["events"]):
        label = f"event #{index + 1} (counting from 1)"
        if not isinstance(raw, dict):
            raise HistoryFormatError(f"{label}: expected an object, got {raw!r}")
        raw_id = raw.get("eventId")
        try:
            event_id = int(raw_id)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise HistoryFormatError(f"{label}: field eventId: {raw_id!r} is not an event "
                                     "id") from None
        label = f"event {event_id}"
        raw_type = raw.get("eventType")
        if not isinstance(raw_type, str):
            raise HistoryFormatError(f"{label}: field eventType: missing")
        event_type = _type_from_enum(raw_type) if raw_type.startswith("EVENT_TYPE_") \
            else raw_type
        if event_type not in TEMPORAL_EVENT_TYPES and \
                event_type not in UNSUPPORTED_EVENT_TYPES:
            raise HistoryFormatError(f"{label}: field eventType: {raw_type!r} is not a "
                                     "Temporal event type")
        label = f"event {event_id} ({event_type})"
        try:
            timestamp = time_in(raw.get("eventTime"), "eventTime")
        except ValueError as error:
            raise HistoryFormatError(f"{label}: field {error}") from None
        attributes = raw.get(attributes_key(event_type), {})
        if not isinstance(attributes, dict):
            raise HistoryFormatError(f"{label}: field {attributes_key(event_type)}: expected "
                                     "an object")
        markers = raw.get("eventGroupMarkers")
        if markers is not None and not (isinstance(markers, list) and all(
                isinstance(m, dict) for m in markers)):
            raise HistoryFormatError(f"{label}: field eventGroupMarkers: expected a list of "
                                     "objects")
        metadata = raw.get("userMetadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise HistoryFormatError(f"{label}: field userMetadata: expected an object")
        events.append(HistoryEvent(event_id, event_type, timestamp, attributes,
                                   markers or None, metadata or None))
    return events
