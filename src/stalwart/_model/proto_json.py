"""Value shapes of Temporal's proto3 JSON: payloads, durations, times, enums, failures.

The store keeps payloads as ``{"metadata": {"encoding": "json/plain"}, "data": "<text>"}`` (or
``data_b64`` for bytes that are not text), durations as float seconds, enums as integers and
field names in snake case. Temporal's JSON has base64 payloads, ``"1.5s"`` durations, enum names
and camelCase. These functions convert single values both ways; ``temporal_history`` uses them to
shape whole events.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_NS = 1_000_000_000


# -- payloads ------------------------------------------------------------------------------
# Metadata values repeat across every payload of a history ("json/plain", type names), so their
# base64 forms are kept, both ways (bounded; the mapping is fixed, so it is never stale).
_METADATA_OUT: dict[str, str] = {}
_METADATA_IN: dict[str, str] = {}
_CACHE_LIMIT = 4096


def _metadata_out(value: str) -> str:
    encoded = _METADATA_OUT.get(value)
    if encoded is None:
        encoded = base64.b64encode(value.encode("latin-1")).decode()
        if len(_METADATA_OUT) < _CACHE_LIMIT:
            _METADATA_OUT[value] = encoded
    return encoded


def _metadata_in(value: str) -> str:
    decoded = _METADATA_IN.get(value)
    if decoded is None:
        decoded = base64.b64decode(value, validate=True).decode("latin-1")
        if len(_METADATA_IN) < _CACHE_LIMIT:
            _METADATA_IN[value] = decoded
    return decoded


def payload_out(value: dict[str, Any]) -> dict[str, Any]:
    """A store-form payload in Temporal's form (base64 metadata values and data)."""
    metadata = {k: _metadata_out(v) for k, v in value.get("metadata", {}).items()}
    if "data" in value:
        data = value["data"].encode()
    else:
        data = base64.b64decode(value.get("data_b64", ""))
    out: dict[str, Any] = {"metadata": metadata}
    if data:
        out["data"] = base64.b64encode(data).decode()
    return out


