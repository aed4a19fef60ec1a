"""Committing a workflow task: its inbox into history, then each decision's event and rows.

The decisions arrive already made by the engine (``_engine/decisions.py``); each kind of
effect has one small ``_apply_<kind>`` here that writes its rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._model.events import EV
from .. import base
from ..base import ActivityTaskClaim, CompletionResult, ExecutionStatus, WorkflowTaskCompletion
from ..tx import Pending, Tx, dumps
from . import payloads, streams
from .claims import claim_one_workflow_task
from .executions import (
    CHAINED_TASK_LEASE_SECONDS,
    RUN_PRIORITY,
    CloseReads,
    close_run,
    event_row,
    insert_events,
    insert_inbox,
    start_next_run,
    timeouts_deadline,
)
from .messages import send_external, start_child
from .search_attributes import upsert_memo, upsert_search_attributes


@dataclass
class _Run:
    """The run a workflow task commits to, as the decisions' rows need it."""

    run_id: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    first_run_id: str
    deadline: float | None
    priority: int | None  # as given to the run or its parent; None: the default
    worker_id: str
    now: float
    result: CompletionResult
    closing: CloseReads | None  # ``close_reads``


# The run's columns a workflow task's commit needs, read with the run's row lock.
RUN_FOR_TASK_SQL = ("SELECT status, workflow_id, workflow_type, task_queue, next_event_id, "
                    "first_run_id, execution_deadline, priority FROM executions WHERE run_id = ?")


