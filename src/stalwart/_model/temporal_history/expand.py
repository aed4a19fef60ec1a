"""Stored events -> Temporal's events (attributes in proto3 JSON form)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from .. import proto_json as pj
from ..events import COMMAND_EVENT_TYPES, EV, HistoryEvent
from .common import (
    ACTIVITY_CLOSE,
    CHANGE_VERSION,
    CHILD_CLOSE,
    CORE_USED_FLAGS,
    DEFAULT_TASK_TIMEOUT,
    WORKFLOW_TASK_SCHEDULED,
    WORKFLOW_TASK_STARTED,
    WORKFLOW_TASK_TIMED_OUT,
    activity_cause,
    is_local_close,
    json_payload,
    priority_out,
    proto_timestamp,
    retry_policy_out,
    retry_state,
    search_attributes_out,
    user_metadata_out,
)


class _Expander:
    def __init__(self, run_id: str, namespace: str, now: float | None = None) -> None:
        self.run_id = run_id
        self.namespace = namespace
        self.now = now
        self.out: list[HistoryEvent] = []
        self.pending: list[HistoryEvent] = []
        self.task_queue: dict[str, Any] = {"name": "", "kind": "TASK_QUEUE_KIND_NORMAL"}
        self.task_timeout = DEFAULT_TASK_TIMEOUT
        self.wft_completed = 0
        self.wft_scheduled = 0
        self.failed_tasks = 0  # the current streak of failed or timed-out workflow tasks
        self.parent_id: str | None = None
        self.activities: dict[int, int] = {}
        self.local: dict[int, dict[str, Any]] = {}
        self.cancel_requests: dict[int, int] = {}
        self.timers: dict[int, int] = {}
        self.children: dict[int, int] = {}
        self.children_started: dict[int, int] = {}
        self.external: dict[tuple[str, int], int] = {}
        self.updates: dict[str, int] = {}
        self.patches: list[str] = []
        self.signals: list[int] = []  # the event ids of the run's signals, in order
        self.closed = False
        # When the last workflow task ended (None before the first): inputs recorded by then
        # waited for the next task, which Temporal schedules right after writing them.
        self.task_end: float | None = None

    def emit(self, event_type: str, timestamp: float, attributes: dict[str, Any]) -> int:
        event_id = len(self.out) + 1
        self.out.append(HistoryEvent(event_id, event_type, timestamp, pj.drop_empty(attributes)))
        return event_id

    def last_time(self) -> float:
        return self.out[-1].timestamp if self.out else 0.0

    # -- driving ---------------------------------------------------------------------------
    def feed(self, event: HistoryEvent) -> None:
        etype = event.event_type
        if etype == EV.WORKFLOW_TASK_COMPLETED:
            self.task(event, failed=False)
        elif etype == EV.WORKFLOW_TASK_FAILED:
            self.task(event, failed=True)
        elif etype in COMMAND_EVENT_TYPES:
            self.command(event)
        else:
            self.pending.append(event)

    def finish(self) -> list[HistoryEvent]:
        pending, self.pending = self.pending, []
        close = next((i for i, e in enumerate(pending) if e.event_type in (
            EV.WORKFLOW_EXECUTION_TERMINATED, EV.WORKFLOW_EXECUTION_TIMED_OUT)),
            len(pending))
        live, closing = pending[:close], pending[close:]
        # Inputs no task has consumed yet: Temporal shows the task they scheduled (which
        # never ran if the run was closed; none if a cron run's first task was not due yet).
        if closing:
            scheduled = bool(live) and not _still_in_backoff(live, closing[0].timestamp)
        else:
            scheduled = bool(live) and not self.closed and not (
                self.now is not None and _still_in_backoff(live, self.now))
        first = self.scheduling_inputs(live) if scheduled else len(live)
        for event in live[:first]:
            self.pending_input(event)
        if scheduled:
            self.emit(WORKFLOW_TASK_SCHEDULED, self.last_time(), self.task_scheduled_attrs())
        for event in live[first:] + closing:
            self.pending_input(event)
        return self.out

    def pending_input(self, event: HistoryEvent) -> None:
        if is_local_close(event, self.local):
            self.local_marker(event)
        else:
            self.input(event)

    def scheduling_inputs(self, inputs: Sequence[HistoryEvent]) -> int:
        """How many of a task's inputs Temporal records before its ``WorkflowTaskScheduled``:
        the ones that waited for the last task to end (Temporal writes them, then schedules
        the task), or else the ones that scheduled it (one transaction's: the store writes
        them with one time). Later ones joined the scheduled task: Temporal writes them after
        its ``WorkflowTaskScheduled``, before its ``WorkflowTaskStarted``. A run's first task
        is scheduled with the start (after what came with it, as a signal with start), or
        when a cron run's backoff ends."""
        if not inputs:
            return 0
        due = self.task_end
        if due is None:
            started = inputs[0]
            if started.event_type != EV.WORKFLOW_EXECUTION_STARTED:
                return len(inputs)
            due = started.timestamp + float(
                started.attributes.get("first_workflow_task_backoff") or 0.0)
        if inputs[0].timestamp > due:
            due = inputs[0].timestamp
        count = 0
        while count < len(inputs) and inputs[count].timestamp <= due:
            count += 1
        return count

    def task_scheduled_attrs(self) -> dict[str, Any]:
        # A task after failed (or timed-out) ones is their next attempt, as Temporal counts
        # before a run's first completed task. After it, temporalio's worker holds the run
        # on a sticky queue, whose failed task Temporal's server reschedules as attempt 1.
        attempt = 1 if self.wft_completed else self.failed_tasks + 1
        return {"taskQueue": self.task_queue, "startToCloseTimeout": self.task_timeout,
                "attempt": attempt}

    def task(self, event: HistoryEvent, *, failed: bool) -> None:
        pending, self.pending = self.pending, []
        local = [e for e in pending if is_local_close(e, self.local)]
        others = [e for e in pending if not is_local_close(e, self.local)]
        if local and not others and not failed and self.wft_completed:
            for close in local:
                self.local_marker(close)
            self.task_end = event.timestamp
            return
        accepted = [e for e in others
                    if e.event_type == EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
        inputs = [e for e in others
                  if e.event_type != EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED]
        recorded = event.attributes.get("inputs_ahead")  # where an import had them
        ahead = self.scheduling_inputs(inputs) if recorded is None else int(recorded)
        self.task_end = event.timestamp
        for item in inputs[:ahead]:
            self.input(item)
        attrs = event.attributes
        workflow_time = float(attrs.get("workflow_time", event.timestamp))
        # A delayed first task (start_delay, a cron run's backoff) is scheduled when it is due.
        scheduled_at = max(self.last_time() or workflow_time, _first_task_due(inputs))
        scheduled = self.emit(WORKFLOW_TASK_SCHEDULED, min(scheduled_at, workflow_time),
                              self.task_scheduled_attrs())
        for item in inputs[ahead:]:
            self.input(item)
        started = self.emit(WORKFLOW_TASK_STARTED, workflow_time, {
            "scheduledEventId": str(scheduled), "identity": attrs.get("identity")})
        self.failed_tasks = self.failed_tasks + 1 if failed else 0
        if failed and attrs.get("timeout_type"):
            # Stored as a failed task (the runtime treats both alike), shown as Temporal's.
            self.emit(WORKFLOW_TASK_TIMED_OUT, event.timestamp, {
                "scheduledEventId": str(scheduled), "startedEventId": str(started),
                "timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"})
            self.pending = local + accepted
            return
        if failed:
            reset = attrs.get("cause") == "RESET_WORKFLOW"
            self.emit(EV.WORKFLOW_TASK_FAILED, event.timestamp, {
                "scheduledEventId": str(scheduled), "startedEventId": str(started),
                "cause": "WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW" if reset
                else "WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE",
                "failure": pj.failure_out(attrs.get("failure")),
                "identity": attrs.get("identity"),
                # A reset names the run it was made from and the run it made.
                "baseRunId": attrs.get("base_run_id"), "newRunId": attrs.get("new_run_id")})
            self.pending = local + accepted
            return
        self.wft_scheduled = scheduled
        first = not self.wft_completed
        self.wft_completed = self.emit(EV.WORKFLOW_TASK_COMPLETED, event.timestamp, {
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
        if etype in ACTIVITY_CLOSE:
            self.activity_close(event)
        elif etype == EV.WORKFLOW_EXECUTION_STARTED:
            self.started(event)
        elif etype == EV.TIMER_FIRED:
            seq = attrs["seq"]
            self.emit(etype, ts, {"timerId": attrs.get("timer_id", str(seq)),
                                  "startedEventId": pj.int64(self.timers.get(seq))})
        elif etype == EV.WORKFLOW_EXECUTION_SIGNALED:
            self.signals.append(len(self.out) + 1)
            self.emit(etype, ts, {
                "signalName": attrs["signal_name"], "input": pj.payloads_out(attrs.get("input")),
                "identity": attrs.get("identity"),
                "header": pj.payload_map_out(attrs.get("header")) or {},
                # Sent by another workflow: Temporal names it.
                "externalWorkflowExecution": {"workflowId": attrs["external"]["workflow_id"],
                                              "runId": attrs["external"]["run_id"]}
                if attrs.get("external") else None})
        elif etype == EV.WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            external = attrs.get("external")
            self.emit(etype, ts, {
                # Asked by another workflow, Temporal names it; its cause is the reason
                # temporalio's core gives an external cancel (none for a parent's).
                "cause": (None if external["workflow_id"] == self.parent_id else
                          "Cancel requested by workflow with run id "
                          f"{external['run_id']} with reason: {attrs.get('reason') or ''}")
                if external else attrs.get("reason") or attrs.get("cause"),
                "externalWorkflowExecution": {"workflowId": external["workflow_id"],
                                              "runId": external["run_id"]} if external else None,
                "identity": attrs.get("identity")})
        elif etype == EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            self.update_accepted(event)
        elif etype == EV.WORKFLOW_EXECUTION_TERMINATED:
            self.closed = True
            self.emit(etype, ts, {"reason": attrs.get("reason"),
                                  "details": pj.payloads_out(attrs.get("details")),
                                  "identity": attrs.get("identity")})
        elif etype == EV.WORKFLOW_EXECUTION_TIMED_OUT:
            self.closed = True
            self.emit(etype, ts, {"retryState": pj.enum_out(
                "RETRY_STATE_", pj.RETRY_STATES, attrs.get("retry_state"))
                or "RETRY_STATE_TIMEOUT", "newExecutionRunId": attrs.get("new_execution_run_id")})
        elif etype == EV.CHILD_WORKFLOW_EXECUTION_STARTED:
            seq = attrs["seq"]
            self.children_started[seq] = self.emit(etype, ts, {
                "namespace": self.namespace, "initiatedEventId": pj.int64(self.children.get(seq)),
                "workflowExecution": self.execution(attrs),
                "workflowType": {"name": attrs.get("workflow_type", "")}})
            self.out[-1].attributes["header"] = {}  # set (empty) by Temporal's server
        elif etype in CHILD_CLOSE:
            self.child_close(event)
        elif etype == EV.START_CHILD_WORKFLOW_EXECUTION_FAILED:
            seq = attrs["seq"]
            self.emit(etype, ts, {
                "namespace": self.namespace, "workflowId": attrs.get("workflow_id"),
                "workflowType": {"name": attrs.get("workflow_type", "")},
                "cause": "START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS",
                "initiatedEventId": pj.int64(self.children.get(seq))})
        elif etype in (EV.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                       EV.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED):
            kind = "signal" if etype == EV.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED \
                else "cancel"
            self.emit(etype, ts, {
                "initiatedEventId": pj.int64(self.external.get((kind, attrs["seq"]))),
                "namespace": self.namespace,
                "workflowExecution": self.external_target(kind, attrs)})
        elif etype in (EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                       EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED):
            kind = "signal" if etype == EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED \
                else "cancel"
            self.emit(etype, ts, {
                "cause": "SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_"
                "EXECUTION_NOT_FOUND" if kind == "signal" else
                "CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_"
                "NOT_FOUND",
                "namespace": self.namespace,
                "workflowExecution": self.external_target(kind, attrs),
                "initiatedEventId": pj.int64(self.external.get((kind, attrs["seq"])))})
        else:
            # A stored input type without a Temporal counterpart: shown as recorded.
            self.emit(etype, ts, dict(attrs))

    def external_target(self, kind: str, attrs: dict[str, Any]) -> dict[str, Any] | None:
        """The workflow an external signal or cancel went to, as its initiated event named it
        (Temporal's server repeats it in the outcome's event)."""
        initiated = self.external.get((kind, attrs["seq"]))
        return self.execution(attrs) or (self.out[initiated - 1].attributes.get(
            "workflowExecution") if initiated else None)

    def execution(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return pj.drop_empty({"workflowId": attrs.get("workflow_id"),
                              "runId": attrs.get("run_id")})

    def started(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        self.task_queue = {"name": attrs.get("task_queue", ""), "kind": "TASK_QUEUE_KIND_NORMAL"}
        parent = attrs.get("parent") or {}
        self.parent_id = parent.get("workflow_id")
        search = attrs.get("search_attributes") or {}
        self.task_timeout = pj.duration_out(attrs.get("task_timeout")) or DEFAULT_TASK_TIMEOUT
        self.emit(EV.WORKFLOW_EXECUTION_STARTED, event.timestamp, {
            "workflowType": {"name": attrs.get("workflow_type", "")},
            "parentWorkflowNamespace": parent.get("namespace"),
            "parentWorkflowExecution": pj.drop_empty({
                "workflowId": parent.get("workflow_id"), "runId": parent.get("run_id")}) or None,
            "taskQueue": self.task_queue,
            "input": pj.payloads_out(attrs.get("input")),
            "workflowExecutionTimeout": pj.duration_out(attrs.get("execution_timeout")),
            # The server records a child's run timeout, when neither it nor an execution
            # timeout was given, as "0s" (a top-level start's as nothing).
            "workflowRunTimeout": pj.duration_out(
                attrs.get("run_timeout") if attrs.get("run_timeout") is not None or not parent
                else 0.0),
            "workflowTaskTimeout": self.task_timeout,
            "workflowExecutionExpirationTime": pj.time_out(attrs["execution_expiration"])
            if attrs.get("execution_expiration") is not None else None,
            "continuedExecutionRunId": attrs.get("continued_run_id"),
            # A run made by a reset keeps the run its chain of resets began with.
            "originalExecutionRunId": attrs.get("original_run_id") or self.run_id,
            "identity": attrs.get("identity"),
            "firstExecutionRunId": attrs.get("first_run_id") or self.run_id,
            "rootWorkflowExecution": pj.drop_empty({
                "workflowId": (attrs.get("root") or {}).get("workflow_id"),
                "runId": (attrs.get("root") or {}).get("run_id")}) or None,
            "attempt": attrs.get("attempt", 1),
            "firstWorkflowTaskBackoff": pj.duration_out(
                attrs.get("first_workflow_task_backoff") or 0.0),
            "cronSchedule": attrs.get("cron_schedule"),
            "initiator": _INITIATORS.get(attrs.get("initiator") or ""),
            "lastCompletionResult": pj.payloads_out(attrs["last_completion_result"])
            if attrs.get("last_completion_result") else None,
            "continuedFailure": pj.failure_out(attrs["continued_failure"])
            if attrs.get("continued_failure") else None,
            "memo": pj.payload_map_out(attrs.get("memo")),
            "searchAttributes": search_attributes_out(search),
            "header": pj.payload_map_out(attrs.get("header")),
            "retryPolicy": retry_policy_out(attrs.get("retry_policy")),
            "workflowId": attrs.get("workflow_id"),
        })
        made = self.out[-1]
        made.metadata = user_metadata_out(attrs)
        # Messages Temporal's server always sets, empty or not (proto3 JSON writes them).
        made.attributes["priority"] = priority_out(attrs.get("priority"))
        if parent:
            made.attributes.setdefault("header", {})

    def activity_close(self, event: HistoryEvent) -> None:
        etype, attrs = event.event_type, event.attributes
        seq = attrs["seq"]
        scheduled = self.activities.get(seq)
        started = None
        if attrs.get("started_time") is not None:
            started = self.emit(EV.ACTIVITY_TASK_STARTED, float(attrs["started_time"]), {
                "scheduledEventId": pj.int64(scheduled), "identity": attrs.get("identity"),
                "attempt": attrs.get("attempt", 1),
                "lastFailure": pj.failure_out(activity_cause(attrs["last_failure"]))
                if attrs.get("last_failure") else None})
        common = {"scheduledEventId": pj.int64(scheduled), "startedEventId": pj.int64(started)}
        if etype == EV.ACTIVITY_TASK_COMPLETED:
            self.emit(etype, event.timestamp, {
                "result": pj.payloads_out([attrs["result"]] if attrs.get("result") else []),
                **common, "identity": attrs.get("identity")})
        elif etype == EV.ACTIVITY_TASK_FAILED:
            self.emit(etype, event.timestamp, {
                "failure": pj.failure_out(activity_cause(attrs.get("failure"))), **common,
                "identity": attrs.get("identity"),
                "retryState": retry_state(attrs.get("failure"))})
        elif etype == EV.ACTIVITY_TASK_TIMED_OUT:
            self.emit(etype, event.timestamp, {
                "failure": pj.failure_out(activity_cause(attrs.get("failure"))), **common,
                "retryState": retry_state(attrs.get("failure")) or "RETRY_STATE_TIMEOUT"})
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
                "complete_time": proto_timestamp(event.timestamp), "backoff": None,
                "original_schedule_time": proto_timestamp(
                    float(attrs.get("started_time") or event.timestamp))}
        details: dict[str, Any] = {"data": pj.payloads_out([json_payload(data)])}
        if event.event_type == EV.ACTIVITY_TASK_COMPLETED and attrs.get("result"):
            details["result"] = pj.payloads_out([attrs["result"]])
        self.emit(EV.MARKER_RECORDED, event.timestamp, {
            "markerName": "core_local_activity", "details": details,
            "workflowTaskCompletedEventId": str(self.wft_completed),
            "failure": pj.failure_out(activity_cause(attrs.get("failure")))
            if event.event_type != EV.ACTIVITY_TASK_COMPLETED else None})
        if scheduled.get("event_groups"):
            self.out[-1].event_group_markers = self.group_markers(scheduled["event_groups"])

    def child_close(self, event: HistoryEvent) -> None:
        etype, attrs = event.event_type, event.attributes
        seq = attrs["seq"]
        out: dict[str, Any] = {
            "namespace": self.namespace, "workflowExecution": self.execution(attrs),
            "workflowType": {"name": attrs.get("workflow_type", "")},
            "initiatedEventId": pj.int64(self.children.get(seq)),
            "startedEventId": pj.int64(self.children_started.get(seq))}
        if etype == EV.CHILD_WORKFLOW_EXECUTION_COMPLETED:
            out["result"] = pj.payloads_out([attrs["result"]] if attrs.get("result") else [])
        elif etype == EV.CHILD_WORKFLOW_EXECUTION_FAILED:
            out["failure"] = pj.failure_out(attrs.get("failure"))
            # The child's last run's (after a retry policy's retries, why they ended).
            out["retryState"] = pj.enum_out("RETRY_STATE_", pj.RETRY_STATES,
                                            attrs.get("retry_state")) \
                or "RETRY_STATE_RETRY_POLICY_NOT_SET"
        elif etype == EV.CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
            # The child run's own: TIMEOUT for its execution timeout, RETRY_POLICY_NOT_SET
            # for its run timeout (older histories did not keep it: TIMEOUT).
            out["retryState"] = pj.enum_out("RETRY_STATE_", pj.RETRY_STATES,
                                            attrs.get("retry_state")) or "RETRY_STATE_TIMEOUT"
        elif etype == EV.CHILD_WORKFLOW_EXECUTION_CANCELED:
            failure = attrs.get("failure") or {}
            out["details"] = pj.payloads_out(
                (failure.get("canceled_failure_info") or {}).get("details"))
        self.emit(etype, event.timestamp, out)

    def update_accepted(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        update_id = attrs["update_id"]
        self.updates[update_id] = self.emit(
            EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED, event.timestamp, {
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
        before = len(self.out)
        self.command_events(event)
        groups = event.attributes.get("event_groups")
        if groups:
            # Every event the command made (a patch's marker and its upsert too).
            for made in self.out[before:]:
                made.event_group_markers = self.group_markers(groups)

    def group_markers(self, groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Stored Event Group markers as Temporal's ``eventGroupMarkers``."""
        out: list[dict[str, Any]] = []
        for group in groups:
            if "signal" in group:
                ordinal = int(group["signal"])
                event_id = self.signals[ordinal - 1] if 0 < ordinal <= len(self.signals) \
                    else 0
                out.append({"inboundEvent": {"inboundEventId": str(event_id)}})
            elif "update" in group:
                out.append({"inboundUpdate": {"inboundUpdateId": group["update"]}})
            else:
                label = {"id": group.get("id", "")}
                if group.get("label") is not None:
                    label["label"] = pj.payload_out(json_payload(group["label"]))
                elif group.get("label_payload"):  # imported, encoded by a codec
                    label["label"] = group["label_payload"]
                out.append({"label": label})
        return out

    def command_events(self, event: HistoryEvent) -> None:
        etype, attrs, ts = event.event_type, event.attributes, event.timestamp
        wft = str(self.wft_completed)
        if etype == EV.ACTIVITY_TASK_SCHEDULED:
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
                "retryPolicy": retry_policy_out(attrs.get("retry_policy")),
            })
            self.out[-1].metadata = user_metadata_out(attrs)
            self.out[-1].attributes.update(header=self.out[-1].attributes.get("header") or {},
                                           priority=priority_out(attrs.get("priority")))
            if attrs.get("task_queue", "") == self.task_queue["name"]:
                # temporalio's default versioning intent: same build as the workflow's.
                self.out[-1].attributes["useWorkflowBuildId"] = True
        elif etype == EV.ACTIVITY_TASK_CANCEL_REQUESTED:
            seq = attrs["seq"]
            if seq in self.local:
                return
            self.cancel_requests[seq] = self.emit(etype, ts, {
                "scheduledEventId": pj.int64(self.activities.get(seq)),
                "workflowTaskCompletedEventId": wft})
        elif etype == EV.TIMER_STARTED:
            self.timers[attrs["seq"]] = self.emit(etype, ts, {
                "timerId": attrs.get("timer_id", str(attrs["seq"])),
                "startToFireTimeout": pj.duration_out(attrs.get("start_to_fire_timeout")),
                "workflowTaskCompletedEventId": wft})
            self.out[-1].metadata = user_metadata_out(attrs)
        elif etype == EV.TIMER_CANCELED:
            seq = attrs["seq"]
            self.emit(etype, ts, {"timerId": attrs.get("timer_id", str(seq)),
                                  "startedEventId": pj.int64(self.timers.get(seq)),
                                  "workflowTaskCompletedEventId": wft})
        elif etype == EV.MARKER_RECORDED:
            self.marker(event)
        elif etype == EV.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            self.children[attrs["seq"]] = self.emit(etype, ts, {
                "namespace": self.namespace, "workflowId": attrs.get("workflow_id"),
                "workflowType": {"name": attrs.get("workflow_type", "")},
                "taskQueue": {"name": attrs.get("task_queue", ""),
                              "kind": "TASK_QUEUE_KIND_NORMAL"},
                "input": pj.payloads_out(attrs.get("input")),
                "workflowExecutionTimeout": pj.duration_out(attrs.get("execution_timeout")),
                "workflowRunTimeout": pj.duration_out(attrs.get("run_timeout") or 0.0),
                "workflowTaskTimeout": pj.duration_out(attrs.get("task_timeout"))
                or DEFAULT_TASK_TIMEOUT,
                "parentClosePolicy": pj.enum_out("PARENT_CLOSE_POLICY_",
                                                 pj.PARENT_CLOSE_POLICIES,
                                                 attrs.get("parent_close_policy")),
                "workflowTaskCompletedEventId": wft,
                "workflowIdReusePolicy": pj.enum_out("WORKFLOW_ID_REUSE_POLICY_",
                                                     pj.ID_REUSE_POLICIES,
                                                     attrs.get("id_reuse_policy")),
                "header": pj.payload_map_out(attrs.get("header")) or {},
                "memo": pj.payload_map_out(attrs.get("memo")),
                "searchAttributes": search_attributes_out(attrs.get("search_attributes") or {}),
                **({"cronSchedule": attrs["cron_schedule"]} if attrs.get("cron_schedule")
                   else {}),
                **({"retryPolicy": retry_policy_out(attrs["retry_policy"])}
                   if attrs.get("retry_policy") else {}),
                "inheritBuildId": True,
            })
            self.out[-1].metadata = user_metadata_out(attrs)
            self.out[-1].attributes.update(header=self.out[-1].attributes.get("header") or {},
                                           priority=priority_out(attrs.get("priority")))
        elif etype == EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            self.external[("signal", attrs["seq"])] = self.emit(etype, ts, {
                "workflowTaskCompletedEventId": wft, "namespace": self.namespace,
                "workflowExecution": self.execution(attrs), "signalName": attrs.get("signal_name"),
                "input": pj.payloads_out(attrs.get("input")),
                "childWorkflowOnly": attrs.get("child_workflow_only"),
                "header": pj.payload_map_out(attrs.get("header")) or {}})
        elif etype == EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            child_only = attrs.get("child_workflow_only")
            self.external[("cancel", attrs["seq"])] = self.emit(etype, ts, {
                "workflowTaskCompletedEventId": wft, "namespace": self.namespace,
                "workflowExecution": self.execution(attrs),
                "childWorkflowOnly": child_only,
                # The reason temporalio's core gives an external workflow's cancel.
                "reason": None if child_only else "Cancel requested by workflow with run id "
                f"{self.run_id} with reason: {attrs.get('reason') or ''}"})
        elif etype == EV.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            update_id = attrs["update_id"]
            outcome = {"failure": pj.failure_out(attrs["failure"])} if attrs.get("failure") \
                else {"success": pj.payloads_out([attrs["result"]]) if attrs.get("result")
                      else {}}
            self.emit(etype, ts, {"meta": {"updateId": update_id},
                                  "acceptedEventId": pj.int64(self.updates.get(update_id)),
                                  "outcome": outcome})
        elif etype == EV.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            self.emit(etype, ts, {
                "workflowTaskCompletedEventId": wft,
                "searchAttributes": search_attributes_out(attrs.get("search_attributes") or {},
                                                           keep_unset=True) or {}})
        elif etype == EV.WORKFLOW_PROPERTIES_MODIFIED:
            memo = attrs.get("upserted_memo") or {}
            self.emit(etype, ts, {"workflowTaskCompletedEventId": wft, "upsertedMemo": {
                # A removed key is a null payload, as temporalio's converter writes None.
                "fields": {k: pj.payload_out(v if v is not None else _NULL_PAYLOAD)
                           for k, v in memo.items()}}})
        else:
            self.close(event)

    def marker(self, event: HistoryEvent) -> None:
        attrs = event.attributes
        wft = str(self.wft_completed)
        patch_id = attrs.get("patch_id")
        if attrs.get("marker_name") != "core_patch" or not patch_id:
            self.emit(EV.MARKER_RECORDED, event.timestamp, {
                "markerName": attrs.get("marker_name"),
                "details": {k: pj.payloads_out(v) for k, v in (attrs.get("details") or {}).items()},
                "workflowTaskCompletedEventId": wft})
            return
        deprecated = bool(attrs.get("deprecated"))
        self.emit(EV.MARKER_RECORDED, event.timestamp, {
            "markerName": "core_patch",
            "details": {"patch-data": pj.payloads_out([json_payload(
                {"id": patch_id, "deprecated": deprecated})])},
            "workflowTaskCompletedEventId": wft})
        if patch_id not in self.patches:
            # What Temporal's SDK upserts with every new patch (deprecated ones too), so
            # visibility can find runs by the patches they took.
            self.patches.append(patch_id)
            self.emit(EV.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES, event.timestamp, {
                "workflowTaskCompletedEventId": wft,
                "searchAttributes": {"indexedFields": {CHANGE_VERSION: pj.payload_out({
                    "metadata": {"encoding": "json/plain", "type": "KeywordList"},
                    "data": json.dumps(sorted(self.patches), separators=(",", ":"))})}}})

    def close(self, event: HistoryEvent) -> None:
        etype, attrs, ts = event.event_type, event.attributes, event.timestamp
        wft = str(self.wft_completed)
        self.closed = True
        # A cron run closes as completed or failed, a retried run as failed, and names the run
        # that carries the chain on.
        next_run = {"newExecutionRunId": attrs["new_execution_run_id"]} \
            if attrs.get("new_execution_run_id") else {}
        if etype == EV.WORKFLOW_EXECUTION_COMPLETED:
            self.emit(etype, ts, {
                "result": pj.payloads_out([attrs["result"]] if attrs.get("result") else []),
                "workflowTaskCompletedEventId": wft, **next_run})
        elif etype == EV.WORKFLOW_EXECUTION_FAILED:
            self.emit(etype, ts, {"failure": pj.failure_out(attrs.get("failure")),
                                  "retryState": pj.enum_out("RETRY_STATE_", pj.RETRY_STATES,
                                                            attrs.get("retry_state"))
                                  or "RETRY_STATE_RETRY_POLICY_NOT_SET",
                                  "workflowTaskCompletedEventId": wft, **next_run})
        elif etype == EV.WORKFLOW_EXECUTION_CANCELED:
            self.emit(etype, ts, {"workflowTaskCompletedEventId": wft,
                                  "details": pj.payloads_out(attrs.get("details"))})
        elif etype == EV.WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            self.emit(etype, ts, {
                "newExecutionRunId": attrs.get("new_execution_run_id"),
                "workflowType": {"name": attrs.get("workflow_type", "")},
                "taskQueue": {"name": attrs.get("task_queue", ""),
                              "kind": "TASK_QUEUE_KIND_NORMAL"},
                "input": pj.payloads_out(attrs.get("input")),
                # Older histories recorded the next run's run timeout as execution_timeout.
                "workflowRunTimeout": pj.duration_out(
                    attrs["run_timeout"] if "run_timeout" in attrs
                    else attrs.get("execution_timeout")),
                "workflowTaskTimeout": pj.duration_out(attrs.get("task_timeout"))
                or DEFAULT_TASK_TIMEOUT,
                "workflowTaskCompletedEventId": wft,
                "header": pj.payload_map_out(attrs.get("header")) or {},
                "backoffStartInterval": pj.duration_out(attrs.get("backoff_start_interval")),
                "memo": pj.payload_map_out(attrs.get("memo")),
                "searchAttributes": search_attributes_out(attrs.get("search_attributes") or {}),
                "inheritBuildId": True})
        else:
            self.closed = False
            self.emit(etype, ts, dict(attrs))


_NULL_PAYLOAD = {"metadata": {"encoding": "binary/null"}, "data_b64": ""}

_INITIATORS = {"CronSchedule": "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE",
               "Workflow": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW",
               "RetryPolicy": "CONTINUE_AS_NEW_INITIATOR_RETRY"}


def _first_task_due(inputs: Sequence[HistoryEvent]) -> float:
    """When the run's first task is due, if ``inputs`` start the run (0 otherwise): Temporal
    schedules it only once the start delay or a cron run's backoff has passed; inputs that
    arrive meanwhile (signals) wait for it without scheduling it earlier."""
    if not inputs or inputs[0].event_type != EV.WORKFLOW_EXECUTION_STARTED:
        return 0.0
    started = inputs[0]
    backoff = float(started.attributes.get("first_workflow_task_backoff") or 0.0)
    return started.timestamp + backoff if backoff > 0 else 0.0


def _still_in_backoff(before: Sequence[HistoryEvent], at: float) -> bool:
    """The run's first task was not due yet at ``at`` (a cron run's backoff or a start
    delay): Temporal has scheduled no task yet, nor does it for a run closed by then."""
    return at < _first_task_due(before)


def to_temporal(events: Sequence[HistoryEvent], *, run_id: str,
                namespace: str = "default", now: float | None = None) -> list[HistoryEvent]:
    """Stored events of one run as Temporal's events (attributes in proto3 JSON form).

    ``now`` (engine time, wall clock when not given): a running run whose first task is
    not due yet (start delay, cron backoff) shows no ``WorkflowTaskScheduled`` until then."""
    expander = _Expander(run_id, namespace, time.time() if now is None else now)
    for event in events:
        expander.feed(event)
    return expander.finish()
