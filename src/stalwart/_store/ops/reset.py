"""Reset and fork: a new run whose history is a prefix of another run's, carried on from there.

The engine names the point (a stored ``WorkflowTaskCompleted`` or ``WorkflowTaskFailed``);
everything before it is copied, then a ``WorkflowTaskFailed`` with cause ``RESET_WORKFLOW``
(as Temporal records a reset) and a fresh workflow task re-run that task. What was pending at
the point (activities, timers) is pending again; signals and updates after it are reapplied.
"""

from __future__ import annotations

from dataclasses import dataclass

from ... import exceptions as exc
from ..._model.events import EventType, HistoryEvent
from ..base import ExecutionStatus
from ..tx import Tx, dumps, loads
from .executions import (
    append_event,
    first_workflow_task,
    get_history,
    insert_inbox,
    lock_workflow_id,
    read_inbox,
    terminate,
    timeouts_deadline,
)
from .search_attributes import write_search_attributes

# Temporal's identity for what its resetter writes.
RESETTER_IDENTITY = "history-resetter"

_ACTIVITY_CLOSE = frozenset({
    EventType.ACTIVITY_TASK_COMPLETED, EventType.ACTIVITY_TASK_FAILED,
    EventType.ACTIVITY_TASK_TIMED_OUT, EventType.ACTIVITY_TASK_CANCELED})
_CHILD_DONE = frozenset({
    EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED,
    EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED, EventType.CHILD_WORKFLOW_EXECUTION_FAILED,
    EventType.CHILD_WORKFLOW_EXECUTION_CANCELED, EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED})


@dataclass
class ResetRequest:
    workflow_id: str
    base_run_id: str
    # The stored event the new run stops before: a WorkflowTaskCompleted or WorkflowTaskFailed.
    point: int
    new_run_id: str
    reason: str
    identity: str
    reapply_signals: bool = True
    reapply_updates: bool = True
    # A fork: the new run gets this workflow id and the base's workflow is left alone.
    fork_workflow_id: str | None = None


_BASE_COLUMNS = ("workflow_type, task_queue, start_time, first_run_id, continued_run_id, "
                 "execution_deadline, parent_workflow_id, parent_run_id, parent_seq, "
                 "parent_close_policy, search_attributes, memo, priority, status")


def reset_workflow(tx: Tx, request: ResetRequest, now: float) -> str:
    """Make the new run; for a reset (not a fork) terminate the workflow's open run first."""
    lock_workflow_id(tx, request.workflow_id)
    fork = request.fork_workflow_id
    if fork is not None:
        lock_workflow_id(tx, fork)
    base = tx.one(f"SELECT {_BASE_COLUMNS} FROM executions WHERE run_id = ? AND "
                  "workflow_id = ?", (request.base_run_id, request.workflow_id))
    if base is None:
        raise exc.WorkflowNotFoundError(
            f"workflow {request.workflow_id!r} run {request.base_run_id!r} not found")
    (workflow_type, task_queue, _, first_run_id, continued_run_id, deadline, parent_wf,
     parent_run, parent_seq, parent_policy, search_attributes, memo, priority, status) = base
    events = get_history(tx, request.base_run_id, 0, None)
    at = next((e for e in events if e.event_id == request.point), None)
    if at is None or at.event_type not in (EventType.WORKFLOW_TASK_COMPLETED,
                                           EventType.WORKFLOW_TASK_FAILED):
        raise ValueError(f"event {request.point} of run {request.base_run_id} is not a "
                         "workflow task; reset to a workflow task's event")
    prefix = [e for e in events if e.event_id < request.point]
    later = [e for e in events if e.event_id >= request.point]
    if status == ExecutionStatus.RUNNING:
        # Inputs no task has taken yet come after the point too.
        later += [e.as_history_event() for e in read_inbox(tx, request.base_run_id, 0)]
    _refuse_pending_children(prefix, request)
    workflow_id = fork or request.workflow_id
    open_row = tx.one("SELECT run_id FROM executions WHERE workflow_id = ? AND status = 1",
                      (workflow_id,))
    if open_row is not None:
        if fork is not None:
            raise exc.WorkflowAlreadyStartedError(fork, workflow_type, run_id=open_row[0])
        terminate(tx, workflow_id, open_row[0], request.reason, [], RESETTER_IDENTITY, now)
    new_run = request.new_run_id
    tx.run(
        "INSERT INTO executions (run_id, workflow_id, workflow_type, task_queue, status, "
        "start_time, first_run_id, continued_run_id, next_event_id, execution_deadline, "
        "parent_workflow_id, parent_run_id, parent_seq, parent_close_policy, "
        "search_attributes, memo, priority, base_run_id) "
        "VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?)",
        (new_run, workflow_id, workflow_type, task_queue, now,
         new_run if fork is not None else first_run_id,
         None if fork is not None else continued_run_id,
         request.point + 1, deadline,
         None if fork is not None else parent_wf, None if fork is not None else parent_run,
         None if fork is not None else parent_seq,
         parent_policy if fork is None else 1, memo, priority, request.base_run_id))
    if search_attributes:
        write_search_attributes(tx, new_run, loads(search_attributes))
    started = dict(prefix[0].attributes)
    started["original_run_id"] = started.get("original_run_id") or request.base_run_id
    if fork is not None:
        # A fork begins a chain of its own: no parent, no run it continued.
        started.update(workflow_id=fork, first_run_id=new_run, parent=None,
                       continued_run_id=None)
    append_event(tx, new_run, 1, EventType.WORKFLOW_EXECUTION_STARTED, prefix[0].timestamp,
                 started)
    tx.run("INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
           "SELECT ?, event_id, event_type, timestamp, attributes FROM history "
           "WHERE run_id = ? AND event_id > 1 AND event_id < ?",
           (new_run, request.base_run_id, request.point))
    append_event(tx, new_run, request.point, EventType.WORKFLOW_TASK_FAILED, now, {
        "cause": "RESET_WORKFLOW", "base_run_id": request.base_run_id, "new_run_id": new_run,
        # Temporal writes its reset's task failure as the history service.
        "identity": "history-service", "requested_by": request.identity,
        "failure": {"message": request.reason, "source": "Stalwart",
                    "reset_workflow_failure_info": {}}})
    _restore_pending(tx, new_run, workflow_id, workflow_type, prefix, priority, now)
    for event in later:
        _reapply(tx, new_run, event, request, now)
    if fork is None:
        tx.run("UPDATE executions SET reset_run_id = ? WHERE run_id = ?",
               (new_run, request.base_run_id))
    first_workflow_task(tx, new_run, task_queue, now)
    return new_run


