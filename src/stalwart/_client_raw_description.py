"""``describe().raw_description``: Temporal's ``DescribeWorkflowExecutionResponse`` as
temporalio code reads it (``raw_description.pending_activities[0].attempt``,
``raw_description.workflow_execution_info.history_length``), built from the store's view of
the run and read through ``_history_events.ProtoMessage``.

Not filled in: ``pending_children`` and ``pending_workflow_task`` (always empty), callbacks,
Nexus operations and worker-versioning fields.
"""

from __future__ import annotations

from typing import Any

from ._history_events import ProtoMessage
from ._model import proto_json as pj
from ._model.events import HistoryEvent
from ._model.proto_schema import MESSAGES
from ._model.temporal_history import to_temporal
from ._model.temporal_history.common import search_attributes_out
from ._store.base import ExecutionRow

_STATUS_NAMES = ("RUNNING", "COMPLETED", "FAILED", "CANCELED", "TERMINATED",
                 "CONTINUED_AS_NEW", "TIMED_OUT")
_ACTIVITY_STATES = {"scheduled": "SCHEDULED", "started": "STARTED", "paused": "PAUSED",
                    "pause_requested": "PAUSE_REQUESTED"}


def _time(timestamp: float | None) -> str | None:
    return pj.time_out(timestamp) if timestamp is not None else None


def _pending_activity(activity: dict[str, Any]) -> dict[str, Any]:
    options = activity.get("options") or {}
    state = "CANCEL_REQUESTED" if activity.get("cancel_requested") else \
        _ACTIVITY_STATES.get(activity.get("state") or "", "SCHEDULED")
    waiting = activity.get("worker_id") is None
    retrying = waiting and activity.get("attempt", 1) > 1 and \
        activity.get("last_attempt_at") is not None
    close_timeout = options.get("schedule_to_close_timeout")
    next_at = activity.get("next_attempt_at") if retrying else None
    out = {
        "activityId": activity["activity_id"],
        "activityType": {"name": activity["activity_type"]},
        "state": f"PENDING_ACTIVITY_STATE_{state}",
        "heartbeatDetails": pj.payloads_out(activity.get("heartbeat_details")),
        "lastHeartbeatTime": _time(activity.get("last_heartbeat_at")),
        "lastStartedTime": _time(activity.get("started_at")),
        "attempt": activity.get("attempt", 1),
        "maximumAttempts": (options.get("retry_policy") or {}).get("maximum_attempts") or 0,
        "scheduledTime": _time(activity.get("scheduled_at")),
        "expirationTime": _time(activity["scheduled_at"] + close_timeout)
        if close_timeout and activity.get("scheduled_at") is not None else None,
        "lastFailure": pj.failure_out(activity.get("last_failure")),
        "lastWorkerIdentity": activity.get("worker_id") or activity.get("last_worker") or "",
        "lastAttemptCompleteTime": _time(activity.get("last_attempt_at")) if retrying else None,
        "nextAttemptScheduleTime": _time(next_at),
        "currentRetryInterval": pj.duration_out(next_at - activity["last_attempt_at"])
        if next_at is not None else None,
        "paused": bool(activity.get("paused")),
    }
    return {key: value for key, value in out.items() if value is not None}


def raw_description(row: ExecutionRow, first: HistoryEvent | None, namespace: str,
                    history_length: int, execution_time: float,
                    pending_activities: list[dict[str, Any]]) -> ProtoMessage:
    started = to_temporal([first], run_id=row.run_id, namespace=namespace)[0].attributes \
        if first is not None else {}
    info: dict[str, Any] = {
        "execution": {"workflowId": row.workflow_id, "runId": row.run_id},
        "type": {"name": row.workflow_type},
        "startTime": pj.time_out(row.start_time),
        "closeTime": _time(row.close_time),
        "status": f"WORKFLOW_EXECUTION_STATUS_{_STATUS_NAMES[int(row.status) - 1]}",
        "historyLength": str(history_length),
        "executionTime": pj.time_out(execution_time),
        "memo": pj.payload_map_out(row.memo),
        "searchAttributes": search_attributes_out(row.search_attributes),
        "taskQueue": row.task_queue,
        "firstRunId": row.first_run_id,
        "parentExecution": {"workflowId": row.parent_workflow_id,
                            "runId": row.parent_run_id or ""}
        if row.parent_workflow_id else None,
        "rootExecution": started.get("rootWorkflowExecution")
        or {"workflowId": row.workflow_id, "runId": row.run_id},
    }
    config = {
        "taskQueue": started.get("taskQueue") or {"name": row.task_queue,
                                                  "kind": "TASK_QUEUE_KIND_NORMAL"},
        "workflowExecutionTimeout": started.get("workflowExecutionTimeout"),
        "workflowRunTimeout": started.get("workflowRunTimeout"),
        "defaultWorkflowTaskTimeout": started.get("workflowTaskTimeout"),
    }
    response = {
        "executionConfig": {k: v for k, v in config.items() if v is not None},
        "workflowExecutionInfo": {k: v for k, v in info.items() if v is not None},
        "pendingActivities": [_pending_activity(a) for a in pending_activities],
    }
    return ProtoMessage(MESSAGES["DescribeWorkflowExecutionResponse"], response)