def payload_in(value: Any, where: str) -> dict[str, Any]:
    """A Temporal payload in the store's form; ``where`` names it in errors."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a payload object, got {value!r}")
    try:
        # The cache looked up here first: a call per metadata value costs more than the rest.
        metadata = {k: _METADATA_IN.get(v) or _metadata_in(v)
                    for k, v in (value.get("metadata") or {}).items()}
        raw = value.get("data") or ""
        # A str (what JSON holds) straight to binascii: base64.b64decode's argument check
        # is a Python call per payload; for a str it does what a2b_base64 does itself.
        data = binascii.a2b_base64(raw, strict_mode=True) if type(raw) is str \
            else base64.b64decode(raw, validate=True)
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(f"{where}: payload is not valid base64: {error}") from None
    if metadata.get("encoding") in ("json/plain", "json/protobuf"):
        try:
            return {"metadata": metadata, "data": data.decode()}
        except UnicodeDecodeError:
            pass
    return {"metadata": metadata, "data_b64": base64.b64encode(data).decode()}


def payloads_out(values: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    if not values:
        return None
    return {"payloads": [payload_out(v) for v in values]}


def payloads_in(value: Any, where: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, dict) or not isinstance(value.get("payloads", []), list):
        raise ValueError(f"{where}: expected {{\"payloads\": [...]}}, got {value!r}")
    out = []
    for index, payload in enumerate(value.get("payloads", [])):
        try:
            out.append(payload_in(payload, where))
        except ValueError as error:
            raise ValueError(str(error).replace(where, f"{where}.payloads[{index}]", 1)) \
                from None
    return out


def payload_map_out(values: dict[str, Any] | None, key: str = "fields") -> dict[str, Any] | None:
    if not values:
        return None
    return {key: {name: payload_out(p) if p is not None else {"metadata": {}}
                  for name, p in values.items()}}


def payload_map_in(value: Any, where: str, key: str = "fields") -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not isinstance(value.get(key, {}), dict):
        raise ValueError(f"{where}: expected {{\"{key}\": {{...}}}}, got {value!r}")
    return {name: payload_in(p, f"{where}.{key}.{name}") for name, p in value.get(key, {}).items()}


# -- durations and times --------------------------------------------------------------------
# Durations repeat (every activity of a workflow has the same timeouts): converted once each.
_DURATIONS_OUT: dict[float, str] = {}
_DURATIONS_IN: dict[str, float | None] = {}


def duration_out(seconds: float | None) -> str | None:
    """Seconds as a proto3 JSON duration: ``"10s"``, ``"0.100s"`` (0, 3, 6 or 9 digits)."""
    if seconds is None:
        return None
    known = _DURATIONS_OUT.get(seconds)
    if known is None:
        known = _duration_out(seconds)
        if len(_DURATIONS_OUT) < _CACHE_LIMIT:
            _DURATIONS_OUT[seconds] = known
    return known


def _duration_out(seconds: float) -> str:
    nanos_total = round(Decimal(str(seconds)) * _NS)
    whole, nanos = divmod(nanos_total, _NS)
    if nanos == 0:
        return f"{whole}s"
    if nanos % 1_000_000 == 0:
        return f"{whole}.{nanos // 1_000_000:03d}s"
    if nanos % 1_000 == 0:
        return f"{whole}.{nanos // 1_000:06d}s"
    return f"{whole}.{nanos:09d}s"


_DURATION = re.compile(r"(-?\d+)(?:\.(\d{1,9}))?s")


def duration_in(value: Any, where: str) -> float | None:
    """A proto3 JSON duration in seconds; ``"0s"`` and absent mean "not set" (None)."""
    if value is None:
        return None
    if isinstance(value, str):
        known = _DURATIONS_IN.get(value, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{where}: {value!r} is not a duration like \"1.5s\"")
    seconds = int(match.group(1)) + int((match.group(2) or "").ljust(9, "0")) / _NS
    if len(_DURATIONS_IN) < _CACHE_LIMIT:
        _DURATIONS_IN[value] = seconds or None
    return seconds or None


_UNKNOWN = object()


def time_out(timestamp: float) -> str:
    """Seconds since the epoch as RFC 3339 in UTC, with nanoseconds as proto3 JSON writes them."""
    nanos_total = round(Decimal(repr(timestamp)) * _NS)
    seconds, nanos = divmod(nanos_total, _NS)
    base = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    if nanos == 0:
        return base + "Z"
    if nanos % 1_000_000 == 0:
        return f"{base}.{nanos // 1_000_000:03d}Z"
    if nanos % 1_000 == 0:
        return f"{base}.{nanos // 1_000:06d}Z"
    return f"{base}.{nanos:09d}Z"


_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)")


def time_in(value: Any, where: str) -> float:
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{where}: {value!r} is not an RFC 3339 time like "
                         "\"2024-01-31T12:00:00.5Z\"")
    base, fraction, zone = match.groups()
    whole = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone)).timestamp()
    nanos = int((fraction or "").ljust(9, "0"))
    return float((Decimal(int(whole)) * _NS + nanos) / _NS)


# -- enums ----------------------------------------------------------------------------------
def enum_out(prefix: str, names: tuple[str, ...], value: int | None) -> str | None:
    """An integer enum as Temporal's name (``prefix`` + ``names[value]``); 0/None is omitted."""
    if not value or value >= len(names):
        return None
    return prefix + names[value]


def enum_in(prefix: str, names: tuple[str, ...], value: Any, where: str) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.startswith(prefix) and \
            value.removeprefix(prefix) in names:
        return names.index(value.removeprefix(prefix))
    raise ValueError(f"{where}: {value!r} is not one of "
                     f"{', '.join(prefix + n for n in names if n)}")


TIMEOUT_TYPES = ("UNSPECIFIED", "START_TO_CLOSE", "SCHEDULE_TO_START", "SCHEDULE_TO_CLOSE",
                 "HEARTBEAT")
RETRY_STATES = ("UNSPECIFIED", "IN_PROGRESS", "NON_RETRYABLE_FAILURE", "TIMEOUT",
                "MAXIMUM_ATTEMPTS_REACHED", "RETRY_POLICY_NOT_SET", "INTERNAL_SERVER_ERROR",
                "CANCEL_REQUESTED")