def _refuse_pending_children(prefix: list[HistoryEvent], request: ResetRequest) -> None:
    started = {e.attributes["seq"]: e for e in prefix
               if e.event_type == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED}
    for event in prefix:
        if event.event_type in _CHILD_DONE:
            started.pop(event.attributes.get("seq"), None)
    if started:
        child = next(iter(started.values()))
        raise ValueError(
            f"cannot reset run {request.base_run_id} to event {request.point}: child "
            f"workflow {child.attributes.get('workflow_id')!r} was running at that point and "
            "a reset does not take running children along; reset to a workflow task before "
            "the child started or after it closed")


def _restore_pending(tx: Tx, run_id: str, workflow_id: str, workflow_type: str,
                     prefix: list[HistoryEvent], priority: int | None, now: float) -> None:
    """Activities and timers pending at the point are pending in the new run: activities
    start again from attempt 1, timers keep the time they were due."""
    activities: dict[int, HistoryEvent] = {}
    cancelled: set[int] = set()
    timers: dict[int, HistoryEvent] = {}
    for event in prefix:
        etype, seq = event.event_type, event.attributes.get("seq", -1)
        if etype == EventType.ACTIVITY_TASK_SCHEDULED:
            activities[seq] = event
        elif etype in _ACTIVITY_CLOSE:
            activities.pop(seq, None)
        elif etype == EventType.ACTIVITY_TASK_CANCEL_REQUESTED:
            cancelled.add(seq)
        elif etype == EventType.TIMER_STARTED:
            timers[seq] = event
        elif etype in (EventType.TIMER_FIRED, EventType.TIMER_CANCELED):
            timers.pop(seq, None)
    for seq, event in activities.items():
        attrs = event.attributes
        if seq in cancelled:
            insert_inbox(tx, run_id, EventType.ACTIVITY_TASK_CANCELED, now, {
                "seq": seq, "failure": {
                    "message": "Activity cancelled", "source": "Stalwart",
                    "activity_failure_info": {"activity_id": str(seq)},
                    "cause": {"message": "Activity cancelled", "canceled_failure_info": {}}}})
            continue
        options = {key: attrs.get(key) for key in (
            "schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout",
            "heartbeat_timeout", "retry_policy", "cancellation_type", "local", "header",
            "priority")}
        deadline = timeouts_deadline(options, now, now, None, None)
        tx.run("INSERT INTO activity_tasks (run_id, seq, task_queue, workflow_id, "
               "workflow_type, activity_type, activity_id, input, options, attempt, "
               "scheduled_at, attempt_scheduled_at, visible_at, deadline_at, priority) "
               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
               (run_id, seq, attrs["task_queue"], workflow_id, workflow_type,
                attrs["activity_type"], attrs["activity_id"], dumps(attrs["input"]),
                dumps(options), now, now, now, deadline,
                options.get("priority") or priority or 3))
        tx.wake("activity_task", attrs["task_queue"])
        tx.due(deadline)
    for seq, event in timers.items():
        fire_at = event.timestamp + float(event.attributes["start_to_fire_timeout"])
        tx.run("INSERT INTO timers (run_id, seq, fire_at) VALUES (?, ?, ?)",
               (run_id, seq, fire_at))
        tx.due(fire_at)


def _reapply(tx: Tx, run_id: str, event: HistoryEvent, request: ResetRequest,
             now: float) -> None:
    if event.event_type == EventType.WORKFLOW_EXECUTION_SIGNALED and request.reapply_signals:
        insert_inbox(tx, run_id, event.event_type, event.timestamp, event.attributes)
    elif (event.event_type == EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED
          and request.reapply_updates):
        # Validated and run again by the new run, as Temporal reapplies an accepted update.
        attrs = event.attributes
        tx.run("INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
               "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (run_id, update_id) DO NOTHING",
               (run_id, attrs["update_id"], attrs["name"], dumps(attrs.get("input") or []),
                now))


def reset_links(tx: Tx, run_id: str) -> tuple[str | None, str | None, str | None]:
    """(base workflow id, base run id, reset run id) of a run; Nones where it has none."""
    row = tx.one("SELECT b.workflow_id, e.base_run_id, e.reset_run_id FROM executions e "
                 "LEFT JOIN executions b ON b.run_id = e.base_run_id WHERE e.run_id = ?",
                 (run_id,))
    if row is None:
        return None, None, None
    return row[0], row[1], row[2]
