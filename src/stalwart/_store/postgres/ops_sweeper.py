"""PostgreSQL store operations on deadlines, workers, retention and status."""

from __future__ import annotations

from typing import Any

from ..._model.events import EventType
from ..base import (
    ExecutionStatus,
    ExpiredActivity,
    WorkerRow,
)
from .connection import (
    AsyncConn,
    WriteContext,
)
from .ops_executions import (
    ACTIVITY_COLUMNS,
    all,
    append_event,
    close_run,
    insert_inbox,
    loads,
    one,
)
from .ops_tasks import (
    wake_workflow,
)


async def register_worker(ctx: WriteContext, conn: AsyncConn, worker: WorkerRow) -> None:
    await conn.execute(
        "INSERT INTO workers (worker_id, identity, task_queue, host, pid, pid_start, "
        "heartbeat_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (worker_id) DO UPDATE "
        "SET identity = EXCLUDED.identity, task_queue = EXCLUDED.task_queue, "
        "host = EXCLUDED.host, pid = EXCLUDED.pid, pid_start = EXCLUDED.pid_start, "
        "heartbeat_at = EXCLUDED.heartbeat_at",
        (worker.worker_id, worker.identity, worker.task_queue, worker.host, worker.pid,
         worker.pid_start, worker.heartbeat_at))


async def unregister_worker(ctx: WriteContext, conn: AsyncConn, worker_id: str) -> None:
    await conn.execute("DELETE FROM workers WHERE worker_id = %s", (worker_id,))


async def list_workers(conn: AsyncConn) -> list[WorkerRow]:
    return [WorkerRow(*row) for row in await all(
        conn, "SELECT worker_id, identity, task_queue, host, pid, pid_start, heartbeat_at "
              "FROM workers")]


async def fire_due_timers(ctx: WriteContext, conn: AsyncConn, now: float, limit: int) -> int:
    # Locks the timer and its run together, skipping both when either is busy: a run whose
    # workflow task is committing right now gets its timer on the next sweep, and no sweeper
    # ever waits on another (or deadlocks with a commit that cancels the timer).
    rows = await all(
        conn, "SELECT t.run_id, t.seq, e.task_queue, e.status FROM timers t "
              "JOIN executions e ON e.run_id = t.run_id WHERE t.fire_at <= %s "
              "ORDER BY t.fire_at LIMIT %s FOR UPDATE OF t, e SKIP LOCKED", (now, limit))
    for run_id, seq, task_queue, status in rows:
        await conn.execute("DELETE FROM timers WHERE run_id = %s AND seq = %s", (run_id, seq))
        if status != ExecutionStatus.RUNNING:
            continue
        await insert_inbox(conn, run_id, EventType.TIMER_FIRED, now,
                            {"seq": seq, "timer_id": str(seq)})
        await wake_workflow(ctx, conn, (task_queue, status), run_id, "", now, False)
    return len(rows)


def row_to_expired(r: Any) -> ExpiredActivity:
    return ExpiredActivity(
        run_id=r[0], seq=r[1], workflow_id=r[2], activity_type=r[4], activity_id=r[5],
        options=loads(r[8]), attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11],
        started_at=r[12], heartbeat_details=loads(r[13]) if r[13] else [], lease_owner=r[14],
        heartbeat_at=r[15], last_failure=loads(r[16]) if r[16] else None)


async def expired_activities(conn: AsyncConn, now: float, limit: int
                              ) -> list[ExpiredActivity]:
    rows = await all(conn, f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE "
                            "deadline_at <= %s ORDER BY deadline_at LIMIT %s", (now, limit))
    return [row_to_expired(r) for r in rows]


async def activities_of_worker(conn: AsyncConn, worker_id: str) -> list[ExpiredActivity]:
    rows = await all(conn, f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE "
                            "lease_owner = %s", (worker_id,))
    return [row_to_expired(r) for r in rows]


