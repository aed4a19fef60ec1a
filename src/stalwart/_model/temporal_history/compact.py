"""Temporal's events -> what Stalwart's runtime replays, checked as they are read."""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from typing import Any

from .. import proto_json as pj
from ..events import COMMAND_EVENT_TYPES, EV, EventType, HistoryEvent
from .common import (
    ACTIVITY_CLOSE,
    CHANGE_VERSION,
    CHILD_CLOSE,
    DEFAULT_TASK_TIMEOUT,
    WORKFLOW_TASK_SCHEDULED,
    WORKFLOW_TASK_STARTED,
    WORKFLOW_TASK_TIMED_OUT,
    HistoryFormatError,
    activity_error,
    json_payload,
    retry_policy_in,
    search_attributes_in,
    seconds,
    seed_for_run,
)

# Temporal event types that change nothing a Python workflow sees during replay: skipped.
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
        self.signal_ids: list[int] = []  # of the WorkflowExecutionSignaled events, in order
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
        # The inputs Temporal wrote before the current task's WorkflowTaskScheduled (the
        # others joined the task once scheduled): kept on the task's row, which the store's
        # own rows tell by their times instead.
        self.inputs_ahead = 0
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

    def user_metadata(self, *, only_summary: bool = False) -> dict[str, Any]:
        """The current event's summary and details (its ``userMetadata``), as the stored
        command keeps them: a ``summary`` text, or ``user_metadata`` texts."""
        assert self.current is not None
        texts = {}
        for key, payload in (self.current.metadata or {}).items():
            if key not in ("summary", "details") or not isinstance(payload, dict):
                continue
            try:
                stored = pj.payload_in(payload, self.where(f"userMetadata.{key}"))
                text = json.loads(stored["data"])
            except (ValueError, KeyError):
                continue  # not a JSON text (encoded by a codec): kept by Temporal only
            if isinstance(text, str):
                texts[key] = text
        if only_summary:
            return {"summary": texts["summary"]} if "summary" in texts else {}
        return {"user_metadata": texts} if texts else {}

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
            if index == 0 and etype != EV.WORKFLOW_EXECUTION_STARTED:
                raise self.error("eventType", "a history must start with "
                                 "WorkflowExecutionStarted")
            if self.local_closes and not self.keeps_local_pending(events, index):
                self.flush_local()
            made = len(self.out)
            try:
                self.one(etype, event)
                if event.event_group_markers:
                    self.keep_groups(event, made)
            except (KeyError, TypeError, AttributeError, IndexError) as error:
                raise self.error("attributes", f"malformed ({type(error).__name__}: {error}); "
                                 "expected the fields Temporal writes for this event type") \
                    from None
            self.by_id[event.event_id] = event
            if etype == EV.WORKFLOW_EXECUTION_SIGNALED:
                self.signal_ids.append(event.event_id)
        self.current = None
        if self.local_closes:
            self.flush_local()
        return self.out

    def keep_groups(self, event: HistoryEvent, made: int) -> None:
        """The Event Group markers of a command's event, on the command it is stored as
        (see ``_runtime.event_groups`` for the stored form)."""
        groups: list[dict[str, Any]] = []
        for marker in event.event_group_markers or ():
            if "inboundEvent" in marker:
                inbound = int(marker["inboundEvent"].get("inboundEventId") or 0)
                groups.append({"signal": bisect.bisect_right(self.signal_ids, inbound)
                               if inbound in self.signal_ids else 0})
            elif "inboundUpdate" in marker:
                groups.append({"update": marker["inboundUpdate"].get("inboundUpdateId", "")})
            elif "label" in marker:
                label = marker["label"]
                group: dict[str, Any] = {"id": label.get("id", "")}
                if label.get("label"):
                    payload = pj.payload_in(label["label"], self.where("eventGroupMarkers"))
                    if (payload.get("metadata") or {}).get("encoding") == "json/plain":
                        group["label"] = json.loads(payload["data"])
                    else:  # encoded by a codec: kept as it is
                        group["label_payload"] = label["label"]
                groups.append(group)
        for stored in self.out[made:]:
            if stored.event_type in COMMAND_EVENT_TYPES:
                stored.attributes["event_groups"] = groups

    def flush_local(self) -> None:
        """Local activities resolved inside a Temporal task: in Stalwart's terms, their results
        are the inputs of a task of their own that follows the one that scheduled them."""
        closes, self.local_closes = self.local_closes, []
        self.out.extend(closes)
        self.out.append(HistoryEvent(closes[-1].event_id, EV.WORKFLOW_TASK_COMPLETED,
                                     closes[-1].timestamp, {"workflow_time": self.workflow_time}))
        self.last_task_index = len(self.out) - 1

    def keeps_local_pending(self, events: Sequence[HistoryEvent], index: int) -> bool:
        """Whether the pending local activities' results wait past ``events[index]``: it is a
        local activity that ran alongside them, or a workflow task before one. Temporal's SDK
        completes the task while local activities outlast most of its timeout (a heartbeat)
        and records each marker as its activity finishes, so ones started together can land
        in different tasks; they still resolve in the activation that follows them all."""
        current = self.current
        try:
            for event in events[index:]:
                if event.event_type not in (WORKFLOW_TASK_SCHEDULED, WORKFLOW_TASK_STARTED,
                                            EV.WORKFLOW_TASK_COMPLETED):
                    return self.runs_alongside(event)
            return False
        finally:
            self.current = current

    def runs_alongside(self, event: HistoryEvent) -> bool:
        """Whether ``event`` is a local activity scheduled before the pending ones completed
        (they ran together, from one activation) rather than after (one awaited the other)."""
        if event.event_type != EV.MARKER_RECORDED or \
                event.attributes.get("markerName") != "core_local_activity":
            return False
        self.current = event
        scheduled_at = seconds(self.local_data().get("original_schedule_time"))
        return scheduled_at is not None and scheduled_at < self.local_completed_at

    def prescan(self, events: Sequence[HistoryEvent]) -> None:
        for event in events:
            if event.event_type == EV.MARKER_RECORDED and \
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
        if etype == WORKFLOW_TASK_SCHEDULED:
            self.inputs_ahead = sum(
                1 for e in self.out[self.last_task_index + 1:]
                if e.event_type not in COMMAND_EVENT_TYPES
                and e.event_type != EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
            return
        if etype in ("WorkflowExecutionOptionsUpdated",
                     "WorkflowPropertiesModifiedExternally",
                     "ActivityPropertiesModifiedExternally", "WorkflowExecutionUpdateAdmitted",
                     "WorkflowExecutionUpdateRejected"):
            return
        if etype == WORKFLOW_TASK_STARTED:
            self.ref("scheduledEventId", WORKFLOW_TASK_SCHEDULED)
            self.workflow_time = event.timestamp
        elif etype == EV.WORKFLOW_TASK_COMPLETED:
            self.ref("scheduledEventId", WORKFLOW_TASK_SCHEDULED)
            self.ref("startedEventId", WORKFLOW_TASK_STARTED)
            self.add(etype, {"workflow_time": self.workflow_time,
                             "identity": a.get("identity", ""),
                             "inputs_ahead": self.inputs_ahead})
            self.last_task_index = len(self.out) - 1
        elif etype in (EV.WORKFLOW_TASK_FAILED, WORKFLOW_TASK_TIMED_OUT):
            self.ref("scheduledEventId", WORKFLOW_TASK_SCHEDULED)
            failure = a.get("failure")
            reset = a.get("cause") == "WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW"
            timed_out = etype == WORKFLOW_TASK_TIMED_OUT
            self.add(EV.WORKFLOW_TASK_FAILED, {
                "inputs_ahead": self.inputs_ahead,
                **({"timeout_type": "START_TO_CLOSE"} if timed_out else {}),
                "failure": pj.failure_in(failure, self.where("failure")) if failure else None,
                **({"cause": "RESET_WORKFLOW", "base_run_id": a.get("baseRunId"),
                    "new_run_id": a.get("newRunId")} if reset else {})})
        elif etype == EV.WORKFLOW_EXECUTION_STARTED:
            self.started(a)
        elif etype == EV.ACTIVITY_TASK_SCHEDULED:
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
                "retry_policy": retry_policy_in(a.get("retryPolicy"), self.where("retryPolicy")),
                "cancellation_type": 0,
                "header": pj.payload_map_in(a.get("header"), self.where("header")),
                **self.user_metadata(only_summary=True),
            })
        elif etype == "ActivityTaskStarted":
            scheduled = self.ref("scheduledEventId", EV.ACTIVITY_TASK_SCHEDULED)
            self.activity_started[scheduled.event_id] = event
        elif etype in ACTIVITY_CLOSE:
            self.activity_close(etype, event)
        elif etype == EV.ACTIVITY_TASK_CANCEL_REQUESTED:
            scheduled = self.ref("scheduledEventId", EV.ACTIVITY_TASK_SCHEDULED)
            self.add(etype, {"seq": self.activity_seq[scheduled.event_id]})
        elif etype == EV.TIMER_STARTED:
            timer_id = str(self.attr("timerId"))
            seq = int(timer_id) if timer_id.isdigit() else self.timer_next + 1
            self.timer_next = max(self.timer_next, seq)
            self.timer_seq[event.event_id] = seq
            self.add(etype, {"seq": seq, "timer_id": timer_id, "start_to_fire_timeout":
                             pj.duration_in(a.get("startToFireTimeout"),
                                            self.where("startToFireTimeout")),
                             **self.user_metadata(only_summary=True)})
        elif etype in (EV.TIMER_FIRED, EV.TIMER_CANCELED):
            started = self.ref("startedEventId", EV.TIMER_STARTED)
            self.add(etype, {"seq": self.timer_seq[started.event_id],
                             "timer_id": started.attributes.get("timerId")})
        elif etype == EV.MARKER_RECORDED:
            self.marker(a)
        elif etype == EV.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            values = search_attributes_in(a.get("searchAttributes"),
                                           self.where("searchAttributes"))
            values.pop(CHANGE_VERSION, None)  # implied by the patch markers
            if values:
                self.add(etype, {"search_attributes": values})
        elif etype == EV.WORKFLOW_PROPERTIES_MODIFIED:
            memo = pj.payload_map_in(a.get("upsertedMemo"), self.where("upsertedMemo"))
            self.add(etype, {"upserted_memo": {
                k: None if v.get("data") in ("null", None) and "data_b64" not in v else v
                for k, v in memo.items()}})
        elif etype == EV.WORKFLOW_EXECUTION_SIGNALED:
            self.add(etype, {"signal_name": self.attr("signalName"),
                             "input": pj.payloads_in(a.get("input"), self.where("input")),
                             "identity": a.get("identity", ""),
                             "header": pj.payload_map_in(a.get("header"), self.where("header"))})
        elif etype == EV.WORKFLOW_EXECUTION_CANCEL_REQUESTED:
            self.add(etype, {"reason": a.get("cause", ""), "identity": a.get("identity", "")})
        elif etype == EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            self.update_accepted(event)
        elif etype == EV.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            accepted = self.ref("acceptedEventId", EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED)
            update_id = accepted.attributes["acceptedRequest"]["meta"]["updateId"]
            outcome = self.attr("outcome")
            if "failure" in outcome:
                self.add(etype, {"update_id": update_id, "failure": pj.failure_in(
                    outcome["failure"], self.where("outcome.failure"))})
            else:
                result = pj.payloads_in(outcome.get("success"), self.where("outcome.success"))
                self.add(etype, {"update_id": update_id,
                                 "result": result[0] if result else None})
        elif etype in (EV.START_CHILD_WORKFLOW_EXECUTION_INITIATED,
                       EV.START_CHILD_WORKFLOW_EXECUTION_FAILED,
                       EV.CHILD_WORKFLOW_EXECUTION_STARTED) or etype in CHILD_CLOSE:
            self.child(etype, event)
        elif etype in (EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                       EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                       EV.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                       EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                       EV.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                       EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED):
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
        self.add(EV.WORKFLOW_EXECUTION_STARTED, {
            "workflow_id": a.get("workflowId", ""), "workflow_type": self.name("workflowType"),
            "task_queue": (a.get("taskQueue") or {}).get("name", ""),
            "input": pj.payloads_in(a.get("input"), self.where("input")),
            "execution_timeout": pj.duration_in(a.get("workflowExecutionTimeout"),
                                                self.where("workflowExecutionTimeout")),
            **self.task_timeout(a),
            **({"run_timeout": pj.duration_in(a["workflowRunTimeout"],
                                              self.where("workflowRunTimeout")) or 0.0}
               if a.get("workflowRunTimeout") is not None else {}),
            "random_seed": seed_for_run(run_id),
            "first_run_id": a.get("firstExecutionRunId") or run_id,
            "continued_run_id": a.get("continuedExecutionRunId"),
            "attempt": int(a.get("attempt", 1)), "identity": a.get("identity", ""),
            "parent": {"namespace": a.get("parentWorkflowNamespace", "default"),
                       "workflow_id": parent.get("workflowId", ""),
                       "run_id": parent.get("runId", "")} if parent else None,
            **self.root_in(a),
            "search_attributes": {k: v for k, v in search_attributes_in(
                a.get("searchAttributes"), self.where("searchAttributes")).items()
                if v is not None and k != CHANGE_VERSION},
            "memo": pj.payload_map_in(a.get("memo"), self.where("memo")),
            "header": pj.payload_map_in(a.get("header"), self.where("header")),
            **self.retry_policy(a),
            **self.cron_started(a),
            **self.user_metadata(),
        })

    def retry_policy(self, a: dict[str, Any]) -> dict[str, Any]:
        """A workflow's retry policy, where it was started with one."""
        if not a.get("retryPolicy"):
            return {}
        return {"retry_policy": retry_policy_in(a["retryPolicy"], self.where("retryPolicy"))}

    def task_timeout(self, a: dict[str, Any]) -> dict[str, Any]:
        seconds = pj.duration_in(a.get("workflowTaskTimeout"), self.where("workflowTaskTimeout"))
        default = pj.duration_in(DEFAULT_TASK_TIMEOUT, "default")
        return {"task_timeout": seconds} if seconds and seconds != default else {}

    @staticmethod
    def root_in(a: dict[str, Any]) -> dict[str, Any]:
        """A child's root workflow, as Temporal records it (top-level runs have none)."""
        root = a.get("rootWorkflowExecution") or {}
        if not root.get("workflowId"):
            return {}
        return {"root": {"workflow_id": root["workflowId"], "run_id": root.get("runId", "")}}

    def retried(self, a: dict[str, Any]) -> dict[str, Any]:
        """A failed or timed-out run's retry state and the retry that carries its chain on."""
        out: dict[str, Any] = {}
        if a.get("retryState"):
            out["retry_state"] = pj.enum_in("RETRY_STATE_", pj.RETRY_STATES, a["retryState"],
                                            self.where("retryState"))
        if a.get("newExecutionRunId"):
            out["new_execution_run_id"] = a["newExecutionRunId"]
        return out

    def cron_started(self, a: dict[str, Any]) -> dict[str, Any]:
        """What a run of a cron chain was started with (absent for other runs)."""
        out: dict[str, Any] = {}
        if a.get("cronSchedule"):
            out["cron_schedule"] = a["cronSchedule"]
        backoff = pj.duration_in(a.get("firstWorkflowTaskBackoff"),
                                 self.where("firstWorkflowTaskBackoff"))
        if backoff:
            out["first_workflow_task_backoff"] = backoff
        if a.get("initiator") == "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE":
            out["initiator"] = "CronSchedule"
        elif a.get("initiator") == "CONTINUE_AS_NEW_INITIATOR_RETRY":
            out["initiator"] = "RetryPolicy"
        elif a.get("initiator") == "CONTINUE_AS_NEW_INITIATOR_WORKFLOW":
            out["initiator"] = "Workflow"
        if a.get("lastCompletionResult"):
            out["last_completion_result"] = pj.payloads_in(
                a["lastCompletionResult"], self.where("lastCompletionResult"))
        if a.get("continuedFailure"):
            out["continued_failure"] = pj.failure_in(a["continuedFailure"],
                                                     self.where("continuedFailure"))
        return out

    def activity_close(self, etype: str, event: HistoryEvent) -> None:
        a = event.attributes
        scheduled = self.ref("scheduledEventId", EV.ACTIVITY_TASK_SCHEDULED)
        started = self.activity_started.get(scheduled.event_id)
        if a.get("startedEventId") not in (None, "0", 0):
            started = self.ref("startedEventId", "ActivityTaskStarted")
        attrs: dict[str, Any] = {
            "seq": self.activity_seq[scheduled.event_id],
            "attempt": int(started.attributes.get("attempt", 1)) if started else 1,
            "identity": a.get("identity", ""),
            "started_time": started.timestamp if started else None}
        if started and started.attributes.get("lastFailure"):
            attrs["last_failure"] = pj.failure_in(started.attributes["lastFailure"],
                                                  self.where("lastFailure of its start"))
        if etype == EV.ACTIVITY_TASK_COMPLETED:
            result = pj.payloads_in(a.get("result"), self.where("result"))
            attrs["result"] = result[0] if result else json_payload(None)
        elif etype == EV.ACTIVITY_TASK_CANCELED:
            attrs["failure"] = {"message": "activity cancelled", "source": "",
                                "stack_trace": "", "canceled_failure_info": {
                                    "details": pj.payloads_in(a.get("details"),
                                                              self.where("details"))}}
        else:
            attrs["failure"] = activity_error(
                pj.failure_in(self.attr("failure"), self.where("failure")),
                scheduled=scheduled, started=started, identity=a.get("identity", ""),
                retry_state=pj.enum_in("RETRY_STATE_", pj.RETRY_STATES, a.get("retryState"),
                                       self.where("retryState")),
                timed_out=etype == EV.ACTIVITY_TASK_TIMED_OUT)
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
            self.add(EV.MARKER_RECORDED, {"marker_name": "core_patch",
                                                 "patch_id": patch_id, "deprecated": deprecated})
        elif name == "core_local_activity":
            self.local_activity(a)
        else:
            self.add(EV.MARKER_RECORDED, {"marker_name": name, "details": {
                k: pj.payloads_in(v, self.where(f"details.{k}")) for k, v in details.items()}})

    def local_activity(self, a: dict[str, Any]) -> None:
        data = self.local_data()
        seq = data.get("seq")
        if not isinstance(seq, int):
            raise self.error("details.data", "the local activity's seq is missing")
        activity_type = data.get("activity_type")
        if not isinstance(activity_type, str):
            raise self.error("details.data", "the local activity's activity_type is missing")
        self.add(EV.ACTIVITY_TASK_SCHEDULED, {
            "seq": seq, "activity_id": str(data.get("activity_id", seq)),
            "activity_type": activity_type, "task_queue": "", "input": [],
            "retry_policy": None, "cancellation_type": 0, "local": True})
        assert self.current is not None
        attrs: dict[str, Any] = {"seq": seq, "attempt": int(data.get("attempt", 1)),
                                 "identity": "", "started_time": None}
        if a.get("failure"):
            # Recorded as the workflow sees it (Temporal's SDK does not wrap it).
            event_type = EV.ACTIVITY_TASK_FAILED
            attrs["failure"] = pj.failure_in(a["failure"], self.where("failure"))
        else:
            event_type = EV.ACTIVITY_TASK_COMPLETED
            result = pj.payloads_in((a.get("details") or {}).get("result"),
                                    self.where("details.result"))
            attrs["result"] = result[0] if result else json_payload(None)
        completed_at = seconds(data.get("complete_time"))
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
        accepted = HistoryEvent(event.event_id, EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                                event.timestamp, {
                                    "update_id": meta["updateId"], "name": body["name"],
                                    "input": pj.payloads_in(body.get("args"), self.where(
                                        "acceptedRequest.input.args")),
                                    "header": pj.payload_map_in(body.get("header"), self.where(
                                        "acceptedRequest.input.header"))})
        if self.last_task_index >= 0 and all(
                e.event_type in COMMAND_EVENT_TYPES
                or e.event_type == EV.WORKFLOW_EXECUTION_UPDATE_ACCEPTED
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
        if etype == EV.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            self.child_next += 1
            self.child_seq[event.event_id] = self.child_next
            self.add(etype, {
                "seq": self.child_next, "workflow_id": self.attr("workflowId"),
                "workflow_type": self.name("workflowType"),
                "task_queue": (a.get("taskQueue") or {}).get("name", ""),
                "input": pj.payloads_in(a.get("input"), self.where("input")),
                "execution_timeout": pj.duration_in(a.get("workflowExecutionTimeout"),
                                                    self.where("workflowExecutionTimeout")),
                **({"run_timeout": pj.duration_in(a["workflowRunTimeout"],
                                                  self.where("workflowRunTimeout"))}
                   if a.get("workflowRunTimeout") else {}),
                **self.task_timeout(a),
                "parent_close_policy": pj.enum_in(
                    "PARENT_CLOSE_POLICY_", pj.PARENT_CLOSE_POLICIES,
                    a.get("parentClosePolicy"), self.where("parentClosePolicy")),
                "id_reuse_policy": pj.enum_in(
                    "WORKFLOW_ID_REUSE_POLICY_", pj.ID_REUSE_POLICIES,
                    a.get("workflowIdReusePolicy"), self.where("workflowIdReusePolicy")),
                **self.retry_policy(a),
                **({"cron_schedule": a["cronSchedule"]} if a.get("cronSchedule") else {}),
                **self.user_metadata()})
            return
        initiated = self.ref("initiatedEventId",
                             EV.START_CHILD_WORKFLOW_EXECUTION_INITIATED)
        attrs: dict[str, Any] = {
            "seq": self.child_seq[initiated.event_id],
            "workflow_id": execution.get("workflowId") or a.get("workflowId")
            or initiated.attributes.get("workflowId", ""),
            "workflow_type": (a.get("workflowType") or {}).get("name", ""),
            "run_id": execution.get("runId", "")}
        if etype == EV.START_CHILD_WORKFLOW_EXECUTION_FAILED:
            attrs["cause"] = a.get("cause", "")
        elif etype == EV.CHILD_WORKFLOW_EXECUTION_COMPLETED:
            result = pj.payloads_in(a.get("result"), self.where("result"))
            attrs["result"] = result[0] if result else json_payload(None)
        elif etype == EV.CHILD_WORKFLOW_EXECUTION_FAILED:
            attrs["failure"] = pj.failure_in(self.attr("failure"), self.where("failure"))
            if a.get("retryState") not in (None, "RETRY_STATE_RETRY_POLICY_NOT_SET"):
                attrs["retry_state"] = pj.enum_in("RETRY_STATE_", pj.RETRY_STATES,
                                                  a["retryState"], self.where("retryState"))
        elif etype == EV.CHILD_WORKFLOW_EXECUTION_TIMED_OUT and a.get("retryState"):
            attrs["retry_state"] = pj.enum_in("RETRY_STATE_", pj.RETRY_STATES,
                                              a["retryState"], self.where("retryState"))
        self.add(etype, attrs)

    def external(self, etype: str, event: HistoryEvent) -> None:
        a = event.attributes
        execution = a.get("workflowExecution") or {}
        if etype in (EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                     EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED):
            kind = "signal" if etype == EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED \
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
        signal = etype in (EV.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                           EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED)
        initiated = self.ref("initiatedEventId",
                             EV.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED if signal
                             else EV.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED)
        attrs = {"seq": self.external_seq[initiated.event_id],
                 "workflow_id": execution.get("workflowId", ""),
                 "run_id": execution.get("runId") or None}
        if etype.endswith("Failed"):
            attrs["cause"] = a.get("cause", "")
        self.add(etype, attrs)

    def close(self, etype: str, a: dict[str, Any]) -> None:
        if etype == EV.WORKFLOW_EXECUTION_COMPLETED:
            result = pj.payloads_in(a.get("result"), self.where("result"))
            self.add(etype, {"result": result[0] if result else json_payload(None)})
        elif etype == EV.WORKFLOW_EXECUTION_FAILED:
            self.add(etype, {"failure": pj.failure_in(self.attr("failure"),
                                                      self.where("failure")),
                             **self.retried(a)})
        elif etype == EV.WORKFLOW_EXECUTION_CANCELED:
            self.add(etype, {})
        elif etype == EV.WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            self.add(etype, {
                "workflow_type": self.name("workflowType"),
                "task_queue": (a.get("taskQueue") or {}).get("name", ""),
                "input": pj.payloads_in(a.get("input"), self.where("input")),
                "run_timeout": pj.duration_in(a.get("workflowRunTimeout"),
                                              self.where("workflowRunTimeout")),
                "new_execution_run_id": a.get("newExecutionRunId")})
        elif etype == EV.WORKFLOW_EXECUTION_TERMINATED:
            self.add(etype, {"reason": a.get("reason", ""), "identity": a.get("identity", "")})
        elif etype == EV.WORKFLOW_EXECUTION_TIMED_OUT:
            self.add(etype, self.retried(a))
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
