"""History events as readable timeline entries for the workflow page.

An entry names what happened in words ("Activity fetch completed"), with the facts a person
looks for (attempt, how long it took, the failure message), links to related runs, and the
payloads it carries, already decoded. Durations need the event that opened the activity, timer,
child or update; when that event is on an earlier page the caller passes it in ``openers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from .._model.events import HistoryEvent
from .paths import id_segment
from .payloads import decode_payloads, iso

_SEQ_OPENER = {
    "Activity": "ActivityTaskScheduled",
    "Timer": "TimerStarted",
    "ChildWorkflow": "StartChildWorkflowExecutionInitiated",
}


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


def opener_key(event: HistoryEvent) -> tuple[str, Any] | None:
    """The key under which a later event finds the event that opened it."""
    attrs = event.attributes
    if event.event_type == "WorkflowExecutionUpdateAccepted":
        return ("update", attrs.get("update_id"))
    for prefix, opening in _SEQ_OPENER.items():
        if event.event_type == opening:
            return (prefix, attrs.get("seq"))
    return None


def needed_openers(events: Iterable[HistoryEvent]) -> tuple[list[int], list[str]]:
    """Seqs and update ids that closing events on this page refer to."""
    seqs: set[int] = set()
    updates: set[str] = set()
    for event in events:
        attrs = event.attributes
        if event.event_type == "WorkflowExecutionUpdateCompleted":
            if isinstance(attrs.get("update_id"), str):
                updates.add(attrs["update_id"])
        elif isinstance(attrs.get("seq"), int) and opener_key(event) is None:
            seqs.add(attrs["seq"])
    return sorted(seqs), sorted(updates)


def _kind(event_type: str) -> str:
    for prefix in ("Activity", "Timer", "ChildWorkflow", "StartChildWorkflow"):
        if event_type.startswith(prefix):
            return "ChildWorkflow" if "Child" in prefix else prefix
    return ""


class Timeline:
    """Builds entries for consecutive pages of one run's history."""

    def __init__(self, run_start: float,
                 openers: dict[tuple[str, Any], HistoryEvent] | None = None) -> None:
        self._start = run_start
        self._openers: dict[tuple[str, Any], HistoryEvent] = dict(openers or {})

    def entries(self, events: Iterable[HistoryEvent]) -> list[Entry]:
        out = []
        for event in events:
            key = opener_key(event)
            if key is not None:
                self._openers[key] = event
            out.append(self._entry(event))
        return out

    def _opener(self, event: HistoryEvent) -> HistoryEvent | None:
        attrs = event.attributes
        if event.event_type == "WorkflowExecutionUpdateCompleted":
            return self._openers.get(("update", attrs.get("update_id")))
        kind = _kind(event.event_type)
        return self._openers.get((kind, attrs.get("seq"))) if kind else None

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
        else:
            entry.title = etype
        if failure is not None:
            entry.payloads.append(("failure", decode_payloads(failure)))
        return entry


