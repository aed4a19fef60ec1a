"""Store operations on deadlines, workers, retention and status."""

from __future__ import annotations

import uuid
from typing import Any

from ..._model.events import EventType
from ..._model.temporal_history.common import seed_for_run
from .. import workflow_retry
from ..base import (
    ExecutionStatus,
    ExpiredActivity,
    StartWorkflowRequest,
    WorkerRow,
)
from ..tx import Tx, loads
from . import payloads, standalone, streams
from .executions import (
    ACTIVITY_COLUMNS,
    AFFINITY_GRACE_SECONDS,
    RUN_PRIORITY,
    append_event,
    close_run,
    insert_inboxes,
    record_inbox,
    run_started,
    start_next_run,
    wake_for_task,
)
from .tasks import (
    TIMED_OUT_TASK,
    end_workflow_task_attempt,
)


def register_worker(tx: Tx, worker: WorkerRow) -> None:
    tx.run(
        "INSERT INTO workers (worker_id, identity, task_queue, host, pid, pid_start, "
        "heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (worker_id) DO UPDATE "
        "SET identity = EXCLUDED.identity, task_queue = EXCLUDED.task_queue, "
        "host = EXCLUDED.host, pid = EXCLUDED.pid, pid_start = EXCLUDED.pid_start, "
        "heartbeat_at = EXCLUDED.heartbeat_at",
        (worker.worker_id, worker.identity, worker.task_queue, worker.host, worker.pid,
         worker.pid_start, worker.heartbeat_at))


def unregister_worker(tx: Tx, worker_id: str) -> None:
    tx.run("DELETE FROM workers WHERE worker_id = ?", (worker_id,))
    forget_affinity(tx, worker_id)


def forget_affinity(tx: Tx, worker_id: str) -> None:
    """A worker is gone: the tasks offered to it are anyone's now (runs that name it as their
    affine worker give their next tasks none, as it is no longer registered)."""
    for (task_queue,) in tx.all("UPDATE workflow_tasks SET affinity = NULL WHERE affinity = ? "
                                "AND lease_owner IS NULL RETURNING task_queue", (worker_id,)):
        tx.wake("workflow_task", task_queue)


def list_workers(tx: Tx) -> list[WorkerRow]:
    return [WorkerRow(*row) for row in tx.all(
        "SELECT worker_id, identity, task_queue, host, pid, pid_start, heartbeat_at "
        "FROM workers")]


def has_due_timers(tx: Tx, now: float) -> bool:
    return tx.one("SELECT 1 FROM timers WHERE fire_at <= ? LIMIT 1", (now,)) is not None


def has_expired_executions(tx: Tx, now: float) -> bool:
    return tx.one("SELECT 1 FROM executions WHERE status = 1 AND execution_deadline <= ? "
                  "LIMIT 1", (now,)) is not None


def fire_due_timers(tx: Tx, now: float, limit: int) -> int:
    # Locks the timer and its run together, skipping both when either is busy: a run whose
    # workflow task is committing right now gets its timer on the next sweep, and no sweeper
    # ever waits on another (or deadlocks with a commit that cancels the timer).
    # The run's affine worker is read with it (the task made for the timer is offered to it
    # first), to wake that worker's poller rather than the queue's.
    rows = tx.all(
        "SELECT t.run_id, t.seq, e.task_queue, e.status, w.worker_id FROM timers t "
        "JOIN executions e ON e.run_id = t.run_id "
        "LEFT JOIN workers w ON w.worker_id = e.affinity WHERE t.fire_at <= ? "
        "ORDER BY t.fire_at LIMIT ?" + tx.dialect.lock_for_update("t, e"), (now, limit))
    if not rows:
        return 0
    # One statement per kind of row for all the timers (fewer statements to send).
    tx.many("DELETE FROM timers WHERE run_id = ? AND seq = ?", [(r[0], r[1]) for r in rows])
    fired = [r for r in rows if r[3] == ExecutionStatus.RUNNING]
    if fired:
        insert_inboxes(tx, [(run_id, EventType.TIMER_FIRED, now,
                             {"seq": seq, "timer_id": str(seq)})
                            for run_id, seq, _, _, _ in fired])
        tx.many(ADD_TIMER_TASK_SQL, [(run_id, task_queue, now, affinity, run_id)
                                     for run_id, _, task_queue, _, affinity in fired])
        # A run that had a task already is woken too: harmless, and no read to tell.
        for task_queue, affinity in {(r[2], r[4]) for r in fired}:
            wake_for_task(tx, task_queue, affinity)
    return len(rows)


