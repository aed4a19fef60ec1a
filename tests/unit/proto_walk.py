"""Reads history events field by field, the same way for temporalio's protobuf events and
for Stalwart's, into plain JSON values to compare. Imports neither library: the test runs it
in-process on Stalwart's events and as a script (``__main__``) under ``.venv-compat`` on
temporalio's, which prints ``{fixture path: [event, ...]}`` for the histories it is given.

The schema (``{message: {field: kind}}``) is Stalwart's ``proto_schema`` table, passed on
standard input; a message field is read only when ``HasField`` says it is set (and its
presence recorded), so the walk stops where the data stops.
"""

from __future__ import annotations

import json
import sys
from typing import Any

SCALARS = {"str", "i64", "i32", "u32", "bool", "f64", "f32", "bytes"}


def _value(value: Any, kind: str, schema: dict[str, dict[str, str]]) -> Any:
    if kind.startswith("[]"):
        return [_value(item, kind[2:], schema) for item in value]
    if kind.startswith("{}"):
        return {key: _value(item, kind[2:], schema) for key, item in sorted(value.items())}
    if kind in ("Timestamp", "Duration"):
        return [value.seconds, value.nanos]
    if kind == "Payload":
        return [sorted([key, bytes(raw).hex()] for key, raw in value.metadata.items()),
                bytes(value.data).hex()]
    if kind == "bytes":
        return bytes(value).hex()
    if kind in ("f64", "f32"):
        return round(float(value), 6)
    if kind in SCALARS:
        return value
    if kind not in schema:  # an enum
        return int(value)
    return walk_message(value, kind, schema)


def walk_message(message: Any, name: str, schema: dict[str, dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, kind in schema[name].items():
        if kind in schema or kind in ("Timestamp", "Duration", "Payload"):
            present = message.HasField(field)
            out[f"has {field}"] = present
            if not present:
                continue
        out[field] = _value(getattr(message, field), kind, schema)
    return out


def walk_event(event: Any, schema: dict[str, dict[str, str]]) -> dict[str, Any]:
    which = event.WhichOneof("attributes")
    message = "".join(part.capitalize() for part in
                      which.removesuffix("_event_attributes").split("_")) + "EventAttributes"
    return {"id": event.event_id, "type": int(event.event_type), "which": which,
            # Stalwart keeps an event's time to the microsecond.
            "time": [event.event_time.seconds, event.event_time.nanos // 1000],
            "attributes": walk_message(getattr(event, which), message, schema)
            if message in schema else None,
            "user_metadata": walk_message(event.user_metadata, "UserMetadata", schema)
            if event.HasField("user_metadata") else None}


def main() -> None:
    from temporalio.client import WorkflowHistory

    schema = json.load(sys.stdin)
    out = {}
    for path in sys.argv[1:]:
        with open(path) as file:
            history = WorkflowHistory.from_json("fixture", file.read())
        out[path] = [walk_event(event, schema) for event in history.events]
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