def _started(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category, entry.title = "workflow", f"Workflow {attrs.get('workflow_type', '')} started"
    entry.facts.append(("task queue", str(attrs.get("task_queue", ""))))
    if attrs.get("execution_timeout"):
        entry.facts.append(("execution timeout", format_duration(attrs["execution_timeout"])))
    if attrs.get("continued_run_id"):
        entry.links.append(("continued from run", workflow_href(
            str(attrs.get("workflow_id", "")), str(attrs["continued_run_id"]))))
    if attrs.get("parent_workflow_id"):
        entry.links.append((f"parent {attrs['parent_workflow_id']}", workflow_href(
            str(attrs["parent_workflow_id"]), attrs.get("parent_run_id"))))
    entry.payloads.append(("input", decode_payloads(attrs.get("input", []))))


def _closed(word: str, tone: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
        entry.category, entry.title = "workflow", f"Workflow {word}"
        entry.tone = tone
        if "result" in attrs:
            entry.payloads.append(("result", decode_payloads(attrs["result"])))
        if attrs.get("reason"):
            entry.facts.append(("reason", str(attrs["reason"])))
        if attrs.get("details"):
            entry.payloads.append(("details", decode_payloads(attrs["details"])))
    return handle


def _continued(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category, entry.title, entry.tone = "workflow", "Workflow continued as new", "ok"
    if attrs.get("new_execution_run_id"):
        entry.links.append(("next run", f"?run_id={quote(str(attrs['new_execution_run_id']))}"))
    entry.payloads.append(("input of next run", decode_payloads(attrs.get("input", []))))


def _task(word: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
        entry.category, entry.title = "task", f"Workflow task {word}"
        if attrs.get("identity"):
            entry.facts.append(("worker", str(attrs["identity"])))
    return handle


def _activity_scheduled(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any],
                        _t: str) -> None:
    entry.category = "activity"
    entry.title = f"Activity {attrs.get('activity_type', '')} scheduled"
    entry.facts.append(("activity", f"#{attrs.get('seq')}"))
    if attrs.get("task_queue"):
        entry.facts.append(("task queue", str(attrs["task_queue"])))
    for name in ("start_to_close_timeout", "schedule_to_close_timeout", "heartbeat_timeout"):
        if attrs.get(name):
            entry.facts.append((name.replace("_", " "), format_duration(attrs[name])))
    entry.payloads.append(("input", decode_payloads(attrs.get("input", []))))


def _activity_closed(word: str, tone: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], opened: dict[str, Any], took: str) -> None:
        entry.category = "activity"
        entry.title = f"Activity {opened.get('activity_type', '#' + str(attrs.get('seq')))} {word}"
        if entry.tone != "fail":
            entry.tone = tone
        if attrs.get("attempt"):
            entry.facts.insert(0, ("attempt", str(attrs["attempt"])))
        if took:
            entry.facts.insert(0, ("took", took))
        if attrs.get("identity"):
            entry.facts.append(("worker", str(attrs["identity"])))
        if "result" in attrs:
            entry.payloads.append(("result", decode_payloads(attrs["result"])))
    return handle


def _timer_started(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "timer"
    entry.title = f"Timer #{attrs.get('seq')} started"
    if attrs.get("start_to_fire_timeout") is not None:
        entry.facts.append(("fires after", format_duration(attrs["start_to_fire_timeout"])))


def _timer_closed(word: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], took: str) -> None:
        entry.category, entry.title = "timer", f"Timer #{attrs.get('seq')} {word}"
        if took:
            entry.facts.append(("after", took))
    return handle


def _signaled(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "signal"
    entry.title = f"Signal {attrs.get('signal_name', '')} received"
    if attrs.get("identity"):
        entry.facts.append(("from", str(attrs["identity"])))
    entry.payloads.append(("input", decode_payloads(attrs.get("input", []))))


def _cancel_requested(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category, entry.title, entry.tone = "signal", "Cancellation requested", "warn"
    if attrs.get("cause"):
        entry.facts.append(("cause", str(attrs["cause"])))
    if attrs.get("identity"):
        entry.facts.append(("from", str(attrs["identity"])))


def _child(word: str, tone: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], opened: dict[str, Any], took: str) -> None:
        entry.category = "child"
        workflow_type = attrs.get("workflow_type") or opened.get("workflow_type", "")
        entry.title = f"Child workflow {workflow_type} {word}"
        if entry.tone != "fail":
            entry.tone = tone
        child_id = attrs.get("workflow_id") or opened.get("workflow_id")
        if child_id:
            entry.links.append((str(child_id), workflow_href(str(child_id),
                                                              attrs.get("run_id"))))
        if took and word not in ("initiated", "started"):
            entry.facts.append(("took", took))
        if "input" in attrs:
            entry.payloads.append(("input", decode_payloads(attrs["input"])))
        if "result" in attrs:
            entry.payloads.append(("result", decode_payloads(attrs["result"])))
    return handle


def _update_accepted(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "update"
    entry.title = f"Update {attrs.get('name', '')} accepted"
    entry.facts.append(("update id", str(attrs.get("update_id", ""))))
    entry.payloads.append(("input", decode_payloads(attrs.get("input", []))))


def _update_completed(entry: Entry, attrs: dict[str, Any], opened: dict[str, Any],
                      took: str) -> None:
    entry.category = "update"
    entry.title = f"Update {opened.get('name', '')} completed".replace("  ", " ")
    if entry.tone != "fail":
        entry.tone = "ok"
    entry.facts.append(("update id", str(attrs.get("update_id", ""))))
    if took:
        entry.facts.append(("took", took))
    if "result" in attrs:
        entry.payloads.append(("result", decode_payloads(attrs["result"])))


def _marker(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
    entry.category = "other"
    entry.title = f"Marker {attrs.get('marker_name', '')}"
    if attrs.get("patch_id"):
        entry.facts.append(("patch", str(attrs["patch_id"])))


def _external(word: str) -> Any:
    def handle(entry: Entry, attrs: dict[str, Any], _o: dict[str, Any], _t: str) -> None:
        entry.category = "signal"
        target = attrs.get("workflow_id")
        name = attrs.get("signal_name")
        entry.title = word + (f" {name}" if name else "") + (f" → {target}" if target else "")
        if target:
            entry.links.append((str(target), workflow_href(str(target), attrs.get("run_id"))))
        if "input" in attrs:
            entry.payloads.append(("input", decode_payloads(attrs["input"])))
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
    "WorkflowTaskCompleted": _task("completed"),
    "WorkflowTaskFailed": _task("failed"),
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
