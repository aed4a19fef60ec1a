"""Store operations for messages: child starts, external signals and cancels,
updates, queries."""

from __future__ import annotations

from typing import Any

from ... import exceptions as exc
from ..._model.events import EventType
from ..base import CancelExternal, ExecutionStatus, SignalExternal, StartWorkflowRequest
from ..tx import Tx, dumps, loads
from .executions import (
    QUERY_RECLAIM_SECONDS,
    ensure_workflow_task,
    find_open_run,
    inbox_event,
    insert_execution,
    lock_workflow_id,
)


def start_child(tx: Tx, parent_run_id: str, request: StartWorkflowRequest,
                now: float) -> None:
    child_id = request.workflow_id
    base = {"seq": request.parent_seq, "workflow_id": child_id,
            "workflow_type": request.workflow_type}
    lock_workflow_id(tx, child_id)
    running = tx.one("SELECT run_id FROM executions WHERE workflow_id = ? AND status = 1",
                     (child_id,))
    if running is not None:
        inbox_event(tx, parent_run_id, EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED,
                    {**base, "cause": f"workflow id {child_id!r} is already running "
                     f"(run {running[0]}); give the child another id"}, now)
        return
    insert_execution(tx, request, now)
    inbox_event(tx, parent_run_id, EventType.CHILD_WORKFLOW_EXECUTION_STARTED,
                {**base, "run_id": request.run_id}, now)


def external_target(tx: Tx, source_run_id: str, target: SignalExternal | CancelExternal
                    ) -> tuple[str | None, str]:
    try:
        run_id, _ = find_open_run(tx, target.workflow_id, target.run_id)
    except exc.WorkflowNotFoundError as error:
        return None, str(error)
    if target.child_only:
        parent = tx.one("SELECT parent_run_id FROM executions WHERE run_id = ?", (run_id,))
        if parent is None or parent[0] != source_run_id:
            return None, f"workflow {target.workflow_id!r} is not a child of this workflow"
    return run_id, ""


def _closed_target(tx: Tx, source_run_id: str, target: CancelExternal) -> bool:
    """The target names a run that exists and has closed (a child of the source, when the
    request is for a child only)."""
    if target.run_id is not None:
        row = tx.one("SELECT status, parent_run_id FROM executions WHERE run_id = ? AND "
                     "workflow_id = ?", (target.run_id, target.workflow_id))
    else:
        row = tx.one("SELECT status, parent_run_id FROM executions WHERE workflow_id = ? "
                     "ORDER BY start_time DESC LIMIT 1", (target.workflow_id,))
    if row is None or row[0] == ExecutionStatus.RUNNING:
        return False
    return not target.child_only or row[1] == source_run_id


# For a signal and a cancel request to another workflow: what the target gets, what the
# sender gets when it was delivered, and what the sender gets when it could not be.
_EXTERNAL_EVENTS = {
    SignalExternal: (EventType.WORKFLOW_EXECUTION_SIGNALED,
                     EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                     EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED),
    CancelExternal: (EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                     EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                     EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED),
}


def send_external(tx: Tx, run_id: str, message: SignalExternal | CancelExternal,
                  now: float) -> None:
    received, delivered, failed = _EXTERNAL_EVENTS[type(message)]
    target, cause = external_target(tx, run_id, message)
    if target is None and isinstance(message, CancelExternal) and \
            _closed_target(tx, run_id, message):
        # Temporal accepts a cancel request for a run that has closed; it changes nothing
        # (a child that continued as new, or a cron child, keeps running in its next run).
        inbox_event(tx, run_id, delivered, {"seq": message.seq}, now)
        return
    if target is None:
        inbox_event(tx, run_id, failed, {"seq": message.seq, "cause": cause}, now)
        return
    inbox_event(tx, target, received, message.attributes, now)
    inbox_event(tx, run_id, delivered, {"seq": message.seq}, now)


def update_workflow(tx: Tx, workflow_id: str,
                    run_id: str | None, update_id: str, name: str,
                    input: list[dict[str, Any]], now: float) -> str:
    if run_id is not None and tx.one(
            "SELECT 1 FROM updates WHERE run_id = ? AND update_id = ?",
            (run_id, update_id)) is not None:
        # Admitted already (an update-with-start's, in its start's transaction): its outcome
        # stands even if the run has closed since, perhaps because of this very update.
        return run_id
    target, task_queue = find_open_run(tx, workflow_id, run_id, lock=True)
    tx.run(
        "INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
        "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (run_id, update_id) DO NOTHING",
        (target, update_id, name, dumps(input), now))
    ensure_workflow_task(tx, target, task_queue, now)
    return target


