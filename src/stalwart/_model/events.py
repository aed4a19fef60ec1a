"""History events and commands, in Temporal's vocabulary.

A command is what workflow code asks for in one workflow task; each command becomes exactly one
history event of the same type when the task commits, so matching code against history during
replay is a comparison of commands with recorded events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import SimpleNamespace
from typing import Any


class EventType(StrEnum):
    WORKFLOW_EXECUTION_STARTED = "WorkflowExecutionStarted"
    WORKFLOW_EXECUTION_COMPLETED = "WorkflowExecutionCompleted"
    WORKFLOW_EXECUTION_FAILED = "WorkflowExecutionFailed"
    WORKFLOW_EXECUTION_TIMED_OUT = "WorkflowExecutionTimedOut"
    WORKFLOW_EXECUTION_CANCELED = "WorkflowExecutionCanceled"
    WORKFLOW_EXECUTION_TERMINATED = "WorkflowExecutionTerminated"
    WORKFLOW_EXECUTION_CONTINUED_AS_NEW = "WorkflowExecutionContinuedAsNew"
    WORKFLOW_EXECUTION_SIGNALED = "WorkflowExecutionSignaled"
    WORKFLOW_EXECUTION_CANCEL_REQUESTED = "WorkflowExecutionCancelRequested"
    WORKFLOW_TASK_SCHEDULED = "WorkflowTaskScheduled"
    WORKFLOW_TASK_STARTED = "WorkflowTaskStarted"
    WORKFLOW_TASK_COMPLETED = "WorkflowTaskCompleted"
    WORKFLOW_TASK_FAILED = "WorkflowTaskFailed"
    WORKFLOW_TASK_TIMED_OUT = "WorkflowTaskTimedOut"
    ACTIVITY_TASK_SCHEDULED = "ActivityTaskScheduled"
    ACTIVITY_TASK_STARTED = "ActivityTaskStarted"
    ACTIVITY_TASK_COMPLETED = "ActivityTaskCompleted"
    ACTIVITY_TASK_FAILED = "ActivityTaskFailed"
    ACTIVITY_TASK_TIMED_OUT = "ActivityTaskTimedOut"
    ACTIVITY_TASK_CANCEL_REQUESTED = "ActivityTaskCancelRequested"
    ACTIVITY_TASK_CANCELED = "ActivityTaskCanceled"
    TIMER_STARTED = "TimerStarted"
    TIMER_FIRED = "TimerFired"
    TIMER_CANCELED = "TimerCanceled"
    MARKER_RECORDED = "MarkerRecorded"
    START_CHILD_WORKFLOW_EXECUTION_INITIATED = "StartChildWorkflowExecutionInitiated"
    START_CHILD_WORKFLOW_EXECUTION_FAILED = "StartChildWorkflowExecutionFailed"
    CHILD_WORKFLOW_EXECUTION_STARTED = "ChildWorkflowExecutionStarted"
    CHILD_WORKFLOW_EXECUTION_COMPLETED = "ChildWorkflowExecutionCompleted"
    CHILD_WORKFLOW_EXECUTION_FAILED = "ChildWorkflowExecutionFailed"
    CHILD_WORKFLOW_EXECUTION_CANCELED = "ChildWorkflowExecutionCanceled"
    CHILD_WORKFLOW_EXECUTION_TIMED_OUT = "ChildWorkflowExecutionTimedOut"
    CHILD_WORKFLOW_EXECUTION_TERMINATED = "ChildWorkflowExecutionTerminated"
    SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED = "SignalExternalWorkflowExecutionInitiated"
    SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED = "SignalExternalWorkflowExecutionFailed"
    EXTERNAL_WORKFLOW_EXECUTION_SIGNALED = "ExternalWorkflowExecutionSignaled"
    REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED = (
        "RequestCancelExternalWorkflowExecutionInitiated")
    REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED = (
        "RequestCancelExternalWorkflowExecutionFailed")
    EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED = "ExternalWorkflowExecutionCancelRequested"
    WORKFLOW_EXECUTION_UPDATE_ACCEPTED = "WorkflowExecutionUpdateAccepted"
    WORKFLOW_EXECUTION_UPDATE_COMPLETED = "WorkflowExecutionUpdateCompleted"
    UPSERT_WORKFLOW_SEARCH_ATTRIBUTES = "UpsertWorkflowSearchAttributes"
    WORKFLOW_PROPERTIES_MODIFIED = "WorkflowPropertiesModified"


# The members again, as plain attributes. Reading a member off an Enum class goes through
# ``EnumType.__getattr__`` in Python 3.11 (about 0.1 µs, several times a plain attribute); the
# code that runs once per event (history expansion and compaction, replay, the length count,
# the store's operations) reads them from here. The same objects: ``EV.X is EventType.X``.
EV: Any = SimpleNamespace(**EventType.__members__)

# An ActivityTaskScheduled command attribute that keeps the activity off the worker's eager
# start; read when the task's decisions are made and left out of the recorded event.
NO_EAGER = "disable_eager_execution"


# Events produced by workflow code (commands). Everything else is an input to workflow code.
COMMAND_EVENT_TYPES = frozenset({
    EventType.WORKFLOW_EXECUTION_COMPLETED,
    EventType.WORKFLOW_EXECUTION_FAILED,
    EventType.WORKFLOW_EXECUTION_CANCELED,
    EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    EventType.ACTIVITY_TASK_SCHEDULED,
    EventType.ACTIVITY_TASK_CANCEL_REQUESTED,
    EventType.TIMER_STARTED,
    EventType.TIMER_CANCELED,
    EventType.MARKER_RECORDED,
    EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
    EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    EventType.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    EventType.WORKFLOW_PROPERTIES_MODIFIED,
})

# Events that close a run.
CLOSE_EVENT_TYPES = frozenset({
    EventType.WORKFLOW_EXECUTION_COMPLETED,
    EventType.WORKFLOW_EXECUTION_FAILED,
    EventType.WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.WORKFLOW_EXECUTION_CANCELED,
    EventType.WORKFLOW_EXECUTION_TERMINATED,
    EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
})


@dataclass(slots=True)
class HistoryEvent:
    """One event: as stored (compact, payloads in their store form) or, as users see it, in
    Temporal's model (``temporal_history.to_temporal``: attributes in proto3 JSON form)."""

    event_id: int
    event_type: str
    timestamp: float
    attributes: dict[str, Any] = field(default_factory=dict)
    # Temporal's event-level ``eventGroupMarkers`` (proto3 JSON form): the Event Groups of
    # the command that made the event. Only on events in Temporal's model; the stored command
    # keeps them in its ``event_groups`` attribute.
    event_group_markers: list[dict[str, Any]] | None = None
    # Temporal's event-level ``userMetadata`` (proto3 JSON form): the summary (and details)
    # given to the activity, timer, child or workflow the event starts. Only on events in
    # Temporal's model; the stored command keeps them in its own attributes.
    metadata: dict[str, Any] | None = None


