"""What expansion and compaction share: names, constants and the shapes of attributes that
both directions convert (retry policies, search attributes, activity failures)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from .. import proto_json as pj
from ..events import EV, HistoryEvent

WORKFLOW_TASK_SCHEDULED = "WorkflowTaskScheduled"
WORKFLOW_TASK_STARTED = "WorkflowTaskStarted"
WORKFLOW_TASK_TIMED_OUT = "WorkflowTaskTimedOut"
CHANGE_VERSION = "TemporalChangeVersion"
DEFAULT_TASK_TIMEOUT = "10s"
CORE_USED_FLAGS = (1, 2, 3, 4)

ACTIVITY_CLOSE = frozenset({
    EV.ACTIVITY_TASK_COMPLETED, EV.ACTIVITY_TASK_FAILED,
    EV.ACTIVITY_TASK_TIMED_OUT, EV.ACTIVITY_TASK_CANCELED})
CHILD_CLOSE = frozenset({
    EV.CHILD_WORKFLOW_EXECUTION_COMPLETED, EV.CHILD_WORKFLOW_EXECUTION_FAILED,
    EV.CHILD_WORKFLOW_EXECUTION_CANCELED, EV.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
    EV.CHILD_WORKFLOW_EXECUTION_TERMINATED})


class HistoryFormatError(ValueError):
    """An imported history that is not a Temporal history Stalwart can replay."""


def seed_for_run(run_id: str | uuid.UUID) -> int:
    """A run's random seed, derived from its run id. Temporal's history JSON has no field for
    a seed; deriving it lets an exported history replay with the draws it was recorded with
    (and a history Temporal recorded replay the same way every time). A new run's id may be
    given as the ``UUID`` it was made from, which spares parsing it back."""
    if isinstance(run_id, uuid.UUID):
        return run_id.int & ((1 << 63) - 1)
    try:
        return uuid.UUID(run_id).int & ((1 << 63) - 1)
    except ValueError:
        return int.from_bytes(run_id.encode()[:8].ljust(8, b"\0"), "big") & ((1 << 63) - 1)


def json_payload(value: Any) -> dict[str, Any]:
    return {"metadata": {"encoding": "json/plain"},
            "data": json.dumps(value, separators=(",", ":"))}


def priority_out(priority_key: Any) -> dict[str, Any]:
    """Temporal's ``Priority`` message, which its server records (empty) even unset."""
    return {"priorityKey": priority_key} if priority_key else {}


def user_metadata_out(attrs: dict[str, Any]) -> dict[str, Any] | None:
    """Temporal's ``userMetadata`` of the event a command makes: the summary (and details) it
    was given, each a JSON payload of the text, as temporalio encodes them."""
    given = attrs.get("user_metadata") or {}
    texts = {"summary": given.get("summary", attrs.get("summary")),
             "details": given.get("details")}
    out = {key: pj.payload_out({"metadata": {"encoding": "json/plain"},
                                "data": json.dumps(text)})
           for key, text in texts.items() if text is not None}
    return out or None


def is_local_close(event: HistoryEvent, local: dict[int, dict[str, Any]]) -> bool:
    return event.event_type in ACTIVITY_CLOSE and event.attributes.get("seq") in local


def seconds(value: Any) -> float | None:
    """A ``{"seconds": ..., "nanos": ...}`` time from a local activity marker's data."""
    if not isinstance(value, dict):
        return None
    return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9


def proto_timestamp(timestamp: float) -> dict[str, int]:
    seconds = int(timestamp)
    return {"seconds": seconds, "nanos": round((timestamp - seconds) * 1e9)}


def activity_cause(failure: dict[str, Any] | None) -> dict[str, Any] | None:
    """The store keeps what the workflow sees, an ActivityError wrapping the cause; Temporal's
    event holds the cause alone (its SDK wraps it when the workflow reads it)."""
    if failure and failure.get("activity_failure_info") is not None and failure.get("cause"):
        cause: dict[str, Any] = failure["cause"]
        return cause
    return failure


def activity_error(cause: dict[str, Any], *, scheduled: HistoryEvent,
                    started: HistoryEvent | None, identity: str, retry_state: int,
                    timed_out: bool = False) -> dict[str, Any]:
    """Temporal's activity failure as the store keeps it: wrapped in an ActivityError."""
    return {
        "message": "Activity task timed out" if timed_out else "Activity task failed",
        "source": "", "stack_trace": "",
        "activity_failure_info": {
            "scheduled_event_id": scheduled.event_id,
            "started_event_id": started.event_id if started else 0, "identity": identity,
            "activity_type": (scheduled.attributes.get("activityType") or {}).get("name", ""),
            "activity_id": scheduled.attributes.get("activityId", ""),
            "retry_state": retry_state},
        "cause": cause}


def retry_state(failure: dict[str, Any] | None) -> str | None:
    info = (failure or {}).get("activity_failure_info") or {}
    return pj.enum_out("RETRY_STATE_", pj.RETRY_STATES, info.get("retry_state"))


def retry_policy_out(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    if not policy:
        return None
    maximum = policy.get("maximum_interval")
    if maximum is None and policy.get("initial_interval"):
        maximum = 100 * policy["initial_interval"]  # the server's default, as it records it
    return pj.drop_empty({
        "initialInterval": pj.duration_out(policy.get("initial_interval")),
        "backoffCoefficient": policy.get("backoff_coefficient"),
        "maximumInterval": pj.duration_out(maximum),
        "maximumAttempts": policy.get("maximum_attempts"),
        "nonRetryableErrorTypes": policy.get("non_retryable_error_types")})


def retry_policy_in(policy: dict[str, Any] | None, where: str) -> dict[str, Any]:
    policy = policy or {}
    return {
        "initial_interval": pj.duration_in(policy.get("initialInterval"),
                                           f"{where}.initialInterval") or 1.0,
        "backoff_coefficient": float(policy.get("backoffCoefficient", 2.0)),
        "maximum_interval": pj.duration_in(policy.get("maximumInterval"),
                                           f"{where}.maximumInterval"),
        "maximum_attempts": int(policy.get("maximumAttempts", 0)),
        "non_retryable_error_types": list(policy.get("nonRetryableErrorTypes", [])),
    }


def search_attributes_out(values: dict[str, Any], *, keep_unset: bool = False
                           ) -> dict[str, Any] | None:
    fields: dict[str, Any] = {}
    for name, entry in values.items():
        if entry is None:
            if keep_unset:
                fields[name] = pj.payload_out({"metadata": {"encoding": "json/plain"},
                                               "data": "null"})
            continue
        fields[name] = pj.payload_out({
            "metadata": {"encoding": "json/plain", "type": entry["type"]},
            "data": json.dumps(entry["value"], separators=(",", ":"))})
    return {"indexedFields": fields} if fields else None


def search_attributes_in(value: Any, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, payload in pj.payload_map_in(value, where, "indexedFields").items():
        text = payload.get("data")
        decoded = json.loads(text) if text else None
        if decoded is None or decoded == []:
            out[name] = None
        else:
            out[name] = {"type": payload["metadata"].get("type", "Keyword"), "value": decoded}
    return out
