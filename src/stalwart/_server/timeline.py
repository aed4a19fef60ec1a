"""History events as readable timeline entries for the workflow page.

The events are Temporal's (``to_temporal``), so the page reads like Temporal's own UI: workflow
task triples, ``ActivityTaskStarted`` before an activity's close, references by event id. An
entry names what happened in words ("Activity fetch completed"), with the facts a person looks
for (attempt, how long it took, the failure message), links to related runs, and the payloads it
carries, already decoded. Durations come from the event a close refers to
(``scheduledEventId``, ``initiatedEventId`` ...), found in the whole run's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from .._model.events import HistoryEvent
from .._model.proto_json import duration_in, payload_in
from .paths import id_segment
from .payloads import decode_payloads, iso

# The attribute by which a closing event names the event that opened it.
_OPENED_BY = ("scheduledEventId", "initiatedEventId", "acceptedEventId")
_TIMER_CLOSE = ("TimerFired", "TimerCanceled")


def workflow_href(workflow_id: str, run_id: str | None = None) -> str:
    path = f"/workflows/{id_segment(workflow_id)}"
    return path + (f"?{urlencode({'run_id': run_id})}" if run_id else "")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0:
        seconds = 0.0
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{int(minutes)} min {secs:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min"


def _duration(value: Any) -> str:
    try:
        return format_duration(duration_in(value, "duration"))
    except ValueError:
        return str(value)


def _values(value: Any) -> Any:
    """Temporal's payloads (``{"payloads": [...]}``, one payload, or a map of them) as the
    values they hold."""
    if isinstance(value, dict) and isinstance(value.get("payloads"), list):
        return [_values(p) for p in value["payloads"]]
    if isinstance(value, dict) and "clipped" in value:
        return decode_payloads(value)  # a page shows the start of it, linking to the rest
    if isinstance(value, dict) and isinstance(value.get("metadata"), dict):
        try:
            return decode_payloads(payload_in(value, "payload"))
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _values(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_values(v) for v in value]
    return value


payload_values = _values


def _name(value: Any) -> str:
    return str(value.get("name", "")) if isinstance(value, dict) else ""


@dataclass
class Entry:
    event_id: int
    event_type: str
    time: str
    offset: str
    category: str
    tone: str
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    payloads: list[tuple[str, Any]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def _failure_message(failure: Any) -> str:
    if not isinstance(failure, dict):
        return ""
    message = str(failure.get("message", ""))
    cause = failure.get("cause")
    if isinstance(cause, dict) and cause.get("message"):
        message += f" (cause: {cause['message']})"
    return message


class Timeline:
    """Builds entries for pages of one run's events; ``events`` is the whole run, so every
    close finds the event it refers to."""

    def __init__(self, run_start: float, events: Sequence[HistoryEvent]) -> None:
        self._start = run_start
        self._by_id = {e.event_id: e for e in events}

    def entries(self, events: Iterable[HistoryEvent]) -> list[Entry]:
        return [self._entry(event) for event in events]

    def _opener(self, event: HistoryEvent) -> HistoryEvent | None:
        attrs = event.attributes
        keys = ("startedEventId",) if event.event_type in _TIMER_CLOSE else _OPENED_BY
        for key in keys:
            if attrs.get(key):
                try:
                    return self._by_id.get(int(attrs[key]))
                except (TypeError, ValueError):
                    return None
        return None

    def _entry(self, event: HistoryEvent) -> Entry:
        attrs = event.attributes
        etype = str(event.event_type)
        entry = Entry(event_id=event.event_id, event_type=etype, time=iso(event.timestamp) or "",
                      offset="+" + format_duration(event.timestamp - self._start),
                      category="other", tone="info", title=etype)
        opener = self._opener(event)
        opened = opener.attributes if opener is not None else {}
        took = format_duration(event.timestamp - opener.timestamp) if opener else ""
        failure = attrs.get("failure")
        if failure is not None:
            entry.tone = "fail"
            message = _failure_message(failure)
            if message:
                entry.facts.append(("failure", message))
        handler = _HANDLERS.get(etype)
        if handler is not None:
            handler(entry, attrs, opened, took)
        if failure is not None:
            entry.payloads.append(("failure", _values(failure)))
        return entry


def _started(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "workflow"
    entry.title = f"Workflow {_name(attrs.get('workflowType'))} started"
    entry.facts.append(("task queue", _name(attrs.get("taskQueue"))))
    if attrs.get("workflowExecutionTimeout"):
        entry.facts.append(("execution timeout", _duration(attrs["workflowExecutionTimeout"])))
    if attrs.get("continuedExecutionRunId"):
        entry.links.append(("continued from run", workflow_href(
            str(attrs.get("workflowId", "")), str(attrs["continuedExecutionRunId"]))))
    parent = attrs.get("parentWorkflowExecution")
    if isinstance(parent, dict) and parent.get("workflowId"):
        entry.links.append((f"parent {parent['workflowId']}", workflow_href(
            str(parent["workflowId"]), parent.get("runId"))))
    entry.payloads.append(("input", _values(attrs.get("input", {"payloads": []}))))


def _closed(word: str, tone: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
        entry.category, entry.title = "workflow", f"Workflow {word}"
        entry.tone = tone
        if "result" in attrs:
            values = _values(attrs["result"])
            entry.payloads.append(("result", values[0] if len(values) == 1 else values))
        if attrs.get("reason"):
            entry.facts.append(("reason", str(attrs["reason"])))
        if attrs.get("details"):
            entry.payloads.append(("details", _values(attrs["details"])))
    return handle


def _continued(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category, entry.title, entry.tone = "workflow", "Workflow continued as new", "ok"
    if attrs.get("newExecutionRunId"):
        entry.links.append(("next run", f"?run_id={quote(str(attrs['newExecutionRunId']))}"))
    entry.payloads.append(("input of next run", _values(attrs.get("input", {"payloads": []}))))


def _task(word: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
        entry.category, entry.title = "task", f"Workflow task {word}"
        if attrs.get("identity"):
            entry.facts.append(("worker", str(attrs["identity"])))
    return handle


def _activity_scheduled(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any],
                        _t: str) -> None:
    entry.category = "activity"
    entry.title = f"Activity {_name(attrs.get('activityType'))} scheduled"
    entry.facts.append(("activity id", str(attrs.get("activityId", ""))))
    if attrs.get("taskQueue"):
        entry.facts.append(("task queue", _name(attrs["taskQueue"])))
    for name, label in (("startToCloseTimeout", "start to close timeout"),
                        ("scheduleToCloseTimeout", "schedule to close timeout"),
                        ("heartbeatTimeout", "heartbeat timeout")):
        if attrs.get(name) not in (None, "0s"):
            entry.facts.append((label, _duration(attrs[name])))
    entry.payloads.append(("input", _values(attrs.get("input", {"payloads": []}))))


def _activity_closed(word: str, tone: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], opened: dict[str, Any], took: str) -> None:
        entry.category = "activity"
        name = _name(opened.get("activityType")) or f"(event {attrs.get('scheduledEventId')})"
        entry.title = f"Activity {name} {word}"
        if entry.tone != "fail":
            entry.tone = tone
        if attrs.get("attempt"):
            entry.facts.insert(0, ("attempt", str(attrs["attempt"])))
        if took and word != "cancellation requested":
            entry.facts.insert(0, ("after" if word == "started" else "took", took))
        if attrs.get("identity"):
            entry.facts.append(("worker", str(attrs["identity"])))
        if "result" in attrs:
            values = _values(attrs["result"])
            entry.payloads.append(("result", values[0] if len(values) == 1 else values))
    return handle


def _timer_started(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "timer"
    entry.title = f"Timer #{attrs.get('timerId', '')} started"
    if attrs.get("startToFireTimeout") is not None:
        entry.facts.append(("fires after", _duration(attrs["startToFireTimeout"])))


def _timer_closed(word: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], took: str) -> None:
        entry.category, entry.title = "timer", f"Timer #{attrs.get('timerId', '')} {word}"
        if took:
            entry.facts.append(("after", took))
    return handle


def _signaled(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "signal"
    entry.title = f"Signal {attrs.get('signalName', '')} received"
    if attrs.get("identity"):
        entry.facts.append(("from", str(attrs["identity"])))
    entry.payloads.append(("input", _values(attrs.get("input", {"payloads": []}))))


def _cancel_requested(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category, entry.title, entry.tone = "signal", "Cancellation requested", "warn"
    if attrs.get("cause"):
        entry.facts.append(("cause", str(attrs["cause"])))
    if attrs.get("identity"):
        entry.facts.append(("from", str(attrs["identity"])))


def _child(word: str, tone: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], opened: dict[str, Any], took: str) -> None:
        entry.category = "child"
        workflow_type = _name(attrs.get("workflowType")) or _name(opened.get("workflowType"))
        entry.title = f"Child workflow {workflow_type} {word}"
        if entry.tone != "fail":
            entry.tone = tone
        execution = attrs.get("workflowExecution") or {}
        child_id = execution.get("workflowId") or attrs.get("workflowId") or \
            opened.get("workflowId")
        if child_id:
            entry.links.append((str(child_id), workflow_href(str(child_id),
                                                              execution.get("runId"))))
        if took and word not in ("initiated", "started"):
            entry.facts.append(("took", took))
        if "input" in attrs:
            entry.payloads.append(("input", _values(attrs["input"])))
        if "result" in attrs:
            values = _values(attrs["result"])
            entry.payloads.append(("result", values[0] if len(values) == 1 else values))
    return handle


def _update_accepted(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    request = attrs.get("acceptedRequest") or {}
    entry.category = "update"
    entry.title = f"Update {(request.get('input') or {}).get('name', '')} accepted"
    entry.facts.append(("update id", str((request.get("meta") or {}).get("updateId", ""))))
    entry.payloads.append(("input", _values((request.get("input") or {}).get(
        "args", {"payloads": []}))))


def _update_completed(entry: Entry, attrs: dict[str, Any], opened: dict[str, Any],
                      took: str) -> None:
    request = opened.get("acceptedRequest") or {}
    outcome = attrs.get("outcome") or {}
    entry.category = "update"
    entry.title = f"Update {(request.get('input') or {}).get('name', '')} completed".replace(
        "  ", " ")
    if outcome.get("failure"):
        entry.tone = "fail"
        entry.facts.append(("failure", _failure_message(outcome["failure"])))
    else:
        entry.tone = "ok"
    entry.facts.append(("update id", str((attrs.get("meta") or {}).get("updateId", ""))))
    if took:
        entry.facts.append(("took", took))
    if "success" in outcome:
        values = _values(outcome["success"])
        entry.payloads.append(("result", values[0] if len(values) == 1 else values))


def _marker(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "other"
    name = attrs.get("markerName", "")
    details = attrs.get("details") or {}
    if name == "core_patch":
        data = _values(details.get("patch-data", {"payloads": []}))
        entry.title = "Patch marker"
        if data and isinstance(data[0], dict):
            entry.facts.append(("patch", str(data[0].get("id", ""))))
            if data[0].get("deprecated"):
                entry.facts.append(("deprecated", "yes"))
    elif name == "core_local_activity":
        data = _values(details.get("data", {"payloads": []}))
        info = data[0] if data and isinstance(data[0], dict) else {}
        entry.category = "activity"
        entry.title = f"Local activity {info.get('activity_type', '')} " + (
            "failed" if attrs.get("failure") else "completed")
        if entry.tone != "fail":
            entry.tone = "ok"
        if info.get("attempt"):
            entry.facts.append(("attempt", str(info["attempt"])))
        if "result" in details:
            values = _values(details["result"])
            entry.payloads.append(("result", values[0] if len(values) == 1 else values))
    else:
        entry.title = f"Marker {name}"


def _search_attributes(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any],
                       _t: str) -> None:
    entry.category, entry.title = "other", "Search attributes upserted"
    fields = (attrs.get("searchAttributes") or {}).get("indexedFields") or {}
    entry.payloads.append(("search attributes", _values(fields)))


def _properties(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category, entry.title = "other", "Memo upserted"
    fields = (attrs.get("upsertedMemo") or {}).get("fields") or {}
    entry.payloads.append(("memo", _values(fields)))


def _external(word: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
        entry.category = "signal"
        execution = attrs.get("workflowExecution") or {}
        target = execution.get("workflowId")
        name = attrs.get("signalName")
        entry.title = word + (f" {name}" if name else "") + (f" → {target}" if target else "")
        if target:
            entry.links.append((str(target), workflow_href(str(target),
                                                            execution.get("runId"))))
        if "input" in attrs:
            entry.payloads.append(("input", _values(attrs["input"])))
    return handle


_HANDLERS: dict[str, Any] = {
    "WorkflowExecutionStarted": _started,
    "WorkflowExecutionCompleted": _closed("completed", "ok"),
    "WorkflowExecutionFailed": _closed("failed", "fail"),
    "WorkflowExecutionTimedOut": _closed("timed out", "fail"),
    "WorkflowExecutionCanceled": _closed("canceled", "warn"),
    "WorkflowExecutionTerminated": _closed("terminated", "fail"),
    "WorkflowExecutionContinuedAsNew": _continued,
    "WorkflowExecutionSignaled": _signaled,
    "WorkflowExecutionCancelRequested": _cancel_requested,
    "WorkflowTaskScheduled": _task("scheduled"),
    "WorkflowTaskStarted": _task("started"),
    "WorkflowTaskCompleted": _task("completed"),
    "WorkflowTaskFailed": _task("failed"),
    "WorkflowTaskTimedOut": _task("timed out"),
    "ActivityTaskScheduled": _activity_scheduled,
    "ActivityTaskStarted": _activity_closed("started", "info"),
    "ActivityTaskCompleted": _activity_closed("completed", "ok"),
    "ActivityTaskFailed": _activity_closed("failed", "fail"),
    "ActivityTaskTimedOut": _activity_closed("timed out", "fail"),
    "ActivityTaskCancelRequested": _activity_closed("cancellation requested", "warn"),
    "ActivityTaskCanceled": _activity_closed("canceled", "warn"),
    "TimerStarted": _timer_started,
    "TimerFired": _timer_closed("fired"),
    "TimerCanceled": _timer_closed("canceled"),
    "MarkerRecorded": _marker,
    "UpsertWorkflowSearchAttributes": _search_attributes,
    "WorkflowPropertiesModified": _properties,
    "StartChildWorkflowExecutionInitiated": _child("initiated", "info"),
    "StartChildWorkflowExecutionFailed": _child("failed to start", "fail"),
    "ChildWorkflowExecutionStarted": _child("started", "info"),
    "ChildWorkflowExecutionCompleted": _child("completed", "ok"),
    "ChildWorkflowExecutionFailed": _child("failed", "fail"),
    "ChildWorkflowExecutionCanceled": _child("canceled", "warn"),
    "ChildWorkflowExecutionTimedOut": _child("timed out", "fail"),
    "ChildWorkflowExecutionTerminated": _child("terminated", "fail"),
    "SignalExternalWorkflowExecutionInitiated": _external("Signal sent"),
    "SignalExternalWorkflowExecutionFailed": _external("Signal failed"),
    "ExternalWorkflowExecutionSignaled": _external("Signal delivered"),
    "RequestCancelExternalWorkflowExecutionInitiated": _external("Cancellation sent"),
    "RequestCancelExternalWorkflowExecutionFailed": _external("Cancellation failed"),
    "ExternalWorkflowExecutionCancelRequested": _external("Cancellation delivered"),
    "WorkflowExecutionUpdateAccepted": _update_accepted,
    "WorkflowExecutionUpdateCompleted": _update_completed,
}
