"""SQLite store operations on runs: start, close, terminate, parents and children, reads."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ... import exceptions as exc
from ..._model.events import EventType, HistoryEvent
from ..base import (
    ExecutionRow,
    ExecutionStatus,
    InboxEvent,
    StartResult,
    StartWorkflowRequest,
    WorkflowTaskClaim,
    started_attributes,
)
from .connection import WriteContext
from .ops_search_attributes import write_search_attributes

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


loads = json.loads


CLOSE_STATUS = {
    EventType.WORKFLOW_EXECUTION_COMPLETED: ExecutionStatus.COMPLETED,
    EventType.WORKFLOW_EXECUTION_FAILED: ExecutionStatus.FAILED,
    EventType.WORKFLOW_EXECUTION_CANCELED: ExecutionStatus.CANCELED,
    EventType.WORKFLOW_EXECUTION_TERMINATED: ExecutionStatus.TERMINATED,
    EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW: ExecutionStatus.CONTINUED_AS_NEW,
    EventType.WORKFLOW_EXECUTION_TIMED_OUT: ExecutionStatus.TIMED_OUT,
}


EXECUTION_COLUMNS = (
    "run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, "
    "first_run_id, continued_run_id, next_run_id, next_event_id, result, failure, "
    "execution_deadline, parent_workflow_id, parent_run_id, search_attributes, memo"
)


def append_event(conn: sqlite3.Connection, run_id: str, event_id: int, event_type: str,
                  timestamp: float, attributes: dict[str, Any]) -> None:
    conn.execute("INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (run_id, event_id, event_type, timestamp, dumps(attributes)))


def ensure_workflow_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                          task_queue: str, now: float, affinity: str | None) -> None:
    conn.execute(
        "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
        (run_id, task_queue, now, affinity))
    ctx.wake("workflow_task", task_queue)


def insert_execution(ctx: WriteContext, conn: sqlite3.Connection, request: StartWorkflowRequest,
                      now: float, deadline: float | None) -> None:
    first_run_id = request.first_run_id or request.run_id
    conn.execute(
        f"INSERT INTO executions ({EXECUTION_COLUMNS}, parent_seq, parent_close_policy) "
        "VALUES (?, ?, ?, ?, 1, ?, NULL, ?, ?, NULL, 2, NULL, NULL, ?, ?, ?, NULL, ?, ?, ?)",
        (request.run_id, request.workflow_id, request.workflow_type, request.task_queue, now,
         first_run_id, request.continued_run_id, deadline, request.parent_workflow_id,
         request.parent_run_id, dumps(request.memo) if request.memo else None,
         request.parent_seq, request.parent_close_policy))
    if request.search_attributes:
        write_search_attributes(conn, request.run_id, request.search_attributes)
    append_event(conn, request.run_id, 1, EventType.WORKFLOW_EXECUTION_STARTED, now,
                 started_attributes(request))
    if request.start_signal is not None:
        name, signal_input = request.start_signal
        conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                     "VALUES (?, ?, ?, ?)",
                     (request.run_id, EventType.WORKFLOW_EXECUTION_SIGNALED, now,
                      dumps({"signal_name": name, "input": signal_input,
                              "identity": request.identity})))
    if request.eager_worker_id is None:
        ensure_workflow_task(ctx, conn, request.run_id, request.task_queue, now, None)
    else:
        # Taken at once by a worker in the starting process: no poller needs waking.
        conn.execute("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity) "
                     "VALUES (?, ?, ?, ?)", (request.run_id, request.task_queue, now,
                                             request.eager_worker_id))


def start_workflow(ctx: WriteContext, conn: sqlite3.Connection, request: StartWorkflowRequest,
                    now: float) -> StartResult:
    open_row = conn.execute(
        "SELECT run_id, workflow_type FROM executions WHERE workflow_id = ? AND status = 1",
        (request.workflow_id,)).fetchone()
    if open_row is not None:
        policy = request.id_conflict_policy
        if request.id_reuse_policy == 4 and policy == 0:  # TERMINATE_IF_RUNNING
            policy = 3
        if policy == 2:  # USE_EXISTING
            if request.start_signal is not None:
                name, signal_input = request.start_signal
                add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                    EventType.WORKFLOW_EXECUTION_SIGNALED,
                                    {"signal_name": name, "input": signal_input,
                                     "identity": request.identity}, now)
            return StartResult(open_row[0], started=False)
        if policy == 3:  # TERMINATE_EXISTING
            terminate(ctx, conn, request.workflow_id, open_row[0],
                       "terminated by a new start with the same workflow id", [],
                       request.identity, now)
        else:
            if request.start_signal is not None:  # signal-with-start signals the running run
                name, signal_input = request.start_signal
                add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                    EventType.WORKFLOW_EXECUTION_SIGNALED,
                                    {"signal_name": name, "input": signal_input,
                                     "identity": request.identity}, now)
                return StartResult(open_row[0], started=False)
            raise exc.WorkflowAlreadyStartedError(request.workflow_id, open_row[1],
                                                  run_id=open_row[0])
    else:
        last = conn.execute(
            "SELECT run_id, status, workflow_type FROM executions WHERE workflow_id = ? "
            "ORDER BY start_time DESC LIMIT 1", (request.workflow_id,)).fetchone()
        if last is not None and request.continued_run_id is None:
            reuse = request.id_reuse_policy
            status = ExecutionStatus(last[1])
            if reuse == 3 or (reuse == 2 and status in (ExecutionStatus.COMPLETED,)):
                raise exc.WorkflowAlreadyStartedError(
                    request.workflow_id, last[2], run_id=last[0],
                    reason=f"workflow id {request.workflow_id!r} was already used by run "
                    f"{last[0]} ({status.name.lower()}) and id_reuse_policy="
                    f"{REUSE_NAMES.get(reuse, reuse)} forbids another run; choose another id")
    deadline = now + request.execution_timeout if request.execution_timeout else None
    insert_execution(ctx, conn, request, now, deadline)
    eager_task = None
    if request.eager_worker_id is not None:
        # Eager start: a worker in the starting process takes the first task without polling.
        eager_task = claim_one_workflow_task(conn, request.run_id, request.eager_worker_id, now,
                                              10.0)
    return StartResult(request.run_id, started=True, eager_task=eager_task)


CHILD_CLOSE_EVENTS = {
    ExecutionStatus.COMPLETED: EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ExecutionStatus.FAILED: EventType.CHILD_WORKFLOW_EXECUTION_FAILED,
    ExecutionStatus.CANCELED: EventType.CHILD_WORKFLOW_EXECUTION_CANCELED,
    ExecutionStatus.TERMINATED: EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED,
    ExecutionStatus.TIMED_OUT: EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
}


def parent_of(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT parent_workflow_id, parent_run_id, parent_seq, "
                       "parent_close_policy FROM executions WHERE run_id = ?",
                       (run_id,)).fetchone()
    if row is None or row[1] is None:
        return {}
    return {"parent_workflow_id": row[0], "parent_run_id": row[1], "parent_seq": row[2],
            "parent_close_policy": row[3]}


def inbox_event(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, event_type: str,
                 attributes: dict[str, Any], now: float) -> None:
    """Add an input event for an open run and make sure it gets a workflow task."""
    row = conn.execute("SELECT task_queue FROM executions WHERE run_id = ? AND status = 1",
                       (run_id,)).fetchone()
    if row is None:
        return
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)", (run_id, event_type, now, dumps(attributes)))
    ensure_workflow_task(ctx, conn, run_id, row[0], now, None)


def notify_parent(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, status: int,
                   result: dict[str, Any] | None, failure: dict[str, Any] | None,
                   now: float) -> None:
    row = conn.execute("SELECT parent_run_id, parent_seq, workflow_id, workflow_type, "
                       "first_run_id FROM executions WHERE run_id = ?", (run_id,)).fetchone()
    if row is None or row[0] is None:
        return
    attrs: dict[str, Any] = {"seq": row[1], "workflow_id": row[2], "workflow_type": row[3],
                             "run_id": run_id}
    if result is not None:
        attrs["result"] = result
    if failure is not None:
        attrs["failure"] = failure
    inbox_event(ctx, conn, row[0], CHILD_CLOSE_EVENTS[ExecutionStatus(status)], attrs, now)


def apply_parent_close_policy(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                               now: float) -> None:
    children = conn.execute("SELECT run_id, workflow_id, parent_close_policy FROM executions "
                            "WHERE parent_run_id = ? AND status = 1", (run_id,)).fetchall()
    for child_run_id, child_workflow_id, policy in children:
        if policy == 2:  # ABANDON
            continue
        if policy == 3:  # REQUEST_CANCEL
            inbox_event(ctx, conn, child_run_id, EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                         {"cause": "parent workflow closed", "identity": ""}, now)
        else:  # TERMINATE (the default)
            terminate(ctx, conn, child_workflow_id, child_run_id,
                       "parent workflow closed (parent_close_policy=TERMINATE)", [], "", now)


REUSE_NAMES = {1: "ALLOW_DUPLICATE", 2: "ALLOW_DUPLICATE_FAILED_ONLY", 3: "REJECT_DUPLICATE",
                4: "TERMINATE_IF_RUNNING"}


def find_open_run(conn: sqlite3.Connection, workflow_id: str, run_id: str | None
                   ) -> tuple[str, str]:
    if run_id is None:
        row = conn.execute("SELECT run_id, task_queue, status FROM executions "
                           "WHERE workflow_id = ? ORDER BY start_time DESC LIMIT 1",
                           (workflow_id,)).fetchone()
    else:
        row = conn.execute("SELECT run_id, task_queue, status FROM executions "
                           "WHERE run_id = ? AND workflow_id = ?", (run_id, workflow_id)
                           ).fetchone()
    if row is None:
        raise exc.WorkflowNotFoundError(
            f"workflow {workflow_id!r}" + (f" run {run_id!r}" if run_id else "")
            + " not found")
    if row[2] != ExecutionStatus.RUNNING:
        raise exc.WorkflowNotFoundError(
            f"workflow {workflow_id!r} run {row[0]} is already closed "
            f"({ExecutionStatus(row[2]).name.lower()}); it cannot take signals, cancellation "
            "or termination")
    return row[0], row[1]


def add_external_event(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
                        run_id: str | None, event_type: str, attributes: dict[str, Any],
                        now: float) -> str:
    target, task_queue = find_open_run(conn, workflow_id, run_id)
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)", (target, event_type, now, dumps(attributes)))
    ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


def close_run(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, status: int,
               now: float, result: dict[str, Any] | None, failure: dict[str, Any] | None,
               next_run_id: str | None = None) -> None:
    conn.execute("UPDATE executions SET status = ?, close_time = ?, result = ?, failure = ?, "
                 "next_run_id = ? WHERE run_id = ?",
                 (status, now, dumps(result) if result is not None else None,
                  dumps(failure) if failure is not None else None, next_run_id, run_id))
    for table in ("workflow_tasks", "activity_tasks", "timers", "inbox"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
    pending_updates = conn.execute("SELECT update_id FROM updates WHERE run_id = ? AND "
                                   "state IN (0, 1)", (run_id,)).fetchall()
    if pending_updates:
        conn.execute("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND "
                     "state IN (0, 1)", (dumps({
                         "message": "the workflow closed before the update completed",
                         "source": "Stalwart", "application_failure_info": {
                             "type": "WorkflowClosed", "non_retryable": True}}), run_id))
        for (update_id,) in pending_updates:
            ctx.wake("update", update_id)
    ctx.wake("closed", run_id)
    if status != ExecutionStatus.CONTINUED_AS_NEW:
        notify_parent(ctx, conn, run_id, status, result, failure, now)
    apply_parent_close_policy(ctx, conn, run_id, now)


def terminate(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
               run_id: str | None, reason: str, details: list[dict[str, Any]], identity: str,
               now: float) -> str:
    target, _ = find_open_run(conn, workflow_id, run_id)
    next_event_id = conn.execute("SELECT next_event_id FROM executions WHERE run_id = ?",
                                 (target,)).fetchone()[0]
    append_event(conn, target, next_event_id, EventType.WORKFLOW_EXECUTION_TERMINATED, now,
                  {"reason": reason, "details": details, "identity": identity})
    conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                 (next_event_id + 1, target))
    close_run(ctx, conn, target, ExecutionStatus.TERMINATED, now, None,
               {"message": reason or "Workflow terminated", "source": "Stalwart",
                "terminated_failure_info": {}})
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


def get_execution(conn: sqlite3.Connection, workflow_id: str | None, run_id: str | None
                   ) -> ExecutionRow | None:
    if run_id is not None:
        row = conn.execute(f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE run_id = ?",
                           (run_id,)).fetchone()
        if row is not None and workflow_id is not None and row[1] != workflow_id:
            return None
    else:
        row = conn.execute(f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE workflow_id = ? "
                           "ORDER BY start_time DESC LIMIT 1", (workflow_id,)).fetchone()
    return row_to_execution(row) if row is not None else None


def list_executions(conn: sqlite3.Connection, status: int | None, workflow_type: str | None,
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
        # A range on the primary sort key instead of LIKE, so the index is used.
        clauses.append("workflow_id >= ? AND workflow_id < ?")
        params += [workflow_id_prefix, workflow_id_prefix + "\U0010ffff"]
    if task_queue:
        clauses.append("task_queue = ?")
        params.append(task_queue)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(f"SELECT {EXECUTION_COLUMNS} FROM executions {where} "
                        "ORDER BY start_time DESC LIMIT ?", (*params, limit)).fetchall()
    return [row_to_execution(r) for r in rows]


def get_history(conn: sqlite3.Connection, run_id: str, after_event_id: int,
                 limit: int | None) -> list[HistoryEvent]:
    rows = conn.execute(
        "SELECT event_id, event_type, timestamp, attributes FROM history "
        "WHERE run_id = ? AND event_id > ? ORDER BY event_id LIMIT ?",
        (run_id, after_event_id, -1 if limit is None else limit)).fetchall()
    return [HistoryEvent(r[0], r[1], r[2], loads(r[3])) for r in rows]


def read_inbox(conn: sqlite3.Connection, run_id: str, after_id: int) -> list[InboxEvent]:
    rows = conn.execute("SELECT id, event_type, timestamp, attributes FROM inbox "
                        "WHERE run_id = ? AND id > ? ORDER BY id", (run_id, after_id)).fetchall()
    return [InboxEvent(r[0], r[1], r[2], loads(r[3])) for r in rows]


def pending_activities(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT seq, activity_id, activity_type, attempt, scheduled_at, started_at, "
        "heartbeat_at, last_failure, lease_owner, visible_at, cancel_requested "
        "FROM activity_tasks WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
    return [{
        "seq": r[0], "activity_id": r[1], "activity_type": r[2], "attempt": r[3],
        "scheduled_at": r[4], "started_at": r[5], "last_heartbeat_at": r[6],
        "last_failure": loads(r[7]) if r[7] else None, "worker_id": r[8],
        "next_attempt_at": r[9] if r[8] is None else None, "cancel_requested": bool(r[10]),
        "state": "started" if r[8] is not None else "scheduled",
    } for r in rows]

def claim_one_workflow_task(conn: sqlite3.Connection, run_id: str, worker_id: str,
                             now: float, lease_seconds: float) -> WorkflowTaskClaim | None:
    conn.execute("UPDATE workflow_tasks SET lease_owner = ?, lease_expires_at = ?, "
                 "affinity = ? WHERE run_id = ?", (worker_id, now + lease_seconds, worker_id,
                                                   run_id))
    row = conn.execute(
        "SELECT e.workflow_id, e.workflow_type, e.task_queue, e.next_event_id, w.attempt "
        "FROM executions e JOIN workflow_tasks w ON w.run_id = e.run_id "
        "WHERE e.run_id = ? AND e.status = 1", (run_id,)).fetchone()
    if row is None:
        conn.execute("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))
        return None
    updates = [{"update_id": u[0], "name": u[1], "input": loads(u[2])} for u in conn.execute(
        "SELECT update_id, name, input FROM updates WHERE run_id = ? AND state = 0 "
        "ORDER BY created_at", (run_id,))]
    # A run's first task needs only its start event: hand it over with the claim instead of
    # making the worker read the history separately.
    history = get_history(conn, run_id, 0, 1) if row[3] == 2 else None
    return WorkflowTaskClaim(run_id=run_id, workflow_id=row[0], workflow_type=row[1],
                             task_queue=row[2], attempt=row[4], history_length=row[3] - 1,
                             inbox=read_inbox(conn, run_id, 0), updates=updates,
                             history=history)
