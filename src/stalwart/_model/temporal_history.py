"""Temporal's event model over Stalwart's compact history, both ways.

The store keeps a compact history: a workflow task is one ``WorkflowTaskCompleted`` row (its
inputs before it, its commands after it), an activity's close row carries when it started,
results refer to commands by the runtime's ``seq``, local activities are an ordinary
``ActivityTaskScheduled``/close pair. Temporal's history is longer and linked by event id:
``WorkflowTaskScheduled``/``Started``/``Completed`` triples, ``ActivityTaskStarted`` before an
activity's close, ``scheduledEventId``/``startedEventId``/``initiatedEventId`` references, a
``core_local_activity`` marker per local activity, and an ``UpsertWorkflowSearchAttributes`` of
``TemporalChangeVersion`` after each new ``patched`` marker.

:func:`to_temporal` turns stored events into Temporal's (attributes in proto3 JSON form, as
``temporal workflow show --output json`` writes them); :func:`from_temporal` turns Temporal's
events back into what the runtime replays, assigning the runtime's ``seq`` from command order.
:class:`TemporalLength` counts Temporal's events for the stored ones cheaply, so a running
workflow's ``get_current_history_length()`` is Temporal's without expanding anything.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from . import proto_json as pj
from .events import COMMAND_EVENT_TYPES, EventType, HistoryEvent

WORKFLOW_TASK_SCHEDULED = "WorkflowTaskScheduled"
WORKFLOW_TASK_STARTED = "WorkflowTaskStarted"
WORKFLOW_TASK_TIMED_OUT = "WorkflowTaskTimedOut"
CHANGE_VERSION = "TemporalChangeVersion"
DEFAULT_TASK_TIMEOUT = "10s"
CORE_USED_FLAGS = (1, 2, 3, 4)

_ACTIVITY_CLOSE = frozenset({
    EventType.ACTIVITY_TASK_COMPLETED, EventType.ACTIVITY_TASK_FAILED,
    EventType.ACTIVITY_TASK_TIMED_OUT, EventType.ACTIVITY_TASK_CANCELED})
_RUN_CLOSE = frozenset({
    EventType.WORKFLOW_EXECUTION_COMPLETED, EventType.WORKFLOW_EXECUTION_FAILED,
    EventType.WORKFLOW_EXECUTION_TIMED_OUT, EventType.WORKFLOW_EXECUTION_CANCELED,
    EventType.WORKFLOW_EXECUTION_TERMINATED, EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW})
_CHILD_CLOSE = frozenset({
    EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED, EventType.CHILD_WORKFLOW_EXECUTION_FAILED,
    EventType.CHILD_WORKFLOW_EXECUTION_CANCELED, EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED})


class HistoryFormatError(ValueError):
    """An imported history that is not a Temporal history Stalwart can replay."""


def seed_for_run(run_id: str) -> int:
    """The random seed of a run imported from Temporal, which records none: derived from the
    run id, so replaying the same history twice draws the same numbers."""
    try:
        return uuid.UUID(run_id).int & ((1 << 63) - 1)
    except ValueError:
        return int.from_bytes(run_id.encode()[:8].ljust(8, b"\0"), "big") & ((1 << 63) - 1)


def _json_payload(value: Any) -> dict[str, Any]:
    return {"metadata": {"encoding": "json/plain"},
            "data": json.dumps(value, separators=(",", ":"))}


def _is_local_close(event: HistoryEvent, local: dict[int, dict[str, Any]]) -> bool:
    return event.event_type in _ACTIVITY_CLOSE and event.attributes.get("seq") in local


# =============================================================================================
# Counting: Temporal's history length for a stored history, without expanding it
# =============================================================================================
class TemporalLength:
    """Follows stored events and knows how many Temporal events they amount to.

    Feed it what the store records, in order (inputs, then ``task_started()`` when a workflow
    task runs, then the task's commands). ``task_started()`` returns what Temporal's
    ``get_current_history_length()`` says during that task: the event id of its
    ``WorkflowTaskStarted``.
    """

    __slots__ = (
        "_after_task",
        "_local",
        "_merged",
        "_patches",
        "_pending",
        "_pending_local",
        "count",
        "started_id",
    )

    def __init__(self) -> None:
        self.count = 0
        self.started_id = 0
        self._local: set[int] = set()
        self._patches: set[str] = set()
        self._pending = 0           # inputs since the last task, other than local results
        self._pending_local = 0     # local activity results since the last task
        self._after_task = 0        # inputs Temporal records after the task's completion
        self._merged = False

    def feed_input(self, event: HistoryEvent) -> None:
        etype = event.event_type
        if etype == EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            # Temporal records it after the task's WorkflowTaskCompleted.
            self._pending += 1
            self._after_task += 1
            return
        if etype in _ACTIVITY_CLOSE:
            if event.attributes.get("seq") in self._local:
                self._pending_local += 1
                return
            self.count += 2 if event.attributes.get("started_time") is not None else 1
        else:
            self.count += 1
        self._pending += 1

    def task_started(self) -> int:
        """A workflow task starts over the inputs fed so far."""
        if self._pending == 0 and self._pending_local and self.started_id:
            # Temporal ran these local activities inside the task that scheduled them.
            self._merged = True
        else:
            self._merged = False
            self.count += 2
            self.started_id = self.count
        self._pending = 0
        return self.started_id

    def task_completed(self) -> None:
        if not self._merged:
            self.count += 1
        self.count += self._pending_local + self._after_task  # markers, accepted updates
        self._pending_local = self._after_task = 0

    def task_failed(self) -> None:
        self.count += 1

    def feed_command(self, event_type: str, attributes: dict[str, Any]) -> None:
        if event_type == EventType.ACTIVITY_TASK_SCHEDULED and attributes.get("local"):
            self._local.add(attributes["seq"])
            return
        if event_type == EventType.ACTIVITY_TASK_CANCEL_REQUESTED and \
                attributes.get("seq") in self._local:
            return
        self.count += 1
        if event_type == EventType.MARKER_RECORDED and attributes.get("patch_id") and \
                attributes["patch_id"] not in self._patches:
            self._patches.add(attributes["patch_id"])
            self.count += 1

    def feed_stored(self, events: Iterable[HistoryEvent]) -> None:
        """Follow a stored history (as the worker reads it to rebuild an instance)."""
        for event in events:
            etype = event.event_type
            if etype == EventType.WORKFLOW_TASK_COMPLETED:
                self.task_started()
                self.task_completed()
            elif etype == EventType.WORKFLOW_TASK_FAILED:
                self.task_started()
                self.task_failed()
            elif etype in COMMAND_EVENT_TYPES:
                self.feed_command(etype, event.attributes)
            else:
                self.feed_input(event)


_EVENT_OVERHEAD_BYTES = 64


def estimate_event_size(attributes: dict[str, Any]) -> int:
    """About how many bytes an event adds to Temporal's encoded history: a fixed overhead
    plus its payloads, which dominate. (Temporal counts the exact protobuf size; this stays
    cheap enough to run on every event.)"""
    size = _EVENT_OVERHEAD_BYTES
    for key in ("input", "result"):
        value = attributes.get(key)
        if isinstance(value, list):
            for payload in value:
                if isinstance(payload, dict):
                    size += len(payload.get("data") or payload.get("data_b64") or "")
        elif isinstance(value, dict):
            size += len(value.get("data") or value.get("data_b64") or "")
    return size


# =============================================================================================
# Stored -> Temporal
# =============================================================================================
class _Expander:
    def __init__(self, run_id: str, namespace: str) -> None:
        self.run_id = run_id
        self.namespace = namespace
        self.out: list[HistoryEvent] = []
        self.pending: list[HistoryEvent] = []
        self.task_queue: dict[str, Any] = {"name": "", "kind": "TASK_QUEUE_KIND_NORMAL"}
        self.wft_completed = 0
        self.wft_scheduled = 0
        self.activities: dict[int, int] = {}
        self.local: dict[int, dict[str, Any]] = {}
        self.cancel_requests: dict[int, int] = {}
        self.timers: dict[int, int] = {}
        self.children: dict[int, int] = {}
        self.children_started: dict[int, int] = {}
        self.external: dict[tuple[str, int], int] = {}
        self.updates: dict[str, int] = {}
        self.patches: list[str] = []
        self.closed = False

    def emit(self, event_type: str, timestamp: float, attributes: dict[str, Any]) -> int:
        event_id = len(self.out) + 1
        self.out.append(HistoryEvent(event_id, event_type, timestamp, pj.drop_empty(attributes)))
        return event_id

    def last_time(self) -> float:
        return self.out[-1].timestamp if self.out else 0.0

    # -- driving ---------------------------------------------------------------------------
    def feed(self, event: HistoryEvent) -> None:
        etype = event.event_type
        if etype == EventType.WORKFLOW_TASK_COMPLETED:
            self.task(event, failed=False)
        elif etype == EventType.WORKFLOW_TASK_FAILED:
            self.task(event, failed=True)
        elif etype in COMMAND_EVENT_TYPES:
            self.command(event)
        else:
            self.pending.append(event)

    def finish(self) -> list[HistoryEvent]:
        pending, self.pending = self.pending, []
        for event in pending:
            if _is_local_close(event, self.local):
                self.local_marker(event)
            else:
                self.input(event)
        if pending and not self.closed:
            # Inputs no task has consumed yet: Temporal shows the task they scheduled.
            self.emit(WORKFLOW_TASK_SCHEDULED, self.last_time(), self.task_scheduled_attrs())
        return self.out

    def task_scheduled_attrs(self) -> dict[str, Any]:
        return {"taskQueue": self.task_queue, "startToCloseTimeout": DEFAULT_TASK_TIMEOUT,
                "attempt": 1}

    def task(self, event: HistoryEvent, *, failed: bool) -> None:
        pending, self.pending = self.pending, []
        local = [e for e in pending if _is_local_close(e, self.local)]
        others = [e for e in pending if not _is_local_close(e, self.local)]
        if local and not others and not failed and self.wft_completed:
            for close in local:
                self.local_marker(close)
            return
        accepted = [e for e in others
                    if e.event_type == EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
        for item in others:
            if item.event_type != EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
                self.input(item)
        attrs = event.attributes
        workflow_time = float(attrs.get("workflow_time", event.timestamp))
        scheduled = self.emit(WORKFLOW_TASK_SCHEDULED, min(self.last_time() or workflow_time,
                                                           workflow_time),
                              self.task_scheduled_attrs())
        started = self.emit(WORKFLOW_TASK_STARTED, workflow_time, {
            "scheduledEventId": str(scheduled), "identity": attrs.get("identity")})
        if failed:
            self.emit(EventType.WORKFLOW_TASK_FAILED, event.timestamp, {
                "scheduledEventId": str(scheduled), "startedEventId": str(started),
                "cause": "WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE",
                "failure": pj.failure_out(attrs.get("failure")),
                "identity": attrs.get("identity")})
            self.pending = local + accepted
            return
        self.wft_scheduled = scheduled
        first = not self.wft_completed
        self.wft_completed = self.emit(EventType.WORKFLOW_TASK_COMPLETED, event.timestamp, {
            "scheduledEventId": str(scheduled), "startedEventId": str(started),
            "identity": attrs.get("identity"),
            # The behaviours of Temporal's SDK core this history was made with (ids and types
            # checked on replay, patches upsert TemporalChangeVersion, ...), so Temporal's
            # replayer reads it the way Stalwart wrote it.
            "sdkMetadata": {"coreUsedFlags": list(CORE_USED_FLAGS)} if first else None})
        for update in accepted:
            self.update_accepted(update)
        for close in local:
            self.local_marker(close)

    # -- inputs ----------------------------------------------------------------------------
    def input(self, event: HistoryEvent) -> None:
        etype, attrs, ts = event.event_type, event.attributes, event.timestamp
        if etype in _ACTIVITY_CLOSE:
            self.activity_close(event)
        elif etype == EventType.WORKFLOW_EXECUTION_STARTED:
            self.started(event)
        elif etype == EventType.TIMER_FIRED:
            seq = attrs["seq"]
            self.emit(etype, ts, {"timerId": attrs.get("timer_id", str(seq)),
                                  "startedEventId": pj.int64(self.timers.get(seq))})
        elif etype == EventType.WORKFLOW_EXECUTION_SIGNALED:
            self.emit(etype, ts, {
                "signalName": attrs["signal_name"], "input": pj.payloads_out(attrs.get("input")),
                "identity": attrs.get("identity"),
                "header": pj.payload_map_out(attrs.get("header")) or {}})
        elif etype == EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            self.emit(etype, ts, {"cause": attrs.get("reason") or attrs.get("cause"),
                                  "identity": attrs.get("identity")})
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            self.update_accepted(event)
        elif etype == EventType.WORKFLOW_EXECUTION_TERMINATED:
            self.closed = True
            self.emit(etype, ts, {"reason": attrs.get("reason"),
                                  "details": pj.payloads_out(attrs.get("details")),
                                  "identity": attrs.get("identity")})
        elif etype == EventType.WORKFLOW_EXECUTION_TIMED_OUT:
            self.closed = True
            self.emit(etype, ts, {"retryState": "RETRY_STATE_TIMEOUT"})
        elif etype == EventType.CHILD_WORKFLOW_EXECUTION_STARTED:
            seq = attrs["seq"]
            self.children_started[seq] = self.emit(etype, ts, {
                "namespace": self.namespace, "initiatedEventId": pj.int64(self.children.get(seq)),
                "workflowExecution": self.execution(attrs),
                "workflowType": {"name": attrs.get("workflow_type", "")}, "header": {}})
        elif etype in _CHILD_CLOSE:
            self.child_close(event)
        elif etype == EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED:
            seq = attrs["seq"]
            self.emit(etype, ts, {
                "namespace": self.namespace, "workflowId": attrs.get("workflow_id"),
                "workflowType": {"name": attrs.get("workflow_type", "")},
                "cause": "START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS",
                "initiatedEventId": pj.int64(self.children.get(seq))})
        elif etype in (EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                       EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED):
            kind = "signal" if etype == EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED \
                else "cancel"
            self.emit(etype, ts, {
                "initiatedEventId": pj.int64(self.external.get((kind, attrs["seq"]))),
                "namespace": self.namespace, "workflowExecution": self.execution(attrs)})
        elif etype in (EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                       EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED):
            kind = "signal" if etype == EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED \
                else "cancel"
            self.emit(etype, ts, {
                "cause": "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_"
                "EXECUTION_NOT_FOUND" if kind == "signal" else
                "CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_"
                "NOT_FOUND",
                "workflowTaskCompletedEventId": str(self.wft_completed),
                "namespace": self.namespace, "workflowExecution": self.execution(attrs),
                "initiatedEventId": pj.int64(self.external.get((kind, attrs["seq"])))})
        else:
            # A stored input type without a Temporal counterpart: shown as recorded.
            self.emit(etype, ts, dict(attrs))

    def execution(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return pj.drop_empty({"workflowId": attrs.get("workflow_id"),
                              "runId": attrs.get("run_id")})

    def started(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        self.task_queue = {"name": attrs.get("task_queue", ""), "kind": "TASK_QUEUE_KIND_NORMAL"}
        parent = attrs.get("parent") or {}
        search = attrs.get("search_attributes") or {}
        self.emit(EventType.WORKFLOW_EXECUTION_STARTED, event.timestamp, {
            "workflowType": {"name": attrs.get("workflow_type", "")},
            "parentWorkflowNamespace": parent.get("namespace"),
            "parentWorkflowExecution": pj.drop_empty({
                "workflowId": parent.get("workflow_id"), "runId": parent.get("run_id")}) or None,
            "taskQueue": self.task_queue,
            "input": pj.payloads_out(attrs.get("input")),
            "workflowExecutionTimeout": pj.duration_out(attrs.get("execution_timeout")),
            "workflowTaskTimeout": DEFAULT_TASK_TIMEOUT,
            "continuedExecutionRunId": attrs.get("continued_run_id"),
            "originalExecutionRunId": self.run_id,
            "identity": attrs.get("identity"),
            "firstExecutionRunId": attrs.get("first_run_id") or self.run_id,
            "attempt": attrs.get("attempt", 1),
            "firstWorkflowTaskBackoff": "0s",
            "memo": pj.payload_map_out(attrs.get("memo")),
            "searchAttributes": _search_attributes_out(search),
            "header": pj.payload_map_out(attrs.get("header")),
            "workflowId": attrs.get("workflow_id"),
        })

    def activity_close(self, event: HistoryEvent) -> None:
        etype, attrs = event.event_type, event.attributes
        seq = attrs["seq"]
        scheduled = self.activities.get(seq)
        started = None
        if attrs.get("started_time") is not None:
            started = self.emit(EventType.ACTIVITY_TASK_STARTED, float(attrs["started_time"]), {
                "scheduledEventId": pj.int64(scheduled), "identity": attrs.get("identity"),
                "attempt": attrs.get("attempt", 1)})
        common = {"scheduledEventId": pj.int64(scheduled), "startedEventId": pj.int64(started)}
        if etype == EventType.ACTIVITY_TASK_COMPLETED:
            self.emit(etype, event.timestamp, {
                "result": pj.payloads_out([attrs["result"]] if attrs.get("result") else []),
                **common, "identity": attrs.get("identity")})
        elif etype == EventType.ACTIVITY_TASK_FAILED:
            self.emit(etype, event.timestamp, {
                "failure": pj.failure_out(_activity_cause(attrs.get("failure"))), **common,
                "identity": attrs.get("identity"),
                "retryState": _retry_state(attrs.get("failure"))})
        elif etype == EventType.ACTIVITY_TASK_TIMED_OUT:
            self.emit(etype, event.timestamp, {
                "failure": pj.failure_out(_activity_cause(attrs.get("failure"))), **common,
                "retryState": _retry_state(attrs.get("failure")) or "RETRY_STATE_TIMEOUT"})
        else:
            failure = attrs.get("failure") or {}
            details = (failure.get("canceled_failure_info") or {}).get("details")
            self.emit(etype, event.timestamp, {
                "details": pj.payloads_out(details),
                "latestCancelRequestedEventId": pj.int64(self.cancel_requests.get(seq)),
                **common, "identity": attrs.get("identity")})

    def local_marker(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        seq = attrs["seq"]
        scheduled = self.local.get(seq, {})
        data = {"seq": seq, "attempt": attrs.get("attempt", 1),
                "activity_id": scheduled.get("activity_id", str(seq)),
                "activity_type": scheduled.get("activity_type", ""),
                "complete_time": _proto_timestamp(event.timestamp), "backoff": None,
                "original_schedule_time": _proto_timestamp(
                    float(attrs.get("started_time") or event.timestamp))}
        details: dict[str, Any] = {"data": pj.payloads_out([_json_payload(data)])}
        if event.event_type == EventType.ACTIVITY_TASK_COMPLETED and attrs.get("result"):
            details["result"] = pj.payloads_out([attrs["result"]])
        self.emit(EventType.MARKER_RECORDED, event.timestamp, {
            "markerName": "core_local_activity", "details": details,
            "workflowTaskCompletedEventId": str(self.wft_completed),
            "failure": pj.failure_out(_activity_cause(attrs.get("failure")))
            if event.event_type != EventType.ACTIVITY_TASK_COMPLETED else None})

    def child_close(self, event: HistoryEvent) -> None:
        etype, attrs = event.event_type, event.attributes
        seq = attrs["seq"]
        out: dict[str, Any] = {
            "namespace": self.namespace, "workflowExecution": self.execution(attrs),
            "workflowType": {"name": attrs.get("workflow_type", "")},
            "initiatedEventId": pj.int64(self.children.get(seq)),
            "startedEventId": pj.int64(self.children_started.get(seq))}
        if etype == EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED:
            out["result"] = pj.payloads_out([attrs["result"]] if attrs.get("result") else [])
        elif etype == EventType.CHILD_WORKFLOW_EXECUTION_FAILED:
            out["failure"] = pj.failure_out(attrs.get("failure"))
            out["retryState"] = "RETRY_STATE_RETRY_POLICY_NOT_SET"
        elif etype == EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
            out["retryState"] = "RETRY_STATE_TIMEOUT"
        elif etype == EventType.CHILD_WORKFLOW_EXECUTION_CANCELED:
            failure = attrs.get("failure") or {}
            out["details"] = pj.payloads_out(
                (failure.get("canceled_failure_info") or {}).get("details"))
        self.emit(etype, event.timestamp, out)

    def update_accepted(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        update_id = attrs["update_id"]
        self.updates[update_id] = self.emit(
            EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED, event.timestamp, {
                "protocolInstanceId": update_id,
                "acceptedRequestMessageId": f"{update_id}/request",
                "acceptedRequestSequencingEventId": pj.int64(self.wft_scheduled),
                "acceptedRequest": {
                    "meta": pj.drop_empty({"updateId": update_id,
                                           "identity": attrs.get("identity")}),
                    "input": pj.drop_empty({
                        "header": pj.payload_map_out(attrs.get("header")),
                        "name": attrs["name"], "args": pj.payloads_out(attrs.get("input"))})}})

    # -- commands --------------------------------------------------------------------------
    def command(self, event: HistoryEvent) -> None:
        etype, attrs, ts = event.event_type, event.attributes, event.timestamp
        wft = str(self.wft_completed)
        if etype == EventType.ACTIVITY_TASK_SCHEDULED:
            if attrs.get("local"):
                self.local[attrs["seq"]] = attrs
                return
            self.activities[attrs["seq"]] = self.emit(etype, ts, {
                "activityId": attrs.get("activity_id", str(attrs["seq"])),
                "activityType": {"name": attrs["activity_type"]},
                "taskQueue": {"name": attrs.get("task_queue", ""),
                              "kind": "TASK_QUEUE_KIND_NORMAL"},
                "header": pj.payload_map_out(attrs.get("header")) or {},
                "input": pj.payloads_out(attrs.get("input")),
                "scheduleToCloseTimeout": pj.duration_out(attrs.get("schedule_to_close_timeout"))
                or "0s",
                "scheduleToStartTimeout": pj.duration_out(
                    attrs.get("schedule_to_start_timeout")) or "0s",
                "startToCloseTimeout": pj.duration_out(attrs.get("start_to_close_timeout"))
                or "0s",
                "heartbeatTimeout": pj.duration_out(attrs.get("heartbeat_timeout")) or "0s",
                "workflowTaskCompletedEventId": wft,
                "retryPolicy": _retry_policy_out(attrs.get("retry_policy")),
            })
        elif etype == EventType.ACTIVITY_TASK_CANCEL_REQUESTED:
            seq = attrs["seq"]
            if seq in self.local:
                return
            self.cancel_requests[seq] = self.emit(etype, ts, {
                "scheduledEventId": pj.int64(self.activities.get(seq)),
                "workflowTaskCompletedEventId": wft})
        elif etype == EventType.TIMER_STARTED:
            self.timers[attrs["seq"]] = self.emit(etype, ts, {
                "timerId": attrs.get("timer_id", str(attrs["seq"])),
                "startToFireTimeout": pj.duration_out(attrs.get("start_to_fire_timeout")),
                "workflowTaskCompletedEventId": wft})
        elif etype == EventType.TIMER_CANCELED:
            seq = attrs["seq"]
            self.emit(etype, ts, {"timerId": attrs.get("timer_id", str(seq)),
                                  "startedEventId": pj.int64(self.timers.get(seq)),
                                  "workflowTaskCompletedEventId": wft})
        elif etype == EventType.MARKER_RECORDED:
            self.marker(event)
        elif etype == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            self.children[attrs["seq"]] = self.emit(etype, ts, {
                "namespace": self.namespace, "workflowId": attrs.get("workflow_id"),
                "workflowType": {"name": attrs.get("workflow_type", "")},
                "taskQueue": {"name": attrs.get("task_queue", ""),
                              "kind": "TASK_QUEUE_KIND_NORMAL"},
                "input": pj.payloads_out(attrs.get("input")),
                "workflowExecutionTimeout": pj.duration_out(attrs.get("execution_timeout")),
                "workflowTaskTimeout": DEFAULT_TASK_TIMEOUT,
                "parentClosePolicy": pj.enum_out("PARENT_CLOSE_POLICY_",
                                                 pj.PARENT_CLOSE_POLICIES,
                                                 attrs.get("parent_close_policy")),
                "workflowTaskCompletedEventId": wft,
                "workflowIdReusePolicy": pj.enum_out("WORKFLOW_ID_REUSE_POLICY_",
                                                     pj.ID_REUSE_POLICIES,
                                                     attrs.get("id_reuse_policy")),
                "header": pj.payload_map_out(attrs.get("header")) or {},
                "memo": pj.payload_map_out(attrs.get("memo")),
                "searchAttributes": _search_attributes_out(attrs.get("search_attributes") or {}),
            })
        elif etype == EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            self.external[("signal", attrs["seq"])] = self.emit(etype, ts, {
                "workflowTaskCompletedEventId": wft, "namespace": self.namespace,
                "workflowExecution": self.execution(attrs), "signalName": attrs.get("signal_name"),
                "input": pj.payloads_out(attrs.get("input")),
                "childWorkflowOnly": attrs.get("child_workflow_only"),
                "header": pj.payload_map_out(attrs.get("header")) or {}})
        elif etype == EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            self.external[("cancel", attrs["seq"])] = self.emit(etype, ts, {
                "workflowTaskCompletedEventId": wft, "namespace": self.namespace,
                "workflowExecution": self.execution(attrs),
                "childWorkflowOnly": attrs.get("child_workflow_only")})
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            update_id = attrs["update_id"]
            outcome = {"failure": pj.failure_out(attrs["failure"])} if attrs.get("failure") \
                else {"success": pj.payloads_out([attrs["result"]]) if attrs.get("result")
                      else {}}
            self.emit(etype, ts, {"meta": {"updateId": update_id},
                                  "acceptedEventId": pj.int64(self.updates.get(update_id)),
                                  "outcome": outcome})
        elif etype == EventType.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            self.emit(etype, ts, {
                "workflowTaskCompletedEventId": wft,
                "searchAttributes": _search_attributes_out(attrs.get("search_attributes") or {},
                                                           keep_unset=True) or {}})
        elif etype == EventType.WORKFLOW_PROPERTIES_MODIFIED:
            memo = attrs.get("upserted_memo") or {}
            self.emit(etype, ts, {"workflowTaskCompletedEventId": wft, "upsertedMemo": {
                "fields": {k: pj.payload_out(v) if v is not None else pj.payload_out(
                    _json_payload(None)) for k, v in memo.items()}}})
        else:
            self.close(event)

    def marker(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        wft = str(self.wft_completed)
        patch_id = attrs.get("patch_id")
        if attrs.get("marker_name") != "core_patch" or not patch_id:
            self.emit(EventType.MARKER_RECORDED, event.timestamp, {
                "markerName": attrs.get("marker_name"),
                "details": {k: pj.payloads_out(v) for k, v in (attrs.get("details") or {}).items()},
                "workflowTaskCompletedEventId": wft})
            return
        deprecated = bool(attrs.get("deprecated"))
        self.emit(EventType.MARKER_RECORDED, event.timestamp, {
            "markerName": "core_patch",
            "details": {"patch-data": pj.payloads_out([_json_payload(
                {"id": patch_id, "deprecated": deprecated})])},
            "workflowTaskCompletedEventId": wft})
        if patch_id not in self.patches:
            # What Temporal's SDK upserts with every new patch (deprecated ones too), so
            # visibility can find runs by the patches they took.
            self.patches.append(patch_id)
            self.emit(EventType.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, event.timestamp, {
                "workflowTaskCompletedEventId": wft,
                "searchAttributes": {"indexedFields": {CHANGE_VERSION: pj.payload_out({
                    "metadata": {"encoding": "json/plain", "type": "KeywordList"},
                    "data": json.dumps(self.patches, separators=(",", ":"))})}}})

    def close(self, event: HistoryEvent) -> None:
        etype, attrs, ts = event.event_type, event.attributes, event.timestamp
        wft = str(self.wft_completed)
        self.closed = True
        if etype == EventType.WORKFLOW_EXECUTION_COMPLETED:
            self.emit(etype, ts, {
                "result": pj.payloads_out([attrs["result"]] if attrs.get("result") else []),
                "workflowTaskCompletedEventId": wft})
        elif etype == EventType.WORKFLOW_EXECUTION_FAILED:
            self.emit(etype, ts, {"failure": pj.failure_out(attrs.get("failure")),
                                  "retryState": "RETRY_STATE_RETRY_POLICY_NOT_SET",
                                  "workflowTaskCompletedEventId": wft})
        elif etype == EventType.WORKFLOW_EXECUTION_CANCELED:
            self.emit(etype, ts, {"workflowTaskCompletedEventId": wft,
                                  "details": pj.payloads_out(attrs.get("details"))})
        elif etype == EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            self.emit(etype, ts, {
                "newExecutionRunId": attrs.get("new_run_id"),
                "workflowType": {"name": attrs.get("workflow_type", "")},
                "taskQueue": {"name": attrs.get("task_queue", ""),
                              "kind": "TASK_QUEUE_KIND_NORMAL"},
                "input": pj.payloads_out(attrs.get("input")),
                "workflowRunTimeout": pj.duration_out(attrs.get("execution_timeout")),
                "workflowTaskTimeout": DEFAULT_TASK_TIMEOUT,
                "workflowTaskCompletedEventId": wft,
                "header": pj.payload_map_out(attrs.get("header")) or {},
                "initiator": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW"})
        else:
            self.closed = False
            self.emit(etype, ts, dict(attrs))


def _seconds(value: Any) -> float | None:
    """A ``{"seconds": ..., "nanos": ...}`` time from a local activity marker's data."""
    if not isinstance(value, dict):
        return None
    return float(value.get("seconds", 0)) + float(value.get("nanos", 0)) / 1e9


def _proto_timestamp(timestamp: float) -> dict[str, int]:
    seconds = int(timestamp)
    return {"seconds": seconds, "nanos": round((timestamp - seconds) * 1e9)}


def _activity_cause(failure: dict[str, Any] | None) -> dict[str, Any] | None:
    """The store keeps what the workflow sees, an ActivityError wrapping the cause; Temporal's
    event holds the cause alone (its SDK wraps it when the workflow reads it)."""
    if failure and failure.get("activity_failure_info") is not None and failure.get("cause"):
        cause: dict[str, Any] = failure["cause"]
        return cause
    return failure


def _activity_error(cause: dict[str, Any], *, scheduled: HistoryEvent,
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


def _retry_state(failure: dict[str, Any] | None) -> str | None:
    info = (failure or {}).get("activity_failure_info") or {}
    return pj.enum_out("RETRY_STATE_", pj.RETRY_STATES, info.get("retry_state"))


def _retry_policy_out(policy: dict[str, Any] | None) -> dict[str, Any] | None:
    if not policy:
        return None
    return pj.drop_empty({
        "initialInterval": pj.duration_out(policy.get("initial_interval")),
        "backoffCoefficient": policy.get("backoff_coefficient"),
        "maximumInterval": pj.duration_out(policy.get("maximum_interval")),
        "maximumAttempts": policy.get("maximum_attempts"),
        "nonRetryableErrorTypes": policy.get("non_retryable_error_types")})


def _retry_policy_in(policy: dict[str, Any] | None, where: str) -> dict[str, Any]:
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


def _search_attributes_out(values: dict[str, Any], *, keep_unset: bool = False
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


def _search_attributes_in(value: Any, where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, payload in pj.payload_map_in(value, where, "indexedFields").items():
        text = payload.get("data")
        decoded = json.loads(text) if text else None
        if decoded is None or decoded == []:
            out[name] = None
        else:
            out[name] = {"type": payload["metadata"].get("type", "Keyword"), "value": decoded}
    return out


def to_temporal(events: Sequence[HistoryEvent], *, run_id: str,
                namespace: str = "default") -> list[HistoryEvent]:
    """Stored events of one run as Temporal's events (attributes in proto3 JSON form)."""
    expander = _Expander(run_id, namespace)
    for event in events:
        expander.feed(event)
    return expander.finish()


# =============================================================================================
# Temporal -> what the runtime replays
# =============================================================================================
# Temporal event types Stalwart reads; the ones mapped to None change nothing a Python workflow
# sees during replay and are skipped.
_SKIPPED = frozenset({WORKFLOW_TASK_SCHEDULED, WORKFLOW_TASK_STARTED, "ActivityTaskStarted",
                      "WorkflowExecutionOptionsUpdated", "WorkflowPropertiesModifiedExternally",
                      "ActivityPropertiesModifiedExternally", "WorkflowExecutionUpdateAdmitted",
                      "WorkflowExecutionUpdateRejected"})
TEMPORAL_EVENT_TYPES = frozenset({str(t) for t in EventType} | {
    WORKFLOW_TASK_SCHEDULED, WORKFLOW_TASK_STARTED, WORKFLOW_TASK_TIMED_OUT} | _SKIPPED)
# Real Temporal event types this version cannot replay (Nexus operations and the like).
UNSUPPORTED_EVENT_TYPES = frozenset({
    "NexusOperationScheduled", "NexusOperationStarted", "NexusOperationCompleted",
    "NexusOperationFailed", "NexusOperationCanceled", "NexusOperationTimedOut",
    "NexusOperationCancelRequested", "NexusOperationCancelRequestCompleted",
    "NexusOperationCancelRequestFailed", "WorkflowExecutionPaused",
    "WorkflowExecutionUnpaused"})


class _Compactor:
    def __init__(self) -> None:
        self.out: list[HistoryEvent] = []
        self.by_id: dict[int, HistoryEvent] = {}
        self.reserved: set[int] = set()
        self.activity_next = 0
        self.activity_seq: dict[int, int] = {}
        self.activity_started: dict[int, HistoryEvent] = {}
        self.timer_seq: dict[int, int] = {}
        self.timer_next = 0
        self.child_seq: dict[int, int] = {}
        self.child_next = 0
        self.external_seq: dict[int, int] = {}
        self.external_next = {"signal": 0, "cancel": 0}
        self.workflow_time = 0.0
        self.last_task_index = -1
        self.local_closes: list[HistoryEvent] = []
        self.local_completed_at = float("inf")
        self.current: HistoryEvent | None = None

    # -- errors and references -------------------------------------------------------------
    def error(self, field: str, message: str) -> HistoryFormatError:
        event = self.current
        assert event is not None
        return HistoryFormatError(f"event {event.event_id} ({event.event_type}): field "
                                  f"{field}: {message}")

    def attr(self, name: str) -> Any:
        assert self.current is not None
        value = self.current.attributes.get(name)
        if value is None:
            raise self.error(name, "missing")
        return value

    def ref(self, name: str, *types: str) -> HistoryEvent:
        raw = self.attr(name)
        try:
            target_id = int(raw)
        except (TypeError, ValueError):
            raise self.error(name, f"{raw!r} is not an event id") from None
        target = self.by_id.get(target_id)
        if target is None or target.event_type not in types:
            found = f"a {target.event_type}" if target is not None else "no earlier event"
            raise self.error(name, f"refers to event {target_id}, which is {found}; expected "
                             f"{' or '.join(types)}")
        return target

    def where(self, name: str) -> str:
        assert self.current is not None
        return f"event {self.current.event_id} ({self.current.event_type}): field {name}"

    def add(self, event_type: str, attributes: dict[str, Any]) -> None:
        assert self.current is not None
        self.out.append(HistoryEvent(self.current.event_id, event_type, self.current.timestamp,
                                     attributes))

    # -- driving ---------------------------------------------------------------------------
    def run(self, events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
        for index, event in enumerate(events):
            self.current = event
            if event.event_id != index + 1:
                raise self.error("eventId", f"expected {index + 1} (ids must count up from 1 "
                                 "without gaps)")
            etype = str(event.event_type)
            if etype in UNSUPPORTED_EVENT_TYPES:
                raise self.error("eventType", f"{etype} is not supported by Stalwart's replayer")
            if etype not in TEMPORAL_EVENT_TYPES:
                raise self.error("eventType", f"{etype!r} is not a Temporal event type")
            if index == 0 and etype != EventType.WORKFLOW_EXECUTION_STARTED:
                raise self.error("eventType", "a history must start with "
                                 "WorkflowExecutionStarted")
            if self.local_closes and not self.runs_alongside(event):
                self.flush_local()
            try:
                self.one(etype, event)
            except (KeyError, TypeError, AttributeError, IndexError) as error:
                raise self.error("attributes", f"malformed ({type(error).__name__}: {error}); "
                                 "expected the fields Temporal writes for this event type") \
                    from None
            self.by_id[event.event_id] = event
        self.current = None
        if self.local_closes:
            self.flush_local()
        return self.out

    def flush_local(self) -> None:
        """Local activities resolved inside a Temporal task: in Stalwart's terms, their results
        are the inputs of a task of their own that follows the one that scheduled them."""
        closes, self.local_closes = self.local_closes, []
        self.out.extend(closes)
        self.out.append(HistoryEvent(closes[-1].event_id, EventType.WORKFLOW_TASK_COMPLETED,
                                     closes[-1].timestamp, {"workflow_time": self.workflow_time}))
        self.last_task_index = len(self.out) - 1

    def runs_alongside(self, event: HistoryEvent) -> bool:
        """Whether ``event`` is a local activity scheduled before the pending ones completed
        (they ran together, from one activation) rather than after (one awaited the other)."""
        if event.event_type != EventType.MARKER_RECORDED or \
                event.attributes.get("markerName") != "core_local_activity":
            return False
        self.current = event
        scheduled_at = _seconds(self.local_data().get("original_schedule_time"))
        return scheduled_at is not None and scheduled_at < self.local_completed_at

    def prescan(self, events: Sequence[HistoryEvent]) -> None:
        for event in events:
            if event.event_type == EventType.MARKER_RECORDED and \
                    event.attributes.get("markerName") == "core_local_activity":
                self.current = event
                data = self.local_data()
                if isinstance(data.get("seq"), int):
                    self.reserved.add(data["seq"])
        self.current = None

    def local_data(self) -> dict[str, Any]:
        details = self.attr("details")
        payloads = pj.payloads_in(details.get("data"), self.where("details.data"))
        if not payloads or "data" not in payloads[0]:
            raise self.error("details.data", "a local activity marker needs its JSON data")
        try:
            data = json.loads(payloads[0]["data"])
        except ValueError as error:
            raise self.error("details.data", f"not JSON: {error}") from None
        if not isinstance(data, dict):
            raise self.error("details.data", "expected a JSON object")
        return data

    def next_activity_seq(self) -> int:
        self.activity_next += 1
        while self.activity_next in self.reserved:
            self.activity_next += 1
        return self.activity_next

    def one(self, etype: str, event: HistoryEvent) -> None:
        a = event.attributes
        if etype in (WORKFLOW_TASK_SCHEDULED, "WorkflowExecutionOptionsUpdated",
                     "WorkflowPropertiesModifiedExternally",
                     "ActivityPropertiesModifiedExternally", "WorkflowExecutionUpdateAdmitted",
                     "WorkflowExecutionUpdateRejected"):
            return
        if etype == WORKFLOW_TASK_STARTED:
            self.ref("scheduledEventId", WORKFLOW_TASK_SCHEDULED)
            self.workflow_time = event.timestamp
        elif etype == EventType.WORKFLOW_TASK_COMPLETED:
            self.ref("scheduledEventId", WORKFLOW_TASK_SCHEDULED)
            self.ref("startedEventId", WORKFLOW_TASK_STARTED)
            self.add(etype, {"workflow_time": self.workflow_time,
                             "identity": a.get("identity", "")})
            self.last_task_index = len(self.out) - 1
        elif etype in (EventType.WORKFLOW_TASK_FAILED, WORKFLOW_TASK_TIMED_OUT):
            self.ref("scheduledEventId", WORKFLOW_TASK_SCHEDULED)
            failure = a.get("failure")
            self.add(EventType.WORKFLOW_TASK_FAILED, {
                "failure": pj.failure_in(failure, self.where("failure")) if failure else None})
        elif etype == EventType.WORKFLOW_EXECUTION_STARTED:
            self.started(a)
        elif etype == EventType.ACTIVITY_TASK_SCHEDULED:
            seq = self.next_activity_seq()
            self.activity_seq[event.event_id] = seq
            self.add(etype, {
                "seq": seq, "activity_id": a.get("activityId", str(seq)),
                "activity_type": self.name("activityType"),
                "task_queue": (a.get("taskQueue") or {}).get("name", ""),
                "input": pj.payloads_in(a.get("input"), self.where("input")),
                "schedule_to_close_timeout": pj.duration_in(
                    a.get("scheduleToCloseTimeout"), self.where("scheduleToCloseTimeout")),
                "schedule_to_start_timeout": pj.duration_in(
                    a.get("scheduleToStartTimeout"), self.where("scheduleToStartTimeout")),
                "start_to_close_timeout": pj.duration_in(
                    a.get("startToCloseTimeout"), self.where("startToCloseTimeout")),
                "heartbeat_timeout": pj.duration_in(a.get("heartbeatTimeout"),
                                                    self.where("heartbeatTimeout")),
                "retry_policy": _retry_policy_in(a.get("retryPolicy"), self.where("retryPolicy")),
                "cancellation_type": 0,
                "header": pj.payload_map_in(a.get("header"), self.where("header")),
            })
        elif etype == "ActivityTaskStarted":
            scheduled = self.ref("scheduledEventId", EventType.ACTIVITY_TASK_SCHEDULED)
            self.activity_started[scheduled.event_id] = event
        elif etype in _ACTIVITY_CLOSE:
            self.activity_close(etype, event)
        elif etype == EventType.ACTIVITY_TASK_CANCEL_REQUESTED:
            scheduled = self.ref("scheduledEventId", EventType.ACTIVITY_TASK_SCHEDULED)
            self.add(etype, {"seq": self.activity_seq[scheduled.event_id]})
        elif etype == EventType.TIMER_STARTED:
            timer_id = str(self.attr("timerId"))
            seq = int(timer_id) if timer_id.isdigit() else self.timer_next + 1
            self.timer_next = max(self.timer_next, seq)
            self.timer_seq[event.event_id] = seq
            self.add(etype, {"seq": seq, "timer_id": timer_id, "start_to_fire_timeout":
                             pj.duration_in(a.get("startToFireTimeout"),
                                            self.where("startToFireTimeout"))})
        elif etype in (EventType.TIMER_FIRED, EventType.TIMER_CANCELED):
            started = self.ref("startedEventId", EventType.TIMER_STARTED)
            self.add(etype, {"seq": self.timer_seq[started.event_id],
                             "timer_id": started.attributes.get("timerId")})
        elif etype == EventType.MARKER_RECORDED:
            self.marker(a)
        elif etype == EventType.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            values = _search_attributes_in(a.get("searchAttributes"),
                                           self.where("searchAttributes"))
            values.pop(CHANGE_VERSION, None)  # implied by the patch markers
            if values:
                self.add(etype, {"search_attributes": values})
        elif etype == EventType.WORKFLOW_PROPERTIES_MODIFIED:
            memo = pj.payload_map_in(a.get("upsertedMemo"), self.where("upsertedMemo"))
            self.add(etype, {"upserted_memo": {
                k: None if v.get("data") in ("null", None) and "data_b64" not in v else v
                for k, v in memo.items()}})
        elif etype == EventType.WORKFLOW_EXECUTION_SIGNALED:
            self.add(etype, {"signal_name": self.attr("signalName"),
                             "input": pj.payloads_in(a.get("input"), self.where("input")),
                             "identity": a.get("identity", ""),
                             "header": pj.payload_map_in(a.get("header"), self.where("header"))})
        elif etype == EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            self.add(etype, {"reason": a.get("cause", ""), "identity": a.get("identity", "")})
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            self.update_accepted(event)
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            accepted = self.ref("acceptedEventId", EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
            update_id = accepted.attributes["acceptedRequest"]["meta"]["updateId"]
            outcome = self.attr("outcome")
            if "failure" in outcome:
                self.add(etype, {"update_id": update_id, "failure": pj.failure_in(
                    outcome["failure"], self.where("outcome.failure"))})
            else:
                result = pj.payloads_in(outcome.get("success"), self.where("outcome.success"))
                self.add(etype, {"update_id": update_id,
                                 "result": result[0] if result else None})
        elif etype in (EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED,
                       EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED,
                       EventType.CHILD_WORKFLOW_EXECUTION_STARTED) or etype in _CHILD_CLOSE:
            self.child(etype, event)
        elif etype in (EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                       EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                       EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                       EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                       EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                       EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED):
            self.external(etype, event)
        else:
            self.close(etype, a)

    def name(self, field: str) -> str:
        value = self.attr(field)
        name = value.get("name") if isinstance(value, dict) else None
        if not isinstance(name, str):
            raise self.error(field, f"expected {{\"name\": ...}}, got {value!r}")
        return name

    def started(self, a: dict[str, Any]) -> None:
        run_id = a.get("originalExecutionRunId") or a.get("firstExecutionRunId") or ""
        parent = a.get("parentWorkflowExecution")
        self.add(EventType.WORKFLOW_EXECUTION_STARTED, {
            "workflow_id": a.get("workflowId", ""), "workflow_type": self.name("workflowType"),
            "task_queue": (a.get("taskQueue") or {}).get("name", ""),
            "input": pj.payloads_in(a.get("input"), self.where("input")),
            "execution_timeout": pj.duration_in(a.get("workflowExecutionTimeout"),
                                                self.where("workflowExecutionTimeout")),
            "random_seed": seed_for_run(run_id),
            "first_run_id": a.get("firstExecutionRunId") or run_id,
            "continued_run_id": a.get("continuedExecutionRunId"),
            "attempt": int(a.get("attempt", 1)), "identity": a.get("identity", ""),
            "parent": {"namespace": a.get("parentWorkflowNamespace", "default"),
                       "workflow_id": parent.get("workflowId", ""),
                       "run_id": parent.get("runId", "")} if parent else None,
            "search_attributes": {k: v for k, v in _search_attributes_in(
                a.get("searchAttributes"), self.where("searchAttributes")).items()
                if v is not None and k != CHANGE_VERSION},
            "memo": pj.payload_map_in(a.get("memo"), self.where("memo")),
            "header": pj.payload_map_in(a.get("header"), self.where("header")),
        })

    def activity_close(self, etype: str, event: HistoryEvent) -> None:
        a = event.attributes
        scheduled = self.ref("scheduledEventId", EventType.ACTIVITY_TASK_SCHEDULED)
        started = self.activity_started.get(scheduled.event_id)
        if a.get("startedEventId") not in (None, "0", 0):
            started = self.ref("startedEventId", "ActivityTaskStarted")
        attrs: dict[str, Any] = {
            "seq": self.activity_seq[scheduled.event_id],
            "attempt": int(started.attributes.get("attempt", 1)) if started else 1,
            "identity": a.get("identity", ""),
            "started_time": started.timestamp if started else None}
        if etype == EventType.ACTIVITY_TASK_COMPLETED:
            result = pj.payloads_in(a.get("result"), self.where("result"))
            attrs["result"] = result[0] if result else _json_payload(None)
        elif etype == EventType.ACTIVITY_TASK_CANCELED:
            attrs["failure"] = {"message": "activity cancelled", "source": "",
                                "stack_trace": "", "canceled_failure_info": {
                                    "details": pj.payloads_in(a.get("details"),
                                                              self.where("details"))}}
        else:
            attrs["failure"] = _activity_error(
                pj.failure_in(self.attr("failure"), self.where("failure")),
                scheduled=scheduled, started=started, identity=a.get("identity", ""),
                retry_state=pj.enum_in("RETRY_STATE_", pj.RETRY_STATES, a.get("retryState"),
                                       self.where("retryState")),
                timed_out=etype == EventType.ACTIVITY_TASK_TIMED_OUT)
        self.add(etype, attrs)

    def marker(self, a: dict[str, Any]) -> None:
        name = self.attr("markerName")
        details = a.get("details") or {}
        if name == "core_patch":
            payloads = pj.payloads_in(details.get("patch-data"),
                                      self.where("details.patch-data"))
            try:
                data = json.loads(payloads[0]["data"])
                patch_id, deprecated = str(data["id"]), bool(data.get("deprecated"))
            except (IndexError, KeyError, ValueError, TypeError):
                raise self.error("details.patch-data",
                                 "expected a JSON payload {\"id\": ..., \"deprecated\": ...}") \
                    from None
            self.add(EventType.MARKER_RECORDED, {"marker_name": "core_patch",
                                                 "patch_id": patch_id, "deprecated": deprecated})
        elif name == "core_local_activity":
            self.local_activity(a)
        else:
            self.add(EventType.MARKER_RECORDED, {"marker_name": name, "details": {
                k: pj.payloads_in(v, self.where(f"details.{k}")) for k, v in details.items()}})

    def local_activity(self, a: dict[str, Any]) -> None:
        data = self.local_data()
        seq = data.get("seq")
        if not isinstance(seq, int):
            raise self.error("details.data", "the local activity's seq is missing")
        activity_type = data.get("activity_type")
        if not isinstance(activity_type, str):
            raise self.error("details.data", "the local activity's activity_type is missing")
        self.add(EventType.ACTIVITY_TASK_SCHEDULED, {
            "seq": seq, "activity_id": str(data.get("activity_id", seq)),
            "activity_type": activity_type, "task_queue": "", "input": [],
            "retry_policy": None, "cancellation_type": 0, "local": True})
        assert self.current is not None
        attrs: dict[str, Any] = {"seq": seq, "attempt": int(data.get("attempt", 1)),
                                 "identity": "", "started_time": None}
        if a.get("failure"):
            # Recorded as the workflow sees it (Temporal's SDK does not wrap it).
            event_type = EventType.ACTIVITY_TASK_FAILED
            attrs["failure"] = pj.failure_in(a["failure"], self.where("failure"))
        else:
            event_type = EventType.ACTIVITY_TASK_COMPLETED
            result = pj.payloads_in((a.get("details") or {}).get("result"),
                                    self.where("details.result"))
            attrs["result"] = result[0] if result else _json_payload(None)
        completed_at = _seconds(data.get("complete_time"))
        self.local_completed_at = min(self.local_completed_at, completed_at) \
            if self.local_closes and completed_at is not None else \
            (completed_at if completed_at is not None else float("inf"))
        self.local_closes.append(HistoryEvent(self.current.event_id, event_type,
                                              self.current.timestamp, attrs))

    def update_accepted(self, event: HistoryEvent) -> None:
        request = self.attr("acceptedRequest")
        meta, body = request.get("meta") or {}, request.get("input") or {}
        if not meta.get("updateId"):
            raise self.error("acceptedRequest.meta.updateId", "missing")
        if not body.get("name"):
            raise self.error("acceptedRequest.input.name", "missing")
        accepted = HistoryEvent(event.event_id, EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                                event.timestamp, {
                                    "update_id": meta["updateId"], "name": body["name"],
                                    "input": pj.payloads_in(body.get("args"), self.where(
                                        "acceptedRequest.input.args")),
                                    "header": pj.payload_map_in(body.get("header"), self.where(
                                        "acceptedRequest.input.header"))})
        if self.last_task_index >= 0 and all(
                e.event_type in COMMAND_EVENT_TYPES
                or e.event_type == EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED
                for e in self.out[self.last_task_index + 1:]):
            # Temporal records acceptance with the task's commands; Stalwart's runtime reads
            # it as an input of that task.
            self.out.insert(self.last_task_index, accepted)
            self.last_task_index += 1
        else:
            self.out.append(accepted)

    def child(self, etype: str, event: HistoryEvent) -> None:
        a = event.attributes
        execution = a.get("workflowExecution") or {}
        if etype == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            self.child_next += 1
            self.child_seq[event.event_id] = self.child_next
            self.add(etype, {
                "seq": self.child_next, "workflow_id": self.attr("workflowId"),
                "workflow_type": self.name("workflowType"),
                "task_queue": (a.get("taskQueue") or {}).get("name", ""),
                "input": pj.payloads_in(a.get("input"), self.where("input")),
                "execution_timeout": pj.duration_in(a.get("workflowExecutionTimeout"),
                                                    self.where("workflowExecutionTimeout")),
                "parent_close_policy": pj.enum_in(
                    "PARENT_CLOSE_POLICY_", pj.PARENT_CLOSE_POLICIES,
                    a.get("parentClosePolicy"), self.where("parentClosePolicy")),
                "id_reuse_policy": pj.enum_in(
                    "WORKFLOW_ID_REUSE_POLICY_", pj.ID_REUSE_POLICIES,
                    a.get("workflowIdReusePolicy"), self.where("workflowIdReusePolicy"))})
            return
        initiated = self.ref("initiatedEventId",
                             EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED)
        attrs: dict[str, Any] = {
            "seq": self.child_seq[initiated.event_id],
            "workflow_id": execution.get("workflowId") or a.get("workflowId")
            or initiated.attributes.get("workflowId", ""),
            "workflow_type": (a.get("workflowType") or {}).get("name", ""),
            "run_id": execution.get("runId", "")}
        if etype == EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED:
            attrs["cause"] = a.get("cause", "")
        elif etype == EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED:
            result = pj.payloads_in(a.get("result"), self.where("result"))
            attrs["result"] = result[0] if result else _json_payload(None)
        elif etype == EventType.CHILD_WORKFLOW_EXECUTION_FAILED:
            attrs["failure"] = pj.failure_in(self.attr("failure"), self.where("failure"))
        self.add(etype, attrs)

    def external(self, etype: str, event: HistoryEvent) -> None:
        a = event.attributes
        execution = a.get("workflowExecution") or {}
        if etype in (EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                     EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED):
            kind = "signal" if etype == EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED \
                else "cancel"
            self.external_next[kind] += 1
            seq = self.external_next[kind]
            self.external_seq[event.event_id] = seq
            attrs: dict[str, Any] = {"seq": seq, "workflow_id": execution.get("workflowId", ""),
                                     "run_id": execution.get("runId") or None,
                                     "child_workflow_only": bool(a.get("childWorkflowOnly"))}
            if kind == "signal":
                attrs["signal_name"] = a.get("signalName", "")
                attrs["input"] = pj.payloads_in(a.get("input"), self.where("input"))
            self.add(etype, attrs)
            return
        signal = etype in (EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                           EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED)
        initiated = self.ref("initiatedEventId",
                             EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED if signal
                             else EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)
        attrs = {"seq": self.external_seq[initiated.event_id],
                 "workflow_id": execution.get("workflowId", ""),
                 "run_id": execution.get("runId") or None}
        if etype.endswith("Failed"):
            attrs["cause"] = a.get("cause", "")
        self.add(etype, attrs)

    def close(self, etype: str, a: dict[str, Any]) -> None:
        if etype == EventType.WORKFLOW_EXECUTION_COMPLETED:
            result = pj.payloads_in(a.get("result"), self.where("result"))
            self.add(etype, {"result": result[0] if result else _json_payload(None)})
        elif etype == EventType.WORKFLOW_EXECUTION_FAILED:
            self.add(etype, {"failure": pj.failure_in(self.attr("failure"),
                                                      self.where("failure"))})
        elif etype == EventType.WORKFLOW_EXECUTION_CANCELED:
            self.add(etype, {})
        elif etype == EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            self.add(etype, {
                "workflow_type": self.name("workflowType"),
                "task_queue": (a.get("taskQueue") or {}).get("name", ""),
                "input": pj.payloads_in(a.get("input"), self.where("input")),
                "execution_timeout": pj.duration_in(a.get("workflowRunTimeout"),
                                                    self.where("workflowRunTimeout")),
                "new_run_id": a.get("newExecutionRunId")})
        elif etype == EventType.WORKFLOW_EXECUTION_TERMINATED:
            self.add(etype, {"reason": a.get("reason", ""), "identity": a.get("identity", "")})
        elif etype == EventType.WORKFLOW_EXECUTION_TIMED_OUT:
            self.add(etype, {})
        else:
            raise self.error("eventType", f"{etype} is not supported by Stalwart's replayer")


def from_temporal(events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """Temporal's events (attributes in proto3 JSON form) as the runtime replays them.

    Raises:
        HistoryFormatError: an event is malformed: the message names its id and the field.
    """
    compactor = _Compactor()
    try:
        compactor.prescan(events)
        return compactor.run(events)
    except HistoryFormatError:
        raise
    except ValueError as error:  # a value's own check, whose message names event and field
        raise HistoryFormatError(str(error)) from None