async def release_workflow_tasks_of_worker(ctx: WriteContext, conn: AsyncConn, worker_id: str,
                                            now: float) -> int:
    rows = await all(conn, "UPDATE workflow_tasks SET lease_owner = NULL, "
                            "lease_expires_at = NULL, visible_at = %s, affinity = NULL "
                            "WHERE lease_owner = %s RETURNING task_queue", (now, worker_id))
    await conn.execute("UPDATE workflow_tasks SET affinity = NULL WHERE affinity = %s",
                       (worker_id,))
    await conn.execute("DELETE FROM workers WHERE worker_id = %s", (worker_id,))
    for (task_queue,) in rows:
        ctx.wake("workflow_task", task_queue)
    return len(rows)


async def time_out_executions(ctx: WriteContext, conn: AsyncConn, now: float,
                               limit: int) -> int:
    rows = await all(conn, "SELECT run_id, next_event_id FROM executions WHERE status = 1 AND "
                            "execution_deadline <= %s LIMIT %s FOR UPDATE SKIP LOCKED",
                      (now, limit))
    for run_id, next_event_id in rows:
        await append_event(conn, run_id, next_event_id,
                            EventType.WORKFLOW_EXECUTION_TIMED_OUT, now, {"retry_state": 3})
        await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                           (next_event_id + 1, run_id))
        await close_run(ctx, conn, run_id, ExecutionStatus.TIMED_OUT, now, None,
                         {"message": "Workflow execution timed out", "source": "Stalwart",
                          "timeout_failure_info": {"timeout_type": 0}})
    return len(rows)


async def next_due_time(conn: AsyncConn, now: float) -> float | None:
    """The earliest future moment at which something becomes due or visible."""
    row = await one(
        conn,
        "SELECT LEAST("
        " (SELECT MIN(fire_at) FROM timers),"
        " (SELECT MIN(deadline_at) FROM activity_tasks WHERE deadline_at IS NOT NULL),"
        " (SELECT MIN(visible_at) FROM activity_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > %s),"
        " (SELECT MIN(visible_at) FROM workflow_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > %s),"
        " (SELECT MIN(lease_expires_at) FROM workflow_tasks WHERE lease_owner IS NOT NULL),"
        " (SELECT MIN(execution_deadline) FROM executions WHERE status = 1"
        "  AND execution_deadline IS NOT NULL),"
        # A schedule's next time; one overdue by more than a second is left out, so a
        # scheduler that is not keeping up does not make every sweeper spin.
        " (SELECT MIN(next_action_at) FROM schedules WHERE next_action_at > %s))",
        (now, now, now - 1.0))
    return row[0] if row else None


async def delete_closed_runs(ctx: WriteContext, conn: AsyncConn, closed_before: float,
                              limit: int) -> int:
    rows = await all(
        conn, "DELETE FROM executions WHERE run_id IN (SELECT run_id FROM executions e "
              "WHERE status <> 1 AND close_time < %s AND NOT EXISTS (SELECT 1 FROM executions c "
              "WHERE c.parent_run_id = e.run_id AND c.status = 1) ORDER BY close_time "
              "LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING run_id", (closed_before, limit))
    run_ids = [r[0] for r in rows]
    if run_ids:
        for table in ("history", "search_attribute_values", "updates", "queries", "inbox"):
            await conn.execute(f"DELETE FROM {table} WHERE run_id = ANY(%s)", (run_ids,))
    return len(run_ids)


async def store_status(conn: AsyncConn) -> dict[str, Any]:
    """Counts an operator wants to see before and after a cleanup."""
    row = await one(
        conn,
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


async def ready_backlog(conn: AsyncConn, now: float) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for kind, queue, count in await all(
            conn, "SELECT 'workflow', task_queue, COUNT(*) FROM workflow_tasks WHERE "
                  "lease_owner IS NULL AND visible_at <= %s GROUP BY task_queue UNION ALL "
                  "SELECT 'activity', task_queue, COUNT(*) FROM activity_tasks WHERE "
                  "lease_owner IS NULL AND visible_at <= %s GROUP BY task_queue", (now, now)):
        out[(kind, queue)] = int(count)
    return out