# ``ADD_WORKFLOW_TASK_SQL`` with the affinity already read: (run_id, task_queue, visible_at,
# affinity, run_id).
ADD_TIMER_TASK_SQL = (
    "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity, priority) "
    f"VALUES (?, ?, ?, ?, {RUN_PRIORITY}) ON CONFLICT (run_id) DO NOTHING")


def row_to_expired(r: Any) -> ExpiredActivity:
    return ExpiredActivity(
        run_id=r[0], seq=r[1], workflow_id=r[2], activity_type=r[4], activity_id=r[5],
        options=loads(r[8]), attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11],
        started_at=r[12], heartbeat_details=loads(r[13]) if r[13] else [], lease_owner=r[14],
        heartbeat_at=r[15], last_failure=loads(r[16]) if r[16] else None)


def expired_activities(tx: Tx, now: float, limit: int
                              ) -> list[ExpiredActivity]:
    rows = tx.all(f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE "
                  "deadline_at <= ? ORDER BY deadline_at LIMIT ?", (now, limit))
    return [row_to_expired(r) for r in rows]


def activities_of_worker(tx: Tx, worker_id: str) -> list[ExpiredActivity]:
    rows = tx.all(f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE "
                  "lease_owner = ?", (worker_id,))
    return [row_to_expired(r) for r in rows]


def release_workflow_tasks_of_worker(tx: Tx, worker_id: str,
                                     now: float) -> int:
    held = tx.all("SELECT run_id FROM workflow_tasks WHERE lease_owner = ? ORDER BY run_id",
                  (worker_id,))
    for (run_id,) in held:
        # Temporal times out a task its worker abandoned (once the task timeout has passed;
        # here as soon as the worker is known to be gone) and schedules it again.
        end_workflow_task_attempt(tx, run_id, worker_id, dict(TIMED_OUT_TASK), now, now)
    # What is still held (a run that closed meanwhile) is released as it is.
    rows = tx.all("UPDATE workflow_tasks SET lease_owner = NULL, "
                  "lease_expires_at = NULL, visible_at = ?, affinity = NULL "
                  "WHERE lease_owner = ? RETURNING task_queue", (now, worker_id))
    tx.run("DELETE FROM workers WHERE worker_id = ?", (worker_id,))
    forget_affinity(tx, worker_id)
    for (task_queue,) in rows:
        tx.wake("workflow_task", task_queue)
    return len(held)


def time_out_executions(tx: Tx, now: float,
                        limit: int) -> int:
    rows = tx.all("SELECT run_id, next_event_id FROM executions WHERE status = 1 AND "
                  "execution_deadline <= ? LIMIT ?" + tx.dialect.skip_locked,
                  (now, limit))
    for run_id, next_event_id in rows:
        started = run_started(tx, run_id)
        retry_state, next_run = _retry_after_timeout(tx, run_id, started, now)
        next_event_id = record_inbox(tx, run_id, next_event_id)
        attrs: dict[str, Any] = {"retry_state": retry_state}
        if next_run is not None:
            attrs["new_execution_run_id"] = next_run.run_id
        append_event(tx, run_id, next_event_id,
                     EventType.WORKFLOW_EXECUTION_TIMED_OUT, now, attrs)
        tx.run("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
               (next_event_id + 1, run_id))
        close_run(tx, run_id, ExecutionStatus.TIMED_OUT, now, None,
                  {"message": "Workflow execution timed out", "source": "Stalwart",
                          "timeout_failure_info": {"timeout_type": 0}},
                  next_run.run_id if next_run is not None else None, retry_state)
        if next_run is not None:
            chain = tx.one("SELECT first_run_id, priority FROM executions WHERE run_id = ?",
                           (run_id,))
            start_next_run(tx, run_id, chain[0], chain[1], next_run, now)
    return len(rows)


def _retry_after_timeout(tx: Tx, run_id: str, started: dict[str, Any], now: float
                         ) -> tuple[int, StartWorkflowRequest | None]:
    """A timed-out run's retry state and, if its retry policy retries it, its retry. As in
    Temporal: RETRY_STATE_TIMEOUT when the chain's execution timeout passed (never
    retried); when only this run's run timeout did, what the policy says
    (RETRY_STATE_RETRY_POLICY_NOT_SET without one)."""
    expiration = started.get("execution_expiration")
    if expiration is not None and expiration <= now:
        return workflow_retry.TIMEOUT, None
    state, backoff = workflow_retry.retry_backoff(
        started.get("retry_policy"), int(started.get("attempt") or 1),
        workflow_retry.RUN_TIMEOUT_FAILURE, now, expiration)
    if backoff is None:
        return state, None
    row = tx.one("SELECT memo, search_attributes FROM executions WHERE run_id = ?", (run_id,))
    new_run_id = uuid.uuid4()
    return state, workflow_retry.retry_request(
        started, run_id=str(new_run_id), continued_run_id=run_id,
        random_seed=seed_for_run(new_run_id), identity="",
        failure=workflow_retry.RUN_TIMEOUT_FAILURE, backoff=backoff,
        memo=loads(row[0]) if row[0] else None,
        search_attributes=loads(row[1]) if row[1] else None)


