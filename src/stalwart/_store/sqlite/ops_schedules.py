"""SQLite store operations on schedules and the scheduler lease.

The schedule's definition and state are JSON the engine owns. ``mutate_schedule`` reads the
row, hands it to the engine's step together with a transaction object that can start, cancel
and terminate workflows, and writes back what the step returns, all in one write transaction:
a due time is fired, and the schedule advanced past it, together or not at all.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ..._model.events import EventType
from ..base import (
    ExecutionStatus,
    ScheduleRow,
    ScheduleRun,
    ScheduleStep,
    StartResult,
    StartWorkflowRequest,
)
from .connection import WriteContext
from .ops_executions import add_external_event, dumps, loads, start_workflow, terminate

_COLUMNS = ("schedule_id, schedule, info, memo, search_attributes, created_at, updated_at, "
            "next_action_at, version")
_LEASE = "scheduler"


def _runs(conn: sqlite3.Connection, schedule_id: str) -> list[ScheduleRun]:
    return [ScheduleRun(*r) for r in conn.execute(
        "SELECT workflow_id, first_run_id, run_id FROM schedule_runs WHERE schedule_id = ? "
        "ORDER BY rowid", (schedule_id,))]


def _row(conn: sqlite3.Connection, r: Any) -> ScheduleRow:
    return ScheduleRow(schedule_id=r[0], schedule=loads(r[1]), info=loads(r[2]),
                       memo=loads(r[3]) if r[3] else None,
                       search_attributes=loads(r[4]) if r[4] else None, created_at=r[5],
                       updated_at=r[6], next_action_at=r[7], running=_runs(conn, r[0]),
                       version=r[8])


def _write_runs(conn: sqlite3.Connection, row: ScheduleRow) -> None:
    conn.execute("DELETE FROM schedule_runs WHERE schedule_id = ?", (row.schedule_id,))
    conn.executemany("INSERT OR REPLACE INTO schedule_runs (schedule_id, workflow_id, "
                     "first_run_id, run_id) VALUES (?, ?, ?, ?)",
                     [(row.schedule_id, r.workflow_id, r.first_run_id, r.run_id)
                      for r in row.running])


def create_schedule(ctx: WriteContext, conn: sqlite3.Connection, row: ScheduleRow,
                    now: float) -> bool:
    """Insert a new schedule; False if the id is taken."""
    try:
        conn.execute(f"INSERT INTO schedules ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
                     (row.schedule_id, dumps(row.schedule), dumps(row.info),
                      dumps(row.memo) if row.memo else None,
                      dumps(row.search_attributes) if row.search_attributes else None,
                      row.created_at, row.updated_at, row.next_action_at))
    except sqlite3.IntegrityError:
        return False
    _write_runs(conn, row)
    ctx.wake("schedule", row.schedule_id)
    return True


def get_schedule(conn: sqlite3.Connection, schedule_id: str) -> ScheduleRow | None:
    r = conn.execute(f"SELECT {_COLUMNS} FROM schedules WHERE schedule_id = ?",
                     (schedule_id,)).fetchone()
    return _row(conn, r) if r is not None else None


def list_schedules(conn: sqlite3.Connection, limit: int, offset: int) -> list[ScheduleRow]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM schedules ORDER BY schedule_id LIMIT ? "
                        "OFFSET ?", (limit, offset)).fetchall()
    return [_row(conn, r) for r in rows]


def delete_schedule(ctx: WriteContext, conn: sqlite3.Connection, schedule_id: str) -> bool:
    deleted = conn.execute("DELETE FROM schedules WHERE schedule_id = ?",
                           (schedule_id,)).rowcount
    conn.execute("DELETE FROM schedule_runs WHERE schedule_id = ?", (schedule_id,))
    ctx.wake("schedule", schedule_id)
    return bool(deleted)


class _Txn:
    """The workflow operations a schedule step may use, on the step's own transaction."""

    def __init__(self, ctx: WriteContext, conn: sqlite3.Connection, now: float) -> None:
        self._ctx = ctx
        self._conn = conn
        self._now = now

    def latest_run(self, workflow_id: str, first_run_id: str
                   ) -> tuple[str, ExecutionStatus] | None:
        r = self._conn.execute(
            "SELECT run_id, status FROM executions WHERE workflow_id = ? AND first_run_id = ? "
            "ORDER BY start_time DESC, status ASC LIMIT 1", (workflow_id, first_run_id)
        ).fetchone()
        return (r[0], ExecutionStatus(r[1])) if r is not None else None

    def start_workflow(self, request: StartWorkflowRequest) -> StartResult:
        # A savepoint of its own: a refused start must not undo the step's earlier work.
        self._conn.execute("SAVEPOINT schedule_start")
        try:
            result = start_workflow(self._ctx, self._conn, request, self._now)
        except BaseException:
            self._conn.execute("ROLLBACK TO schedule_start")
            self._conn.execute("RELEASE schedule_start")
            raise
        self._conn.execute("RELEASE schedule_start")
        return result

    def terminate_workflow(self, workflow_id: str, run_id: str, reason: str,
                           identity: str) -> None:
        terminate(self._ctx, self._conn, workflow_id, run_id, reason, [], identity, self._now)

    def request_cancel_workflow(self, workflow_id: str, run_id: str, reason: str,
                                identity: str) -> None:
        add_external_event(self._ctx, self._conn, workflow_id, run_id,
                           EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                           {"cause": reason, "identity": identity}, self._now)