ERROR_CATEGORIES = ("UNSPECIFIED", "BENIGN")
PARENT_CLOSE_POLICIES = ("UNSPECIFIED", "TERMINATE", "ABANDON", "REQUEST_CANCEL")
ID_REUSE_POLICIES = ("UNSPECIFIED", "ALLOW_DUPLICATE", "ALLOW_DUPLICATE_FAILED_ONLY",
                     "REJECT_DUPLICATE", "TERMINATE_IF_RUNNING")


# -- failures -------------------------------------------------------------------------------
def failure_out(failure: dict[str, Any] | None) -> dict[str, Any] | None:
    """A store-form failure (``converter.to_failure``) as Temporal's ``Failure`` message."""
    if not failure:
        return None
    out: dict[str, Any] = {}
    if failure.get("message"):
        out["message"] = failure["message"]
    source = failure.get("source")
    if source == "Stalwart":
        # What Temporal's server decides (a timeout) is its "Server"'s; what an SDK makes
        # (temporalio's included) names no source.
        source = "Server" if failure.get("timeout_failure_info") is not None else None
    if source:
        out["source"] = source
    if failure.get("stack_trace"):
        out["stackTrace"] = failure["stack_trace"]
    if failure.get("encoded_attributes"):
        out["encodedAttributes"] = payload_out(failure["encoded_attributes"])
    if failure.get("cause"):
        out["cause"] = failure_out(failure["cause"])
    info = failure.get("application_failure_info")
    if info is not None:
        app: dict[str, Any] = {}
        if info.get("type"):
            app["type"] = info["type"]
        if info.get("non_retryable"):
            app["nonRetryable"] = True
        if info.get("details"):
            app["details"] = payloads_out(info["details"])
        if info.get("next_retry_delay"):
            app["nextRetryDelay"] = duration_out(info["next_retry_delay"])
        category = enum_out("APPLICATION_ERROR_CATEGORY_", ERROR_CATEGORIES, info.get("category"))
        if category:
            app["category"] = category
        out["applicationFailureInfo"] = app
    info = failure.get("timeout_failure_info")
    if info is not None:
        timeout: dict[str, Any] = {}
        kind = enum_out("TIMEOUT_TYPE_", TIMEOUT_TYPES, info.get("timeout_type"))
        if kind:
            timeout["timeoutType"] = kind
        if info.get("last_heartbeat_details"):
            timeout["lastHeartbeatDetails"] = payloads_out(info["last_heartbeat_details"])
        out["timeoutFailureInfo"] = timeout
    info = failure.get("canceled_failure_info")
    if info is not None:
        out["canceledFailureInfo"] = (
            {"details": payloads_out(info["details"])} if info.get("details") else {})
    if failure.get("terminated_failure_info") is not None:
        out["terminatedFailureInfo"] = {}
    if failure.get("reset_workflow_failure_info") is not None:
        out["resetWorkflowFailureInfo"] = {}
    info = failure.get("server_failure_info")
    if info is not None:
        out["serverFailureInfo"] = {"nonRetryable": True} if info.get("non_retryable") else {}
    info = failure.get("activity_failure_info")
    if info is not None:
        out["activityFailureInfo"] = _drop_empty({
            "scheduledEventId": _int64(info.get("scheduled_event_id")),
            "startedEventId": _int64(info.get("started_event_id")),
            "identity": info.get("identity"),
            "activityType": {"name": info["activity_type"]} if info.get("activity_type")
            else None,
            "activityId": info.get("activity_id"),
            "retryState": enum_out("RETRY_STATE_", RETRY_STATES, info.get("retry_state")),
        })
    info = failure.get("child_workflow_execution_failure_info")
    if info is not None:
        out["childWorkflowExecutionFailureInfo"] = _drop_empty({
            "namespace": info.get("namespace"),
            "workflowExecution": _drop_empty({"workflowId": info.get("workflow_id"),
                                              "runId": info.get("run_id")}) or None,
            "workflowType": {"name": info["workflow_type"]} if info.get("workflow_type")
            else None,
            "initiatedEventId": _int64(info.get("initiated_event_id")),
            "startedEventId": _int64(info.get("started_event_id")),
            "retryState": enum_out("RETRY_STATE_", RETRY_STATES, info.get("retry_state")),
        })
    return out


