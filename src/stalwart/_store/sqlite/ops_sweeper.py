"""SQLite store operations on deadlines and workers: timers, timeouts, liveness reclaim."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..._model.events import EventType
from ..base import (
    ExecutionStatus,
    ExpiredActivity,
    WorkerRow,
)
from .connection import WriteContext
from .ops_executions import (
    append_event,
    close_run,
    dumps,
    loads,
)
from .ops_tasks import (
    ACTIVITY_COLUMNS,
    wake_workflow,
)


def register_worker(ctx: WriteContext, conn: sqlite3.Connection, worker: WorkerRow) -> None:
    conn.execute("INSERT OR REPLACE INTO workers (worker_id, identity, task_queue, host, pid, "
                 "pid_start, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (worker.worker_id, worker.identity, worker.task_queue, worker.host, worker.pid,
                  worker.pid_start, worker.heartbeat_at))


def unregister_worker(ctx: WriteContext, conn: sqlite3.Connection, worker_id: str) -> None:
    conn.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))


def list_workers(conn: sqlite3.Connection) -> list[WorkerRow]:
    return [WorkerRow(*row) for row in conn.execute(
        "SELECT worker_id, identity, task_queue, host, pid, pid_start, heartbeat_at "
        "FROM workers")]


def has_due_timers(conn: sqlite3.Connection, now: float) -> bool:
    return conn.execute("SELECT 1 FROM timers WHERE fire_at <= ? LIMIT 1", (now,)).fetchone() \
        is not None


def fire_due_timers(ctx: WriteContext, conn: sqlite3.Connection, now: float,
                     limit: int) -> int:
    rows = conn.execute("SELECT run_id, seq, fire_at FROM timers WHERE fire_at <= ? "
                        "ORDER BY fire_at LIMIT ?", (now, limit)).fetchall()
    for run_id, seq, _fire_at in rows:
        conn.execute("DELETE FROM timers WHERE run_id = ? AND seq = ?", (run_id, seq))
        conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                     "VALUES (?, ?, ?, ?)", (run_id, EventType.TIMER_FIRED, now,
                                             dumps({"seq": seq, "timer_id": str(seq)})))
        wake_workflow(ctx, conn, run_id, "", now, False)
    return len(rows)


def row_to_expired(r: Any) -> ExpiredActivity:
    return ExpiredActivity(
        run_id=r[0], seq=r[1], workflow_id=r[2], activity_type=r[4], activity_id=r[5],
        options=loads(r[8]), attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11],
        started_at=r[12], heartbeat_details=loads(r[13]) if r[13] else [], lease_owner=r[14],
        heartbeat_at=r[15], last_failure=loads(r[16]) if r[16] else None)


def expired_activities(conn: sqlite3.Connection, now: float, limit: int
                        ) -> list[ExpiredActivity]:
    rows = conn.execute(f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE deadline_at <= ? "
                        "ORDER BY deadline_at LIMIT ?", (now, limit)).fetchall()
    return [row_to_expired(r) for r in rows]


def activities_of_worker(conn: sqlite3.Connection, worker_id: str) -> list[ExpiredActivity]:
    rows = conn.execute(f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE lease_owner = ?",
                        (worker_id,)).fetchall()
    return [row_to_expired(r) for r in rows]


def release_workflow_tasks_of_worker(ctx: WriteContext, conn: sqlite3.Connection,
                                      worker_id: str, now: float) -> int:
    rows = conn.execute("SELECT run_id, task_queue FROM workflow_tasks WHERE lease_owner = ?",
                        (worker_id,)).fetchall()
    conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                 "visible_at = ?, affinity = NULL WHERE lease_owner = ?", (now, worker_id))
    conn.execute("UPDATE workflow_tasks SET affinity = NULL WHERE affinity = ?", (worker_id,))
    conn.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))
    for _, task_queue in rows:
        ctx.wake("workflow_task", task_queue)
    return len(rows)


def has_expired_executions(conn: sqlite3.Connection, now: float) -> bool:
    return conn.execute("SELECT 1 FROM executions WHERE status = 1 AND execution_deadline <= ? "
                        "LIMIT 1", (now,)).fetchone() is not None


def time_out_executions(ctx: WriteContext, conn: sqlite3.Connection, now: float,
                         limit: int) -> int:
    rows = conn.execute("SELECT run_id, next_event_id FROM executions WHERE status = 1 AND "
                        "execution_deadline <= ? LIMIT ?", (now, limit)).fetchall()
    for run_id, next_event_id in rows:
        append_event(conn, run_id, next_event_id, EventType.WORKFLOW_EXECUTION_TIMED_OUT, now,
                      {"retry_state": 3})
        conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                     (next_event_id + 1, run_id))
        close_run(ctx, conn, run_id, ExecutionStatus.TIMED_OUT, now, None,
                   {"message": "Workflow execution timed out", "source": "Stalwart",
                    "timeout_failure_info": {"timeout_type": 0}})
    return len(rows)


def next_due_time(conn: sqlite3.Connection, now: float) -> float | None:
    """The earliest future moment at which something becomes due or visible."""
    row = conn.execute(
        "SELECT MIN(t) FROM ("
        " SELECT MIN(fire_at) AS t FROM timers"
        " UNION ALL SELECT MIN(deadline_at) FROM activity_tasks WHERE deadline_at IS NOT NULL"
        " UNION ALL SELECT MIN(visible_at) FROM activity_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > ?"
        " UNION ALL SELECT MIN(visible_at) FROM workflow_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > ?"
        " UNION ALL SELECT MIN(lease_expires_at) FROM workflow_tasks"
        "  WHERE lease_owner IS NOT NULL"
        " UNION ALL SELECT MIN(execution_deadline) FROM executions WHERE status = 1"
        "  AND execution_deadline IS NOT NULL"
        # A schedule's next time; one overdue by more than a second is left out, so a
        # scheduler that is not keeping up does not make every sweeper spin.
        " UNION ALL SELECT MIN(next_action_at) FROM schedules WHERE next_action_at > ?)",
        (now, now, now - 1.0)).fetchone()
    return row[0] if row else None


def delete_closed_runs(ctx: WriteContext, conn: sqlite3.Connection, closed_before: float,
                       limit: int) -> int:
    """Retention: forget runs closed before ``closed_before`` — their row, history, search
    attribute index rows, updates and queries. Runs still referenced as the parent of an open
    child are kept until that child closes."""
    rows = conn.execute(
        "SELECT run_id FROM executions e WHERE status != 1 AND close_time < ? AND NOT EXISTS "
        "(SELECT 1 FROM executions c WHERE c.parent_run_id = e.run_id AND c.status = 1) "
        "ORDER BY close_time LIMIT ?", (closed_before, limit)).fetchall()
    for (run_id,) in rows:
        for table in ("history", "search_attribute_values", "updates", "queries", "inbox",
                      "executions"):
            conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
    return len(rows)


def store_status(conn: sqlite3.Connection) -> dict[str, Any]:
    """Counts an operator wants to see before and after a cleanup."""
    def count(sql: str) -> int:
        return int(conn.execute(sql).fetchone()[0])

    version = conn.execute(
        "SELECT value FROM stalwart_meta WHERE key = 'schema_version'").fetchone()
    return {
        "schema_version": int(version[0]) if version else 0,
        "open_runs": count("SELECT COUNT(*) FROM executions WHERE status = 1"),
        "closed_runs": count("SELECT COUNT(*) FROM executions WHERE status != 1"),
        "history_events": count("SELECT COUNT(*) FROM history"),
        "pending_workflow_tasks": count("SELECT COUNT(*) FROM workflow_tasks"),
        "pending_activity_tasks": count("SELECT COUNT(*) FROM activity_tasks"),
        "timers": count("SELECT COUNT(*) FROM timers"),
        "workers": count("SELECT COUNT(*) FROM workers"),
    }


def ready_backlog(conn: sqlite3.Connection, now: float) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for kind, table in (("workflow", "workflow_tasks"), ("activity", "activity_tasks")):
        for queue, count in conn.execute(
                f"SELECT task_queue, COUNT(*) FROM {table} WHERE lease_owner IS NULL AND "
                "visible_at <= ? GROUP BY task_queue", (now,)):
            out[(kind, queue)] = int(count)
    return out