@dataclass(slots=True)
class Command:
    """One thing workflow code asked for; becomes one event of ``event_type``."""

    event_type: str
    attributes: dict[str, Any]

    def key(self) -> tuple[Any, ...]:
        return command_key(self.event_type, self.attributes)


def command_key(event_type: str, attributes: dict[str, Any]) -> tuple[Any, ...]:
    """What must be equal between a replayed command and its recorded event."""
    if event_type == EventType.ACTIVITY_TASK_SCHEDULED:
        return (event_type, attributes["seq"], attributes["activity_type"])
    if event_type in (EventType.ACTIVITY_TASK_CANCEL_REQUESTED, EventType.TIMER_STARTED,
                      EventType.TIMER_CANCELED):
        return (event_type, attributes["seq"])
    if event_type == EventType.MARKER_RECORDED:
        return (event_type, attributes["marker_name"], attributes.get("patch_id"))
    if event_type == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        return (event_type, attributes["seq"], attributes["workflow_type"])
    if event_type in (EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
                      EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED):
        return (event_type, attributes["seq"])
    if event_type == EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
        return (event_type, attributes["update_id"])
    return (event_type,)


def describe_command(event_type: str, attributes: dict[str, Any]) -> str:
    """Readable one-line form used in nondeterminism errors."""
    if event_type == EventType.ACTIVITY_TASK_SCHEDULED:
        return f"{event_type}(activity #{attributes['seq']} {attributes['activity_type']!r})"
    if event_type in (EventType.TIMER_STARTED, EventType.TIMER_CANCELED,
                      EventType.ACTIVITY_TASK_CANCEL_REQUESTED):
        return f"{event_type}(#{attributes['seq']})"
    if event_type == EventType.MARKER_RECORDED:
        return f"{event_type}({attributes['marker_name']} {attributes.get('patch_id')!r})"
    if event_type == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        return f"{event_type}(child #{attributes['seq']} {attributes['workflow_type']!r})"
    if "seq" in attributes:
        return f"{event_type}(#{attributes['seq']})"
    return str(event_type)


RPC_STATUS_KEY = "stalwart_rpc_status"
"""Set on an update's stored failure when its caller gets an ``RPCError`` with this status
instead of the failure (as Temporal's server answers such an update with an RPC error)."""