def failure_in(value: Any, where: str) -> dict[str, Any]:
    """Temporal's ``Failure`` message in the store's form."""
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected a failure object, got {value!r}")
    failure: dict[str, Any] = {"message": value.get("message", ""),
                               "source": value.get("source", ""),
                               "stack_trace": value.get("stackTrace", "")}
    if value.get("encodedAttributes"):
        failure["encoded_attributes"] = payload_in(value["encodedAttributes"],
                                                   f"{where}.encodedAttributes")
    if value.get("cause"):
        failure["cause"] = failure_in(value["cause"], f"{where}.cause")
    if "applicationFailureInfo" in value:
        info = value["applicationFailureInfo"] or {}
        failure["application_failure_info"] = {
            "type": info.get("type", ""), "non_retryable": bool(info.get("nonRetryable")),
            "details": payloads_in(info.get("details"), f"{where}.applicationFailureInfo.details"),
            "next_retry_delay": duration_in(info.get("nextRetryDelay"),
                                            f"{where}.applicationFailureInfo.nextRetryDelay"),
            "category": enum_in("APPLICATION_ERROR_CATEGORY_", ERROR_CATEGORIES,
                                info.get("category"), f"{where}.applicationFailureInfo.category"),
        }
    elif "timeoutFailureInfo" in value:
        info = value["timeoutFailureInfo"] or {}
        failure["timeout_failure_info"] = {
            "timeout_type": enum_in("TIMEOUT_TYPE_", TIMEOUT_TYPES, info.get("timeoutType"),
                                    f"{where}.timeoutFailureInfo.timeoutType"),
            "last_heartbeat_details": payloads_in(info.get("lastHeartbeatDetails"),
                                                  f"{where}.timeoutFailureInfo"),
        }
    elif "canceledFailureInfo" in value:
        info = value["canceledFailureInfo"] or {}
        failure["canceled_failure_info"] = {
            "details": payloads_in(info.get("details"), f"{where}.canceledFailureInfo.details")}
    elif "terminatedFailureInfo" in value:
        failure["terminated_failure_info"] = {}
    elif "resetWorkflowFailureInfo" in value:
        failure["reset_workflow_failure_info"] = {}
    elif "serverFailureInfo" in value:
        failure["server_failure_info"] = {
            "non_retryable": bool((value["serverFailureInfo"] or {}).get("nonRetryable"))}
    elif "activityFailureInfo" in value:
        info = value["activityFailureInfo"] or {}
        failure["activity_failure_info"] = {
            "scheduled_event_id": int(info.get("scheduledEventId", 0)),
            "started_event_id": int(info.get("startedEventId", 0)),
            "identity": info.get("identity", ""),
            "activity_type": (info.get("activityType") or {}).get("name", ""),
            "activity_id": info.get("activityId", ""),
            "retry_state": enum_in("RETRY_STATE_", RETRY_STATES, info.get("retryState"),
                                   f"{where}.activityFailureInfo.retryState"),
        }
    elif "childWorkflowExecutionFailureInfo" in value:
        info = value["childWorkflowExecutionFailureInfo"] or {}
        execution = info.get("workflowExecution") or {}
        failure["child_workflow_execution_failure_info"] = {
            "namespace": info.get("namespace", ""),
            "workflow_id": execution.get("workflowId", ""), "run_id": execution.get("runId", ""),
            "workflow_type": (info.get("workflowType") or {}).get("name", ""),
            "initiated_event_id": int(info.get("initiatedEventId", 0)),
            "started_event_id": int(info.get("startedEventId", 0)),
            "retry_state": enum_in("RETRY_STATE_", RETRY_STATES, info.get("retryState"),
                                   f"{where}.childWorkflowExecutionFailureInfo.retryState"),
        }
    return failure


def _int64(value: int | None) -> str | None:
    return str(value) if value else None


def _drop_empty(values: dict[str, Any]) -> dict[str, Any]:
    """proto3 JSON leaves out fields at their default value (None, 0, "", false, empty)."""
    return {k: v for k, v in values.items() if v}


drop_empty = _drop_empty
int64 = _int64
