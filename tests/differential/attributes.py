"""Comparing the attributes of two histories' events, beyond their types.

Each side hands over its events' attributes (``view``) with payloads decoded (a JSON payload
becomes its text, so ids and task queues inside it are normalised like any other string); the
harness then compares them (``differences``) after dropping what is the server's own
bookkeeping or differs by nature between two runs (``NOT_COMPARED``): times, identities,
internal ids, build ids, sticky task queues. What remains must be equal, path by path.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

# Keys dropped wherever they appear, with why.
NOT_COMPARED: dict[str, str] = {
    "identity": "the worker's or client's identity (process and host)",
    "requestId": "a random id per request",
    "binaryChecksum": "the worker's build",
    "workerVersion": "the worker's build",
    "buildIdRedirectCounter": "worker versioning, which Stalwart does not have",
    "sdkMetadata": "compared by the replay of Stalwart's exports in temporalio",
    "meteringMetadata": "Temporal Cloud's billing counters",
    "historySizeBytes": "the server's byte count of its own encoding",
    "namespaceId": "the server's internal id of the namespace",
    "parentWorkflowNamespaceId": "the server's internal id of the namespace",
    "prevAutoResetPoints": "build-id reset points (worker versioning)",
    "parentInitiatedEventId": "not recorded by Stalwart (the parent's event id)",
    "parentInitiatedEventVersion": "the server's replication version",
    "externalInitiatedEventId": "not recorded by Stalwart (the requester's event id)",
    "workflowExecutionExpirationTime": "a time",
    "stackTrace": "file paths and line numbers of each side's code",
    "links": "the server's links between runs",
    "suggestContinueAsNewReasons": "the server's own thresholds",
    "stack_trace": "file paths and line numbers (inside encoded failure attributes)",
}
_TIME_KEYS = re.compile(r"(Time|Timestamp)$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_JSON_ENCODINGS = {"json/plain", "json/protobuf"}


def _decoded(value: Any) -> Any:
    """A payload's readable form: its encoding and, for JSON, the decoded value."""
    metadata = {k: base64.b64decode(v).decode("latin-1") for k, v in
                (value.get("metadata") or {}).items()}
    data = base64.b64decode(value.get("data") or "")
    if metadata.get("encoding") in _JSON_ENCODINGS:
        try:
            return {"payload": metadata, "json": json.loads(data)}
        except ValueError:
            pass
    return {"payload": metadata, "bytes": len(data)}


def _readable(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) <= {"metadata", "data", "externalPayloads"} and "metadata" in value:
            return _decoded(value)
        return {k: _readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_readable(v) for v in value]
    return value


def view(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events' attributes (and user metadata), payloads decoded, for the other side."""
    out = []
    for event in events:
        attributes = next((v for k, v in event.items() if k.endswith("EventAttributes")), {})
        out.append({"attributes": _readable(attributes),
                    "userMetadata": _readable(event.get("userMetadata"))})
    return out


def _comparable(value: Any, event_type: str, path: str) -> Any:
    if isinstance(value, dict):
        out = {k: _comparable(v, event_type, f"{path}.{k}") for k, v in value.items()
               if k not in NOT_COMPARED and not _TIME_KEYS.search(k)
               and not _skipped(event_type, f"{path}.{k}")}
        if out.get("header") in ({}, {"fields": {}}):
            del out["header"]  # empty once the span header is left out
        if event_type == "WorkflowExecutionStarted" and \
                out.get("initiator") == "CONTINUE_AS_NEW_INITIATOR_WORKFLOW":
            # Temporal's server starts a chain's next run about a second after the last
            # one began (a throttle on tight continue-as-new loops) and records the wait;
            # Stalwart starts it at once.
            out.pop("firstWorkflowTaskBackoff", None)
        return out
    if isinstance(value, list):
        return [_comparable(v, event_type, path) for v in value]
    if isinstance(value, str):
        return _UUID.sub("<uuid>", value)
    return value


def _skipped(event_type: str, path: str) -> bool:
    # A run's later tasks go to the worker's sticky queue on Temporal; Stalwart has none.
    if event_type == "WorkflowTaskScheduled" and path == ".attributes.taskQueue":
        return True
    # temporalio's OpenAI Agents tracing propagates its span in headers; Stalwart's traces
    # stay in the worker.
    if path.endswith(".header.fields.__openai_span"):
        return True
    # A local activity's marker carries its completion time.
    return event_type == "MarkerRecorded" and path == ".attributes.details.data"


def differences(event_types: list[str], temporal: list[dict[str, Any]],
                stalwart: list[dict[str, Any]], limit: int = 8) -> list[str]:
    """The paths where the attributes of the same events differ (``event_types`` is the
    shared sequence of types), each with both values."""
    found: list[str] = []
    if not len(event_types) == len(temporal) == len(stalwart):
        return [f"attributes of {len(temporal)} and {len(stalwart)} events for "
                f"{len(event_types)} event types"]

    def walk(a: Any, b: Any, path: str) -> None:
        if len(found) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                walk(a.get(key, "<absent>"), b.get(key, "<absent>"), f"{path}.{key}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for index, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{index}]")
        elif a != b:
            found.append(f"{path}: temporal {json.dumps(a)[:200]} / stalwart "
                         f"{json.dumps(b)[:200]}")

    for index, (event_type, t, s) in enumerate(zip(event_types, temporal, stalwart,
                                                   strict=True)):
        walk(_comparable(t, event_type, ""), _comparable(s, event_type, ""),
             f"event {index + 1} {event_type}")
    return found