def mutate_schedule(ctx: WriteContext, conn: sqlite3.Connection, schedule_id: str,
                    step: ScheduleStep, now: float, wake: bool) -> ScheduleRow | None:
    """Run ``step`` on the schedule inside this transaction; the row after it (None: no such
    schedule)."""
    r = conn.execute(f"SELECT {_COLUMNS} FROM schedules WHERE schedule_id = ?",
                     (schedule_id,)).fetchone()
    if r is None:
        return None
    row = _row(conn, r)
    new = step(row, _Txn(ctx, conn, now))
    if new is None:
        return row
    new.version = row.version + 1
    conn.execute("UPDATE schedules SET schedule = ?, info = ?, memo = ?, search_attributes = ?, "
                 "updated_at = ?, next_action_at = ?, version = ? WHERE schedule_id = ?",
                 (dumps(new.schedule), dumps(new.info), dumps(new.memo) if new.memo else None,
                  dumps(new.search_attributes) if new.search_attributes else None,
                  new.updated_at, new.next_action_at, new.version, schedule_id))
    _write_runs(conn, new)
    if wake:
        ctx.wake("schedule", schedule_id)
    return new


def due_schedules(conn: sqlite3.Connection, now: float, limit: int) -> list[str]:
    """Schedules with a time due, or with a started workflow that has closed since."""
    rows = conn.execute(
        "SELECT schedule_id FROM schedules WHERE next_action_at <= ? "
        "UNION SELECT r.schedule_id FROM schedule_runs r JOIN executions e "
        "ON e.run_id = r.run_id WHERE e.status != 1 LIMIT ?", (now, limit)).fetchall()
    return [r[0] for r in rows]


def next_schedule_time(conn: sqlite3.Connection) -> float | None:
    r = conn.execute("SELECT MIN(next_action_at) FROM schedules "
                     "WHERE next_action_at IS NOT NULL").fetchone()
    return r[0] if r else None


def schedule_watch_runs(conn: sqlite3.Connection, limit: int) -> list[str]:
    return [r[0] for r in conn.execute("SELECT run_id FROM schedule_runs LIMIT ?", (limit,))]


def get_scheduler_lease(conn: sqlite3.Connection) -> tuple[str, float] | None:
    r = conn.execute("SELECT owner, expires_at FROM scheduler_lease WHERE name = ?",
                     (_LEASE,)).fetchone()
    return (r[0], r[1]) if r is not None else None


def take_scheduler_lease(ctx: WriteContext, conn: sqlite3.Connection, owner: str,
                         previous_owner: str | None, expires_at: float) -> bool:
    """Compare-and-set: take (or renew) the lease if it is still held by ``previous_owner``."""
    current = get_scheduler_lease(conn)
    if (current[0] if current is not None else None) != previous_owner:
        return False
    conn.execute("INSERT INTO scheduler_lease (name, owner, expires_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
                 "expires_at = excluded.expires_at", (_LEASE, owner, expires_at))
    return True


def release_scheduler_lease(ctx: WriteContext, conn: sqlite3.Connection, owner: str) -> None:
    if conn.execute("DELETE FROM scheduler_lease WHERE name = ? AND owner = ?",
                    (_LEASE, owner)).rowcount:
        ctx.wake("schedule", "")