def complete_workflow_task(tx: Tx, completion: WorkflowTaskCompletion,
                           now: float) -> CompletionResult:
    run_id = completion.run_id
    # The run's row first, then its task's: the lock order of every operation. Both go out
    # together (one round trip where the driver pipelines); what input waits is read with
    # the task, once the run's lock is held, so nothing can add to it before the commit.
    locking = tx.later(RUN_FOR_TASK_SQL + tx.dialect.for_update, (run_id,))
    leased = _lock_task(tx, completion)
    closing = close_reads(tx, completion)
    execution = locking.one()
    task = leased.one()
    if task is None or task[0] != completion.worker_id:
        return CompletionResult(False, "lease lost")
    if execution is None or execution[0] != ExecutionStatus.RUNNING:
        tx.run("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))
        return CompletionResult(False, "workflow closed")
    _, attempt, taken, newer, newer_signal, updates_waiting = task
    if newer_signal and closing is not None:
        # A signal arrived while the workflow decided to finish: let it see the signal first.
        tx.run("UPDATE workflow_tasks SET lease_owner = NULL, visible_at = ? WHERE run_id = ?",
               (now, run_id))
        tx.wake("workflow_task", execution[3])
        return CompletionResult(False, "unhandled signal")
    event_id = execution[4]
    # Nothing happened (say, an update its validator rejected): leave no trace in history.
    # (A retry after a failed or timed-out attempt is recorded, as Temporal records it.)
    quiet = (not completion.inbox_max_id and not completion.decisions
             and not completion.accepted_updates and event_id > 2 and attempt == 1)
    if completion.inbox_max_id:
        # Deferred, the DELETE with the INSERT: the INSERT reads the rows as they were before.
        tx.defer("INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
                 "SELECT run_id, ? + ROW_NUMBER() OVER (ORDER BY id) - 1, event_type, "
                 "timestamp, attributes FROM inbox WHERE run_id = ? AND id <= ?",
                 (event_id, run_id, completion.inbox_max_id))
        tx.defer("DELETE FROM inbox WHERE run_id = ? AND id <= ?",
                 (run_id, completion.inbox_max_id))
        event_id += taken
    return record_workflow_task(tx, completion, execution, event_id,
                                bool(newer or updates_waiting), now, quiet=quiet,
                                closing=closing)


def closes_run(completion: WorkflowTaskCompletion) -> bool:
    return any(isinstance(decision.effect, base.CloseRun) for decision in completion.decisions)


def close_reads(tx: Tx, completion: WorkflowTaskCompletion) -> CloseReads | None:
    """If the task closes its run, what closing it reads, sent with the task's locks."""
    return CloseReads(tx, completion.run_id) if closes_run(completion) else None


def _lock_task(tx: Tx, completion: WorkflowTaskCompletion) -> Pending:
    """Lock the run's workflow task: (lease owner, attempt, inbox rows the task took, whether
    newer inbox rows wait, whether a signal is among them, whether updates the task did not
    settle wait)."""
    run_id, taken = completion.run_id, completion.inbox_max_id
    settled = [update_id for update_id, _ in completion.rejected_updates] + \
        [accepted.attributes["update_id"] for accepted in completion.accepted_updates]
    unsettled, params = "", ()
    if settled:
        among, params = tx.dialect.in_("update_id", settled)
        unsettled = f" AND NOT ({among})"
    return tx.later(
        "SELECT lease_owner, attempt, "
        "(SELECT COUNT(*) FROM inbox WHERE run_id = ? AND id <= ?), "
        "EXISTS (SELECT 1 FROM inbox WHERE run_id = ? AND id > ?), "
        "EXISTS (SELECT 1 FROM inbox WHERE run_id = ? AND id > ? AND event_type = ?), "
        f"EXISTS (SELECT 1 FROM updates WHERE run_id = ? AND state = 0{unsettled}) "
        "FROM workflow_tasks WHERE run_id = ?" + tx.dialect.for_update,
        (run_id, taken, run_id, taken, run_id, taken, EV.WORKFLOW_EXECUTION_SIGNALED, run_id,
         *params, run_id))


def record_workflow_task(tx: Tx, completion: WorkflowTaskCompletion, execution: Any,
                         event_id: int, more: bool, now: float, *, quiet: bool = False,
                         has_task: bool = True, events: list[tuple[Any, ...]] | None = None,
                         closing: CloseReads | None = None) -> CompletionResult:
    """Write a workflow task's outcome to its run, locked as ``execution``
    (``RUN_FOR_TASK_SQL``'s row), from ``event_id`` on: what came before it (the input it
    took) is in history or in ``events``, history rows still to write (``event_row``).
    ``more``: input the task did not take waits (read under the run's lock). ``has_task``:
    the run's workflow task row exists (the fast path of an activity's result commits
    without one). ``closing``: ``close_reads``, if the task closes the run."""
    events = [] if events is None else events
    run_id = completion.run_id
    (_, workflow_id, workflow_type, task_queue, _, first_run_id, deadline,
     priority) = execution
    inputs_before = tx.inputs_added
    for update_id, update_failure in completion.rejected_updates:
        tx.run("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND update_id = ?",
               (dumps(update_failure), run_id, update_id))
        tx.wake("update", update_id)
    if completion.stream_items:
        streams.publish(tx, run_id, list(completion.stream_items), now)
    if quiet:
        insert_events(tx, events)
        result = CompletionResult(True, history_length=event_id - 1)
        finish_workflow_task(tx, completion, task_queue, now, result, more, has_task)
        return result
    for accepted in completion.accepted_updates:
        events.append(event_row(tx, run_id, event_id, accepted.event_type, now,
                                accepted.attributes))
        event_id += 1
        tx.run("UPDATE updates SET state = 1 WHERE run_id = ? AND update_id = ?",
               (run_id, accepted.attributes["update_id"]))
    events.append(event_row(tx, run_id, event_id, EV.WORKFLOW_TASK_COMPLETED, now, {
        "workflow_time": completion.workflow_time, "identity": completion.identity}))
    event_id += 1
    run = _Run(run_id, workflow_id, workflow_type, task_queue, first_run_id, deadline,
               priority, completion.worker_id, now, CompletionResult(True), closing)
    for decision in completion.decisions:
        events.append(event_row(tx, run_id, event_id, decision.event_type, now,
                                decision.attributes))
        event_id += 1
        if isinstance(decision.effect, base.CloseRun):
            insert_events(tx, events)
            _apply_close(tx, run, decision.effect, event_id)
            run.result.history_length = event_id - 1
            return run.result
        if decision.effect is not None:
            _APPLY[type(decision.effect)](tx, run, decision.effect)
    insert_events(tx, events)
    run.result.history_length = event_id - 1
    run.result.run_row = tuple(execution)
    # The worker whose cache now holds the run: the run's next tasks are offered to it first.
    tx.defer("UPDATE executions SET next_event_id = ?, affinity = ? WHERE run_id = ?",
             (event_id, completion.worker_id, run_id))
    if tx.inputs_added != inputs_before and not more:
        # A decision gave the run input of its own (an activity cancelled before it started).
        more = bool(tx.one("SELECT EXISTS (SELECT 1 FROM inbox WHERE run_id = ?)",
                           (run_id,))[0])
    finish_workflow_task(tx, completion, task_queue, now, run.result, more, has_task)
    return run.result


def finish_workflow_task(tx: Tx, completion: WorkflowTaskCompletion, task_queue: str,
                         now: float, result: CompletionResult, more: bool,
                         has_task: bool = True) -> None:
    """Keep the run's workflow task if more input waits (claimed at once by the same worker,
    whose cache is warm), else delete it."""
    run_id = completion.run_id
    if not more:
        if has_task:
            tx.defer("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))
        return
    if not has_task:
        # As the row the task would have had (a decision that gave the run input may have
        # made one already).
        tx.run("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity, "
               f"priority) VALUES (?, ?, ?, ?, {RUN_PRIORITY}) ON CONFLICT (run_id) "
               "DO UPDATE SET affinity = excluded.affinity",
               (run_id, task_queue, now, completion.worker_id, run_id))
    if completion.claim_next_task:
        tx.run("UPDATE workflow_tasks SET attempt = 1 WHERE run_id = ?", (run_id,))
        result.next_task = claim_one_workflow_task(tx, run_id, completion.worker_id, now,
                                                   CHAINED_TASK_LEASE_SECONDS)
    else:
        tx.run("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
               "visible_at = ?, attempt = 1 WHERE run_id = ?", (now, run_id))
        tx.wake("workflow_task", task_queue)


def _apply_schedule_activity(tx: Tx, run: _Run, activity: base.ScheduleActivity) -> None:
    now = run.now
    started_at = now if activity.eager else None
    deadline = timeouts_deadline(activity.options, now, now, started_at, None)
    tx.defer("INSERT INTO activity_tasks (run_id, seq, task_queue, workflow_id, workflow_type, "
             "activity_type, activity_id, input, options, attempt, scheduled_at, "
             "attempt_scheduled_at, visible_at, lease_owner, started_at, deadline_at, priority) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
             (run.run_id, activity.seq, activity.task_queue, run.workflow_id, run.workflow_type,
              activity.activity_type, activity.activity_id,
              # The input is in history too: the same blobs, so the row costs a reference.
              payloads.pack(tx, run.run_id, activity.input),
              dumps(activity.options), now, now, now,
              run.worker_id if activity.eager else None, started_at, deadline,
              # As in Temporal, an activity without its own priority takes its workflow's.
              activity.options.get("priority") or run.priority or base.DEFAULT_PRIORITY))
    if activity.eager:
        run.result.eager_activities.append(ActivityTaskClaim(
            run_id=run.run_id, seq=activity.seq, workflow_id=run.workflow_id,
            workflow_type=run.workflow_type, activity_type=activity.activity_type,
            activity_id=activity.activity_id, task_queue=activity.task_queue,
            input=activity.input, options=activity.options, attempt=1, scheduled_at=now,
            attempt_scheduled_at=now, started_at=now, heartbeat_details=[]))
    else:
        tx.wake("activity_task", activity.task_queue)
    tx.due(deadline)


def _apply_cancel_activity(tx: Tx, run: _Run, cancel: base.RequestCancelActivity) -> None:
    row = tx.one("SELECT lease_owner FROM activity_tasks WHERE run_id = ? AND seq = ?"
                 + tx.dialect.for_update, (run.run_id, cancel.seq))
    if row is None:
        return
    if row[0] is None:
        # Not running anywhere: cancelled at once.
        tx.run("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?",
               (run.run_id, cancel.seq))
        insert_inbox(tx, run.run_id, EV.ACTIVITY_TASK_CANCELED, run.now,
                     {"seq": cancel.seq, "failure": cancel.failure})
    else:
        tx.run("UPDATE activity_tasks SET cancel_requested = TRUE WHERE run_id = ? AND seq = ?",
               (run.run_id, cancel.seq))


def _apply_start_timer(tx: Tx, run: _Run, timer: base.StartTimer) -> None:
    fire_at = run.now + timer.seconds
    tx.defer("INSERT INTO timers (run_id, seq, fire_at) VALUES (?, ?, ?) "
             "ON CONFLICT (run_id, seq) DO UPDATE SET fire_at = excluded.fire_at",
             (run.run_id, timer.seq, fire_at))
    tx.due(fire_at)


def _apply_cancel_timer(tx: Tx, run: _Run, timer: base.CancelTimer) -> None:
    tx.run("DELETE FROM timers WHERE run_id = ? AND seq = ?", (run.run_id, timer.seq))


def _apply_complete_update(tx: Tx, run: _Run, update: base.CompleteUpdate) -> None:
    tx.run("UPDATE updates SET state = 3, result = ?, failure = ? WHERE run_id = ? AND "
           "update_id = ?",
           (dumps(update.result) if update.result is not None else None,
            dumps(update.failure) if update.failure is not None else None, run.run_id,
            update.update_id))
    tx.wake("update", update.update_id)


def _apply_close(tx: Tx, run: _Run, close: base.CloseRun, next_event_id: int) -> None:
    next_run = close.next_run
    close_run(tx, run.run_id, close.status, run.now, close.result, close.failure,
              next_run.run_id if next_run is not None else None, close.retry_state,
              next_event_id=next_event_id, reads=run.closing)
    if next_run is not None:
        start_next_run(tx, run.run_id, run.first_run_id, run.priority, next_run, run.now)


_APPLY: dict[type, Callable[[Tx, _Run, Any], None]] = {
    base.ScheduleActivity: _apply_schedule_activity,
    base.RequestCancelActivity: _apply_cancel_activity,
    base.StartTimer: _apply_start_timer,
    base.CancelTimer: _apply_cancel_timer,
    base.StartChild: lambda tx, run, child: start_child(tx, run.run_id, child.request, run.now),
    base.SignalExternal: lambda tx, run, signal: send_external(tx, run.run_id, signal, run.now),
    base.CancelExternal: lambda tx, run, cancel: send_external(tx, run.run_id, cancel, run.now),
    base.UpsertSearchAttributes:
        lambda tx, run, upsert: upsert_search_attributes(tx, run.run_id, upsert.changes),
    base.UpsertMemo: lambda tx, run, upsert: upsert_memo(tx, run.run_id, upsert.changes),
    base.CompleteUpdate: _apply_complete_update,
}