def get_update(tx: Tx, run_id: str, update_id: str) -> dict[str, Any] | None:
    row = tx.one("SELECT state, result, failure FROM updates WHERE run_id = ? AND "
                 "update_id = ?", (run_id, update_id))
    if row is None:
        return None
    return {"state": row[0], "result": loads(row[1]) if row[1] else None,
            "failure": loads(row[2]) if row[2] else None}


def query_workflow(tx: Tx, workflow_id: str,
                   run_id: str | None, name: str, input: list[dict[str, Any]],
                   now: float) -> int:
    if run_id is None:
        row = tx.one("SELECT run_id, task_queue FROM executions WHERE "
                     "workflow_id = ? ORDER BY start_time DESC LIMIT 1",
                     (workflow_id,))
    else:
        row = tx.one("SELECT run_id, task_queue FROM executions WHERE run_id = ? "
                     "AND workflow_id = ?", (run_id, workflow_id))
    if row is None:
        raise exc.WorkflowNotFoundError(f"workflow {workflow_id!r} not found")
    inserted = tx.one("INSERT INTO queries (run_id, task_queue, name, input, state, "
                      "created_at) VALUES (?, ?, ?, ?, 0, ?) RETURNING id",
                      (row[0], row[1], name, dumps(input), now))
    tx.wake("query", row[1])
    return int(inserted[0])


def get_query(tx: Tx, query_id: int) -> dict[str, Any] | None:
    row = tx.one("SELECT state, result, failure FROM queries WHERE id = ?",
                 (query_id,))
    if row is None:
        return None
    return {"state": row[0], "result": loads(row[1]) if row[1] else None,
            "failure": loads(row[2]) if row[2] else None}


def has_pending_queries(tx: Tx, task_queue: str, now: float) -> bool:
    return tx.one("SELECT 1 FROM queries WHERE task_queue = ? AND (state = 0 OR "
                  "(state = 1 AND claimed_at < ?)) LIMIT 1",
                  (task_queue, now - QUERY_RECLAIM_SECONDS)) is not None


def claim_queries(tx: Tx, task_queue: str, worker_id: str,
                  now: float, limit: int) -> list[dict[str, Any]]:
    rows = tx.all(
        "WITH picked AS (SELECT id AS picked_id FROM queries WHERE task_queue = ? AND "
        "(state = 0 OR (state = 1 AND claimed_at < ?)) "
        f"ORDER BY id LIMIT ?{tx.dialect.skip_locked}) "
        "UPDATE queries AS q SET state = 1, claimed_by = ?, claimed_at = ? FROM picked "
        "WHERE q.id = picked.picked_id RETURNING id, run_id, name, input",
        (task_queue, now - QUERY_RECLAIM_SECONDS, limit, worker_id, now))
    rows.sort(key=lambda r: r[0])
    return [{"id": r[0], "run_id": r[1], "name": r[2], "input": loads(r[3])} for r in rows]


def answer_query(tx: Tx, query_id: int,
                 result: dict[str, Any] | None, failure: dict[str, Any] | None) -> None:
    tx.run("UPDATE queries SET state = 2, result = ?, failure = ? WHERE id = ?",
           (dumps(result) if result is not None else None,
                        dumps(failure) if failure is not None else None, query_id))
    tx.wake("query_answered", str(query_id))


def delete_query(tx: Tx, query_id: int) -> None:
    tx.run("DELETE FROM queries WHERE id = ?", (query_id,))


def mark_activity_async(tx: Tx, run_id: str, seq: int,
                        attempt: int, worker_id: str) -> bool:
    # The attempt now belongs to whoever holds its task token, not to this worker: a dead
    # worker's reclaim must not retry it. Its timeouts still apply.
    return tx.count("UPDATE activity_tasks SET lease_owner = 'async' WHERE run_id = ? "
                  "AND seq = ? AND attempt = ? AND lease_owner = ?",
                  (run_id, seq, attempt, worker_id)) == 1
