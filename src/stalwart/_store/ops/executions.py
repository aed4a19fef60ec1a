"""Store operations on runs: start, close, terminate, parents and children, reads."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from typing import Any

from ... import exceptions as exc
from ..._model.events import EV, RPC_STATUS_KEY, HistoryEvent
from ..base import (
    DEFAULT_PRIORITY,
    ExecutionRow,
    ExecutionStatus,
    InboxEvent,
    StartResult,
    StartWorkflowRequest,
    UpdateState,
    run_deadline,
    started_attributes,
)
from ..tx import Pending, Tx, dumps, loads
from ..wakeup import AFFINE_TASK
from . import payloads
from .claims import claim_one_workflow_task
from .search_attributes import write_search_attributes

EXECUTION_COLUMNS = (
    "run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, "
    "first_run_id, continued_run_id, next_run_id, next_event_id, result, failure, "
    "execution_deadline, parent_workflow_id, parent_run_id, search_attributes, memo"
)


ACTIVITY_COLUMNS = (
    "run_id, seq, workflow_id, workflow_type, activity_type, activity_id, task_queue, input, "
    "options, attempt, scheduled_at, attempt_scheduled_at, started_at, heartbeat_details, "
    "lease_owner, heartbeat_at, last_failure"
)


# A query claimed by a worker that did not answer within this long is offered again.
QUERY_RECLAIM_SECONDS = 5.0


CHAINED_TASK_LEASE_SECONDS = 10.0


def timeouts_deadline(options: dict[str, Any], scheduled_at: float, attempt_scheduled_at: float,
                      started_at: float | None, heartbeat_at: float | None) -> float | None:
    candidates = []
    if options.get("schedule_to_close_timeout"):
        candidates.append(scheduled_at + options["schedule_to_close_timeout"])
    if started_at is None:
        if options.get("schedule_to_start_timeout"):
            candidates.append(attempt_scheduled_at + options["schedule_to_start_timeout"])
    else:
        if options.get("start_to_close_timeout"):
            candidates.append(started_at + options["start_to_close_timeout"])
        if options.get("heartbeat_timeout"):
            candidates.append((heartbeat_at or started_at) + options["heartbeat_timeout"])
    return min(candidates) if candidates else None


LOCK_RUN_SQL = "SELECT task_queue, status, next_event_id FROM executions WHERE run_id = ?"


def lock_run(tx: Tx, run_id: str) -> Any:
    """Lock a run's row for this transaction: (task_queue, status, next_event_id) or None."""
    return tx.one(LOCK_RUN_SQL + tx.dialect.for_update, (run_id,))


def lock_workflow_id(tx: Tx, workflow_id: str) -> None:
    tx.lock_name(f"stalwart-workflow-id:{workflow_id}")


_INSERT_INBOX = ("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)")


def insert_inbox(tx: Tx, run_id: str, event_type: str, timestamp: float,
                 attributes: dict[str, Any]) -> None:
    tx.run(_INSERT_INBOX, (run_id, event_type, timestamp, dumps(attributes)))
    tx.inputs_added += 1


def insert_inboxes(tx: Tx, rows: list[tuple[str, str, float, dict[str, Any]]]) -> None:
    """``insert_inbox`` for many rows: (run_id, event_type, timestamp, attributes)."""
    tx.many(_INSERT_INBOX, [(run_id, event_type, timestamp, dumps(attributes))
                            for run_id, event_type, timestamp, attributes in rows])
    tx.inputs_added += len(rows)


def append_event(tx: Tx, run_id: str, event_id: int, event_type: str,
                 timestamp: float, attributes: dict[str, Any]) -> None:
    tx.run("INSERT INTO history (run_id, event_id, event_type, timestamp, "
           "attributes) VALUES (?, ?, ?, ?, ?)",
           (run_id, event_id, event_type, timestamp, payloads.pack(tx, run_id, attributes)))


# Rows per INSERT of ``insert_events`` (far below either database's parameter limit).
_EVENTS_PER_INSERT = 500


def event_row(tx: Tx, run_id: str, event_id: int, event_type: str, timestamp: float,
              attributes: dict[str, Any]) -> tuple[Any, ...]:
    """A history row for ``insert_events``."""
    return run_id, event_id, event_type, timestamp, payloads.pack(tx, run_id, attributes)