def next_due_time(tx: Tx, now: float) -> float | None:
    """The earliest future moment at which something becomes due or visible."""
    row = tx.one(
        "SELECT MIN(t) FROM ("
        " SELECT MIN(fire_at) AS t FROM timers"
        " UNION ALL SELECT MIN(deadline_at) FROM activity_tasks WHERE deadline_at IS NOT NULL"
        " UNION ALL SELECT MIN(visible_at) FROM activity_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > ?"
        " UNION ALL SELECT MIN(visible_at) FROM workflow_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > ?"
        # When a task offered to one worker becomes anyone's.
        " UNION ALL SELECT MIN(visible_at) + ? FROM workflow_tasks WHERE lease_owner IS NULL"
        "  AND affinity IS NOT NULL AND visible_at > ?"
        " UNION ALL SELECT MIN(lease_expires_at) FROM workflow_tasks"
        "  WHERE lease_owner IS NOT NULL"
        " UNION ALL SELECT MIN(execution_deadline) FROM executions WHERE status = 1"
        "  AND execution_deadline IS NOT NULL"
        # A schedule's next time; one overdue by more than a second is left out, so a
        # scheduler that is not keeping up does not make every sweeper spin.
        " UNION ALL SELECT MIN(next_action_at) FROM schedules WHERE next_action_at > ?) due",
        (now, now, AFFINITY_GRACE_SECONDS, now - AFFINITY_GRACE_SECONDS, now - 1.0))
    return row[0] if row else None


def delete_closed_runs(tx: Tx, closed_before: float,
                       limit: int) -> int:
    rows = tx.all(
        "DELETE FROM executions WHERE run_id IN (SELECT run_id FROM executions e "
        "WHERE status <> 1 AND close_time < ? AND NOT EXISTS (SELECT 1 FROM executions c "
        "WHERE c.parent_run_id = e.run_id AND c.status = 1) ORDER BY close_time "
        f"LIMIT ?{tx.dialect.skip_locked}) RETURNING run_id", (closed_before, limit))
    run_ids = [r[0] for r in rows]
    if run_ids:
        for table in ("history", "search_attribute_values", "updates", "queries", "inbox"):
            among, params = tx.dialect.in_("run_id", run_ids)
            tx.run(f"DELETE FROM {table} WHERE {among}", params)
        streams.delete_runs(tx, run_ids)
        payloads.delete_runs(tx, run_ids)
    # Activities started from a client go by the same retention, in the room left.
    return len(run_ids) + (standalone.delete_closed(tx, closed_before, limit - len(run_ids))
                           if len(run_ids) < limit else 0)


def store_status(tx: Tx) -> dict[str, Any]:
    """Counts an operator wants to see before and after a cleanup."""
    row = tx.one(
        "SELECT (SELECT value FROM stalwart_meta WHERE key = 'schema_version'),"
        " (SELECT COUNT(*) FROM executions WHERE status = 1),"
        " (SELECT COUNT(*) FROM executions WHERE status <> 1),"
        " (SELECT COUNT(*) FROM history), (SELECT COUNT(*) FROM workflow_tasks),"
        " (SELECT COUNT(*) FROM activity_tasks), (SELECT COUNT(*) FROM timers),"
        " (SELECT COUNT(*) FROM workers)")
    return {
        "schema_version": int(row[0]) if row[0] else 0, "open_runs": row[1],
        "closed_runs": row[2], "history_events": row[3], "pending_workflow_tasks": row[4],
        "pending_activity_tasks": row[5], "timers": row[6], "workers": row[7],
    }


def ready_backlog(tx: Tx, now: float) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for kind, queue, count in tx.all(
            "SELECT 'workflow', task_queue, COUNT(*) FROM workflow_tasks WHERE "
            "lease_owner IS NULL AND visible_at <= ? GROUP BY task_queue UNION ALL "
            "SELECT 'activity', task_queue, COUNT(*) FROM activity_tasks WHERE "
            "lease_owner IS NULL AND visible_at <= ? GROUP BY task_queue", (now, now)):
        out[(kind, queue)] = int(count)
    return out