def insert_events(tx: Tx, rows: list[tuple[Any, ...]]) -> None:
    """Append history rows (``event_row``), one statement for many."""
    for start in range(0, len(rows), _EVENTS_PER_INSERT):
        chunk = rows[start:start + _EVENTS_PER_INSERT]
        tx.defer("INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
                 "VALUES " + ", ".join(("(?, ?, ?, ?, ?)",) * len(chunk)),
                 [value for row in chunk for value in row])
    rows.clear()


# A run's workflow tasks are claimed at the run's priority.
RUN_PRIORITY = f"COALESCE((SELECT priority FROM executions WHERE run_id = ?), {DEFAULT_PRIORITY})"


# A workflow task made for a run's new input is offered first to the worker that completed
# the run's last workflow task (its cache holds the run: no replay), while that worker is
# registered; for this long after the task became visible no other worker claims it, so a
# busy or unreachable worker delays the run at most this much.
DEFAULT_AFFINITY_GRACE_SECONDS = 5.0
AFFINITY_GRACE_VARIABLE = "STALWART_AFFINITY_GRACE"


def _grace_from_environment() -> float:
    raw = os.environ.get(AFFINITY_GRACE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_AFFINITY_GRACE_SECONDS
    try:
        grace = float(raw)
    except ValueError:
        grace = math.nan
    if not math.isfinite(grace) or grace < 0:
        raise ValueError(f"{AFFINITY_GRACE_VARIABLE}={raw!r}: the affinity grace must be a "
                         "number of seconds, 0 or more; unset it for the default of "
                         f"{DEFAULT_AFFINITY_GRACE_SECONDS}")
    return grace


# What another worker waits, in each process; every process of a store should use the same.
AFFINITY_GRACE_SECONDS = _grace_from_environment()

# The run's affine worker, if still registered: (run_id).
RUN_AFFINITY = ("(SELECT e.affinity FROM executions e JOIN workers w ON w.worker_id = "
                "e.affinity WHERE e.run_id = ?)")

# A run with new input gets a workflow task unless it has one, offered first to the run's
# affine worker: (run_id, task_queue, visible_at, run_id, run_id).
ADD_WORKFLOW_TASK_SQL = (
    "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity, priority) "
    f"VALUES (?, ?, ?, {RUN_AFFINITY}, {RUN_PRIORITY}) ON CONFLICT (run_id) DO NOTHING")


def wake_for_task(tx: Tx, task_queue: str, affinity: str | None) -> None:
    """Wake the pollers that may claim a task made ready now: only its affine worker's, if it
    has one (the others may not claim it yet; the sweepers' due time wakes them then)."""
    if affinity:
        tx.wake(AFFINE_TASK, affinity)
    else:
        tx.wake("workflow_task", task_queue)


def first_workflow_task(tx: Tx, run_id: str, task_queue: str, now: float) -> None:
    """A new run's first workflow task: any worker takes it (none has the run cached)."""
    tx.run(
        "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity, priority) "
        f"VALUES (?, ?, ?, NULL, {RUN_PRIORITY}) ON CONFLICT (run_id) DO NOTHING",
        (run_id, task_queue, now, run_id))
    tx.wake("workflow_task", task_queue)


def ensure_workflow_task(tx: Tx, run_id: str, task_queue: str, now: float) -> None:
    """A task for an existing run's new input, offered first to its affine worker."""
    row = tx.one(ADD_WORKFLOW_TASK_SQL + " RETURNING affinity",
                 (run_id, task_queue, now, run_id, run_id))
    # A task already there: its pollers were woken when it was made, but its new input may
    # be what it waits for.
    wake_for_task(tx, task_queue, row[0] if row is not None else None)


def run_started(tx: Tx, run_id: str) -> dict[str, Any]:
    """The attributes of a run's WorkflowExecutionStarted event ({} for no such run)."""
    row = tx.one("SELECT attributes FROM history WHERE run_id = ? AND event_id = 1", (run_id,))
    return payloads.unpack_rows(tx, run_id, [row[0]])[0] if row is not None else {}


def chain_timeouts(tx: Tx, run_id: str) -> dict[str, Any]:
    """The timeouts a run's started event records: its next run of the chain inherits the
    execution timeout and the moment the chain expires, and (a cron run's next run, as in
    Temporal) the run and workflow task timeouts."""
    attrs = run_started(tx, run_id)
    return {"execution_timeout": attrs.get("execution_timeout"),
            "execution_expiration": attrs.get("execution_expiration"),
            "run_timeout": attrs.get("run_timeout"), "task_timeout": attrs.get("task_timeout")}


def insert_execution(tx: Tx, request: StartWorkflowRequest, now: float,
                     task: bool = True) -> tuple[Any, ...]:
    """Insert a run; it times out at its run timeout or when its chain expires. ``task``:
    with its first workflow task (without: the caller commits that task in this
    transaction). Returns the run's row as a workflow task's commit reads it
    (``RUN_FOR_TASK_SQL``)."""
    deadline = run_deadline(request, now)
    first_run_id = request.first_run_id or request.run_id
    priority = request.priority
    if priority is None and request.parent_run_id is not None:
        # As in Temporal, a child without its own priority takes its parent's.
        parent = tx.one("SELECT priority FROM executions WHERE run_id = ?",
                        (request.parent_run_id,))
        priority = parent[0] if parent is not None else None
        # The child's started event reports the priority it inherited, as Temporal's does.
        request = dataclasses.replace(request, priority=priority)
    task_priority = DEFAULT_PRIORITY if priority is None else priority
    tx.run(
        f"INSERT INTO executions ({EXECUTION_COLUMNS}, parent_seq, parent_close_policy, "
        "priority) VALUES (?, ?, ?, ?, 1, ?, NULL, ?, ?, NULL, 2, NULL, NULL, ?, ?, ?, NULL, "
        "?, ?, ?, ?)",
        (request.run_id, request.workflow_id, request.workflow_type, request.task_queue, now,
         first_run_id, request.continued_run_id, deadline, request.parent_workflow_id,
         request.parent_run_id, dumps(request.memo) if request.memo else None,
         request.parent_seq, request.parent_close_policy, priority))
    if request.search_attributes:
        write_search_attributes(tx, request.run_id, request.search_attributes)
    append_event(tx, request.run_id, 1, EV.WORKFLOW_EXECUTION_STARTED, now,
                 started_attributes(request, now))
    if request.start_signal is not None:
        name, signal_input = request.start_signal
        insert_inbox(tx, request.run_id, EV.WORKFLOW_EXECUTION_SIGNALED, now,
                     {"signal_name": name, "input": signal_input,
                             "identity": request.identity})
    row = (ExecutionStatus.RUNNING, request.workflow_id, request.workflow_type,
           request.task_queue, 2, first_run_id, deadline, priority)
    if not task:
        return row
    if request.first_task_backoff:
        # A cron run: its first workflow task waits for the schedule's next time.
        visible_at = now + request.first_task_backoff
        tx.run("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity, "
               "priority) VALUES (?, ?, ?, NULL, ?)",
               (request.run_id, request.task_queue, visible_at, task_priority))
        tx.due(visible_at)
    elif request.eager_worker_id is None:
        first_workflow_task(tx, request.run_id, request.task_queue, now)
    else:
        # Taken at once by a worker in the starting process: no poller needs waking.
        tx.run("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, "
               "affinity, priority) VALUES (?, ?, ?, ?, ?)",
               (request.run_id, request.task_queue, now, request.eager_worker_id,
                task_priority))
    return row


def start_next_run(tx: Tx, run_id: str, first_run_id: str, priority: int | None,
                   next_run: StartWorkflowRequest, now: float) -> None:
    """Start the next run of a chain whose run ``run_id`` just closed: a continue-as-new's,
    a cron workflow's next run, a retry. It inherits the chain's first run, its parent, its
    execution timeout and the moment the chain expires (its own run timeout starts afresh)
    and, without one of its own, the chain's ``priority``."""
    chain = chain_timeouts(tx, run_id)
    next_run = dataclasses.replace(
        next_run, first_run_id=first_run_id, **parent_of(tx, run_id),
        execution_timeout=chain["execution_timeout"],
        execution_expiration=chain["execution_expiration"],
        run_timeout=chain["run_timeout"] if next_run.run_timeout is None
        else next_run.run_timeout,
        task_timeout=next_run.task_timeout or chain["task_timeout"],
        priority=next_run.priority if next_run.priority is not None else priority)
    insert_execution(tx, next_run, now)


def start_workflow(tx: Tx, request: StartWorkflowRequest,
                   now: float) -> StartResult:
    existing = admit_start(tx, request, now)
    if existing is not None:
        return existing
    insert_execution(tx, request, now)
    _admit_start_update(tx, request, request.run_id, now)
    eager_task = None
    if request.eager_worker_id is not None:
        # Eager start: a worker in the starting process takes the first task without polling.
        eager_task = claim_one_workflow_task(tx, request.run_id,
                                             request.eager_worker_id, now,
                                             CHAINED_TASK_LEASE_SECONDS)
    return StartResult(request.run_id, started=True, eager_task=eager_task)


_LAST_RUN_SQL = ("SELECT run_id, status, workflow_type FROM executions WHERE workflow_id = ? "
                 "ORDER BY start_time DESC LIMIT 1")


def admit_start(tx: Tx, request: StartWorkflowRequest, now: float) -> StartResult | None:
    """Whether ``request`` may start a new run (None) under its id policies, holding the
    workflow id's lock; else what the start did instead (the open run it used or signalled).
    Raises when the policies refuse the start."""
    lock_workflow_id(tx, request.workflow_id)
    if tx.guessing and _admits_unseen(tx, request):
        return None
    # Both reads go out with the lock (one round trip where the driver pipelines), and run
    # once it is held.
    open_run = tx.later(
        "SELECT run_id, workflow_type FROM executions WHERE workflow_id = ? AND "
        "status = 1", (request.workflow_id,))
    last_run = tx.later(_LAST_RUN_SQL, (request.workflow_id,))
    open_row = open_run.one()
    policy = request.id_conflict_policy
    if request.id_reuse_policy == 4 and policy == 0:  # TERMINATE_IF_RUNNING
        policy = 3
    if open_row is not None and policy == 2 and (
            request.start_update is not None or request.start_signal is not None):
        # USE_EXISTING hands the open run an input: under the run's lock, as a signal or an
        # update sent alone takes it, or the run's workflow task finishing meanwhile could
        # miss it and leave it waiting with no task. The run may have closed since it was
        # read; its successor (a continue-as-new) takes the input, and with none a new run
        # starts.
        used = _lock_open_run(tx, request.workflow_id)
        if used is not None:
            _signal_with_start(tx, request, used, now)
            if _admit_start_update(tx, request, used, now):
                ensure_workflow_task(tx, used, request.task_queue, now)
            return StartResult(used, started=False)
        open_row = None
        last_run = tx.later(_LAST_RUN_SQL, (request.workflow_id,))  # it closed since
    if open_row is not None:
        if policy == 2:  # USE_EXISTING
            return StartResult(open_row[0], started=False)
        if policy == 3:  # TERMINATE_EXISTING
            # Recorded as Temporal's history service records it.
            terminate(tx, request.workflow_id, open_row[0],
                      "TerminateIfRunning WorkflowIdReusePolicy",
                      [{"metadata": {"encoding": "json/plain"},
                        "data": json.dumps(f"terminated by new runID: {request.run_id}")}],
                      "history-service", now)
        elif request.start_signal is not None:  # signal-with-start signals the running run
            _signal_with_start(tx, request, open_row[0], now)
            return StartResult(open_row[0], started=False)
        else:
            raise exc.WorkflowAlreadyStartedError(request.workflow_id, open_row[1],
                                                  run_id=open_row[0])
    else:
        last = last_run.one()
        if last is not None and request.start_update is not None and tx.one(
                "SELECT 1 FROM updates WHERE run_id = ? AND update_id = ? AND state = 3",
                (last[0], request.start_update[0])) is not None:
            # An update-with-start sent again once its update has completed, and perhaps
            # closed the workflow: as in Temporal, the update's outcome, not a new run.
            return StartResult(last[0], started=False)
        if last is not None and request.continued_run_id is None:
            reuse = request.id_reuse_policy
            status = ExecutionStatus(last[1])
            if reuse == 3 or (reuse == 2 and status in (ExecutionStatus.COMPLETED,)):
                raise exc.WorkflowAlreadyStartedError(
                    request.workflow_id, last[2], run_id=last[0],
                    reason=f"workflow id {request.workflow_id!r} was already used by run "
                    f"{last[0]} ({status.name.lower()}) and id_reuse_policy="
                    f"{REUSE_NAMES.get(reuse, reuse)} forbids another run; choose another id")
    return None


def _admits_unseen(tx: Tx, request: StartWorkflowRequest) -> bool:
    """Guess that the reads below would admit the start (nearly always so: most workflow ids
    are new), and have the server check it with the writes that follow (``Tx.assume_none``):
    no open run has the id, nor, where the policy forbids reusing an id, any run at all.
    False where the start does more than start (signal- or update-with-start), where its
    policies expect a run to be open (use or terminate the existing one: a refuted guess
    costs a transaction, and the server logs it as an error), or where the policy looks at
    how the last run ended: those read first."""
    if request.start_signal is not None or request.start_update is not None or \
            request.id_conflict_policy in (2, 3) or request.id_reuse_policy == 4:
        return False
    reuse = request.id_reuse_policy if request.continued_run_id is None else 1
    if reuse == 3:  # REJECT_DUPLICATE
        tx.assume_none("SELECT 1 FROM executions WHERE workflow_id = ?", (request.workflow_id,))
    elif reuse == 2:  # ALLOW_DUPLICATE_FAILED_ONLY
        return False
    else:
        tx.assume_none("SELECT 1 FROM executions WHERE workflow_id = ? AND status = 1",
                       (request.workflow_id,))
    return True


def _lock_open_run(tx: Tx, workflow_id: str) -> str | None:
    """The workflow id's open run, its row locked (waiting for a transaction closing it),
    or None if none is open once the lock is held."""
    try:
        return find_open_run(tx, workflow_id, None, lock=True)[0]
    except exc.WorkflowNotFoundError:
        return None


def _admit_start_update(tx: Tx, request: StartWorkflowRequest, run_id: str,
                        now: float) -> bool:
    if request.start_update is None:
        return False
    update_id, name, update_input = request.start_update
    tx.run("INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
           "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (run_id, update_id) DO NOTHING",
           (run_id, update_id, name, dumps(update_input), now))
    return True


def _signal_with_start(tx: Tx, request: StartWorkflowRequest, run_id: str, now: float) -> None:
    if request.start_signal is not None:
        name, signal_input = request.start_signal
        add_external_event(tx, request.workflow_id, run_id, EV.WORKFLOW_EXECUTION_SIGNALED,
                           {"signal_name": name, "input": signal_input,
                            "identity": request.identity}, now)


CHILD_CLOSE_EVENTS = {
    ExecutionStatus.COMPLETED: EV.CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ExecutionStatus.FAILED: EV.CHILD_WORKFLOW_EXECUTION_FAILED,
    ExecutionStatus.CANCELED: EV.CHILD_WORKFLOW_EXECUTION_CANCELED,
    ExecutionStatus.TERMINATED: EV.CHILD_WORKFLOW_EXECUTION_TERMINATED,
    ExecutionStatus.TIMED_OUT: EV.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
}


def parent_of(tx: Tx, run_id: str) -> dict[str, Any]:
    row = tx.one("SELECT parent_workflow_id, parent_run_id, parent_seq, "
                 "parent_close_policy FROM executions WHERE run_id = ?", (run_id,))
    if row is None or row[1] is None:
        return {}
    return {"parent_workflow_id": row[0], "parent_run_id": row[1], "parent_seq": row[2],
            "parent_close_policy": row[3]}


def inbox_event(tx: Tx, run_id: str, event_type: str,
                attributes: dict[str, Any], now: float) -> None:
    """Add an input event for an open run and make sure it gets a workflow task."""
    row = lock_run(tx, run_id)
    if row is None or row[1] != ExecutionStatus.RUNNING:
        return
    insert_inbox(tx, run_id, event_type, now, attributes)
    ensure_workflow_task(tx, run_id, row[0], now)


PARENT_SQL = ("SELECT parent_run_id, parent_seq, workflow_id, workflow_type, first_run_id "
              "FROM executions WHERE run_id = ?")
OPEN_CHILDREN_SQL = ("SELECT run_id, workflow_id, parent_close_policy FROM executions "
                     "WHERE parent_run_id = ? AND status = 1")


def notify_parent(tx: Tx, run_id: str, status: int,
                  result: dict[str, Any] | None, failure: dict[str, Any] | None,
                  now: float, row: Any, retry_state: int | None = None) -> None:
    """Give a closed child's parent its close event; ``row``: the child's ``PARENT_SQL``;
    ``retry_state``: a timed-out child's, which its parent reports."""
    attrs: dict[str, Any] = {"seq": row[1], "workflow_id": row[2], "workflow_type": row[3],
                             "run_id": run_id}
    if result is not None:
        attrs["result"] = result
    if failure is not None:
        attrs["failure"] = failure
    if retry_state is not None:  # a timed-out child's, which its parent reports
        attrs["retry_state"] = retry_state
    inbox_event(tx, row[0], CHILD_CLOSE_EVENTS[ExecutionStatus(status)], attrs,
                now)


def apply_parent_close_policy(tx: Tx, now: float, children: list[Any]) -> None:
    """Close a closed run's open children (``OPEN_CHILDREN_SQL``'s rows) as their policies
    say."""
    for child_run_id, child_workflow_id, policy in children:
        if policy == 2:  # ABANDON
            continue
        if policy == 3:  # REQUEST_CANCEL
            inbox_event(tx, child_run_id,
                        EV.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                        {"cause": "parent workflow closed", "identity": ""}, now)
        else:  # TERMINATE (the default)
            try:
                # What the parent's last task sent the child (a cancel request) reaches it
                # after this termination on Temporal's server: it is not recorded.
                terminate(tx, child_workflow_id, child_run_id,
                          "by parent close policy", [],
                          "", now, keep_inbox=False)
            except exc.WorkflowNotFoundError:
                pass  # it closed on its own between the SELECT and the lock


REUSE_NAMES = {1: "ALLOW_DUPLICATE", 2: "ALLOW_DUPLICATE_FAILED_ONLY", 3: "REJECT_DUPLICATE",
               4: "TERMINATE_IF_RUNNING"}


def find_open_run(tx: Tx, workflow_id: str, run_id: str | None,
                  lock: bool = True) -> tuple[str, str]:
    suffix = tx.dialect.for_update if lock else ""
    if run_id is None:
        latest = ("SELECT run_id, task_queue, status FROM executions "
                  "WHERE workflow_id = ? ORDER BY start_time DESC LIMIT 1" + suffix)
        row = tx.one(latest, (workflow_id,))
        if lock and row is not None and row[2] != ExecutionStatus.RUNNING:
            # Waiting for the lock, the statement saw the run another transaction was closing
            # while it started the next one (a cron run, a continue-as-new); a fresh
            # statement sees that next run.
            row = tx.one(latest, (workflow_id,))
    else:
        row = tx.one("SELECT run_id, task_queue, status FROM executions "
                     "WHERE run_id = ? AND workflow_id = ?" + suffix,
                     (run_id, workflow_id))
    if row is None:
        raise exc.WorkflowNotFoundError(
            f"workflow {workflow_id!r}" + (f" run {run_id!r}" if run_id else "")
            + " not found")
    if row[2] != ExecutionStatus.RUNNING:
        # Temporal's own text first (callers match on it), then which run and why.
        raise exc.WorkflowNotFoundError(
            f"workflow execution already completed: workflow {workflow_id!r} run {row[0]} "
            "is already closed "
            f"({ExecutionStatus(row[2]).name.lower()}); it cannot take signals, cancellation "
            "or termination")
    return row[0], row[1]


def add_external_event(tx: Tx, workflow_id: str,
                       run_id: str | None, event_type: str, attributes: dict[str, Any],
                       now: float) -> str:
    target, task_queue = find_open_run(tx, workflow_id, run_id, lock=True)
    insert_inbox(tx, target, event_type, now, attributes)
    ensure_workflow_task(tx, target, task_queue, now)
    return target


def record_inbox(tx: Tx, run_id: str, next_event_id: int) -> int:
    """Move the inputs no workflow task has taken into the history of a run closing without
    a task (terminated, timed out): Temporal recorded them when they arrived. Returns the
    next event id."""
    recorded = tx.count(
        "INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
        "SELECT run_id, ? + ROW_NUMBER() OVER (ORDER BY id) - 1, event_type, timestamp, "
        "attributes FROM inbox WHERE run_id = ?", (next_event_id, run_id))
    return next_event_id + recorded


class CloseReads:
    """What closing a run reads: its updates still open, its parent, its open children. Sent
    ahead by an operation that knows it will close the run (with its locks, saving a round
    trip), or by ``close_run`` itself."""

    __slots__ = ("children", "parent", "updates")

    def __init__(self, tx: Tx, run_id: str) -> None:
        self.updates = tx.later("SELECT update_id FROM updates WHERE run_id = ? AND "
                                "state IN (0, 1)", (run_id,))
        self.parent = tx.later(PARENT_SQL, (run_id,))
        self.children = tx.later(OPEN_CHILDREN_SQL, (run_id,))

    @classmethod
    def none(cls) -> CloseReads:
        """What closing reads of a run known to have no open update, parent or open child."""
        reads = cls.__new__(cls)
        reads.updates = reads.parent = reads.children = Pending(None, [])
        return reads


# The failures Temporal gives updates still open when their run closes.
_ACCEPTED_UPDATE_OUTLIVED = dumps({
    "message": "Workflow Update failed because the Workflow completed before the Update "
               "completed.", "source": "",
    "application_failure_info": {"type": "AcceptedUpdateCompletedWorkflow",
                                 "non_retryable": True}})
_UPDATE_OF_A_CLOSED_RUN = dumps({
    "message": "workflow execution already completed", "source": "",
    RPC_STATUS_KEY: int(exc.RPCStatusCode.NOT_FOUND)})


def close_run(tx: Tx, run_id: str, status: int, now: float,
              result: dict[str, Any] | None, failure: dict[str, Any] | None,
              next_run_id: str | None = None, retry_state: int | None = None, *,
              next_event_id: int | None = None, reads: CloseReads | None = None) -> None:
    """Close a run whose row is locked (``next_event_id``: its history's new length, if it
    changed; ``reads``: sent ahead, under the lock)."""
    if reads is None:
        reads = CloseReads(tx, run_id)
    # The closed row goes to this process's waiters with the wake-up (``wait_closed``): as
    # the commit leaves it, since no operation changes a closed run's columns afterwards.
    closed = tx.later(
        "UPDATE executions SET status = ?, close_time = ?, result = ?, failure = ?, "
        "next_run_id = ?" + (", next_event_id = ?" if next_event_id is not None else "")
        + f" WHERE run_id = ? RETURNING {EXECUTION_COLUMNS}",
        (status, now, dumps(result) if result is not None else None,
         dumps(failure) if failure is not None else None, next_run_id,
         *((next_event_id,) if next_event_id is not None else ()), run_id))
    # Each on a table of its own: one statement where the driver joins them.
    tx.defer("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))
    tx.defer("DELETE FROM activity_tasks WHERE run_id = ?", (run_id,))
    tx.defer("DELETE FROM timers WHERE run_id = ?", (run_id,))
    tx.defer("DELETE FROM inbox WHERE run_id = ?", (run_id,))
    if next_run_id is not None:
        # Updates admitted while the closing task ran, never seen by the workflow, go on to
        # the next run (a continue-as-new, a retry, the next cron run), whose first task
        # delivers them: as Temporal retries them there, their callers see no new run.
        tx.defer("INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
                 "SELECT ?, update_id, name, input, 0, created_at FROM updates "
                 "WHERE run_id = ? AND state = 0 ON CONFLICT (run_id, update_id) DO NOTHING",
                 (next_run_id, run_id))
        tx.defer("UPDATE updates SET state = ? WHERE run_id = ? AND state = 0",
                 (int(UpdateState.MOVED_ON), run_id))
    else:
        # Temporal's answer to an update its workflow never saw: the run is gone.
        tx.defer("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND state = 0",
                 (_UPDATE_OF_A_CLOSED_RUN, run_id))
    tx.defer("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND state = 1",
             (_ACCEPTED_UPDATE_OUTLIVED, run_id))
    # Read under the run's lock, so no update was added since (one the closing task settled
    # meanwhile is woken for nothing: its waiter reads it again).
    for (update_id,) in reads.updates.all():
        tx.wake("update", update_id)
    tx.hand("closed", run_id, closed)
    # A continued chain (or the next cron run) goes on: its parent hears of it later.
    parent_row = reads.parent.one() if next_run_id is None else None
    if parent_row is not None and parent_row[0] is not None:
        notify_parent(tx, run_id, status, result, failure, now, parent_row, retry_state)
    apply_parent_close_policy(tx, now, reads.children.all())


def terminate(tx: Tx, workflow_id: str, run_id: str | None,
              reason: str, details: list[dict[str, Any]], identity: str,
              now: float, *, keep_inbox: bool = True) -> str:
    target, _ = find_open_run(tx, workflow_id, run_id, lock=True)
    row = tx.one("SELECT next_event_id FROM executions WHERE run_id = ?", (target,))
    next_event_id = record_inbox(tx, target, row[0]) if keep_inbox else row[0]
    append_event(tx, target, next_event_id, EV.WORKFLOW_EXECUTION_TERMINATED,
                 now, {"reason": reason, "details": details, "identity": identity})
    close_run(tx, target, ExecutionStatus.TERMINATED, now, None,
              {"message": reason or "Workflow terminated", "source": "Stalwart",
                      "terminated_failure_info": {}}, next_event_id=next_event_id + 1)
    return target


def row_to_execution(row: Any) -> ExecutionRow:
    return ExecutionRow(
        run_id=row[0], workflow_id=row[1], workflow_type=row[2], task_queue=row[3],
        status=ExecutionStatus(row[4]), start_time=row[5], close_time=row[6],
        first_run_id=row[7], continued_run_id=row[8], next_run_id=row[9],
        history_length=row[10] - 1,
        result=loads(row[11]) if row[11] is not None else None,
        failure=loads(row[12]) if row[12] is not None else None, execution_deadline=row[13],
        parent_workflow_id=row[14], parent_run_id=row[15],
        search_attributes=loads(row[16]) if row[16] else {},
        memo=loads(row[17]) if row[17] else {})


def runs_not_running(tx: Tx, run_ids: Sequence[str]) -> list[str]:
    """Of ``run_ids``, those closed or gone: a waiter for any of them is done waiting."""
    among, params = tx.dialect.in_("run_id", run_ids)
    running = {row[0] for row in tx.all(
        f"SELECT run_id FROM executions WHERE {among} AND status = 1", params)}
    return [run_id for run_id in run_ids if run_id not in running]


def get_execution(tx: Tx, workflow_id: str | None, run_id: str | None
                         ) -> ExecutionRow | None:
    if run_id is not None:
        row = tx.one(f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE run_id = ?",
                     (run_id,))
        if row is not None and workflow_id is not None and row[1] != workflow_id:
            return None
    else:
        row = tx.one(f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE "
                     "workflow_id = ? ORDER BY start_time DESC LIMIT 1",
                     (workflow_id,))
    return row_to_execution(row) if row is not None else None


def list_executions(tx: Tx, status: int | None, workflow_type: str | None,
                    workflow_id_prefix: str | None, task_queue: str | None,
                    limit: int) -> list[ExecutionRow]:
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if workflow_type:
        clauses.append("workflow_type = ?")
        params.append(workflow_type)
    if workflow_id_prefix:
        # A range rather than LIKE, so the index is used; compared by code point, so the
        # range holds exactly the ids with the prefix whatever the database's collation.
        column = f"workflow_id{tx.dialect.binary_collation}"
        clauses.append(f"{column} >= ? AND {column} < ?")
        params += [workflow_id_prefix, workflow_id_prefix + "\U0010ffff"]
    if task_queue:
        clauses.append("task_queue = ?")
        params.append(task_queue)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = tx.all(f"SELECT {EXECUTION_COLUMNS} FROM executions {where} "
                  "ORDER BY start_time DESC LIMIT ?", (*params, limit))
    return [row_to_execution(r) for r in rows]


def get_history(tx: Tx, run_id: str, after_event_id: int,
                limit: int | None) -> list[HistoryEvent]:
    sql = ("SELECT event_id, event_type, timestamp, attributes FROM history "
           "WHERE run_id = ? AND event_id > ? ORDER BY event_id")
    if limit is None:
        rows = tx.all(sql, (run_id, after_event_id))
    else:
        rows = tx.all(sql + " LIMIT ?", (run_id, after_event_id, limit))
    attributes = payloads.unpack_rows(tx, run_id, [r[3] for r in rows])
    return [HistoryEvent(r[0], r[1], r[2], a) for r, a in zip(rows, attributes, strict=True)]


def read_inbox(tx: Tx, run_id: str, after_id: int) -> list[InboxEvent]:
    rows = tx.all("SELECT id, event_type, timestamp, attributes FROM inbox "
                  "WHERE run_id = ? AND id > ? ORDER BY id", (run_id, after_id))
    return [InboxEvent(r[0], r[1], r[2], loads(r[3])) for r in rows]


def pending_activities(tx: Tx, run_id: str) -> list[dict[str, Any]]:
    rows = tx.all(
        "SELECT seq, activity_id, activity_type, attempt, scheduled_at, started_at, "
        "heartbeat_at, last_failure, lease_owner, visible_at, cancel_requested, paused, "
        "paused_visible_at, pause_info, options, reset_requested, heartbeat_details, "
        "attempt_scheduled_at, last_attempt_at, last_worker "
        "FROM activity_tasks WHERE run_id = ? ORDER BY seq", (run_id,))
    return [{
        "seq": r[0], "activity_id": r[1], "activity_type": r[2], "attempt": r[3],
        "scheduled_at": r[4], "started_at": r[5], "last_heartbeat_at": r[6],
        "last_failure": loads(r[7]) if r[7] else None, "worker_id": r[8],
        "next_attempt_at": (r[12] if r[11] else r[9]) if r[8] is None else None,
        "cancel_requested": bool(r[10]), "paused": bool(r[11]),
        "pause_info": loads(r[13]) if r[13] else None, "options": loads(r[14]),
        "reset_requested": bool(r[15]),
        "heartbeat_details": loads(r[16]) if r[16] else [], "attempt_scheduled_at": r[17],
        "last_attempt_at": r[18], "last_worker": r[19],
        # Temporal's PendingActivityState: a paused activity still running is PAUSE_REQUESTED.
        "state": ("pause_requested" if r[11] else "started") if r[8] is not None
        else ("paused" if r[11] else "scheduled"),
    } for r in rows]
