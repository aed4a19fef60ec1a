"""Schedules and the scheduler lease on PostgreSQL.

``mutate_schedule`` locks the schedule's row, hands it to the engine's (synchronous) step with a
transaction object that can start, cancel and terminate workflows, and writes back what the step
returns, all in one transaction. The step runs on a thread; each workflow operation it calls is
run on the event loop, on the step's own connection and transaction, while the loop otherwise
waits for the step.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from ..._model.events import EventType
from ..base import (
    ExecutionStatus,
    ScheduleRow,
    ScheduleRun,
    ScheduleStep,
    StartResult,
    StartWorkflowRequest,
)
from .connection import AsyncConn, WriteContext

T = TypeVar("T")
dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
loads = json.loads

_COLUMNS = ("schedule_id, schedule, info, memo, search_attributes, created_at, updated_at, "
            "next_action_at, version")
_LEASE = "scheduler"


async def _runs(conn: AsyncConn, schedule_id: str) -> list[ScheduleRun]:
    cursor = await conn.execute("SELECT workflow_id, first_run_id, run_id FROM schedule_runs "
                                "WHERE schedule_id = %s ORDER BY position", (schedule_id,))
    return [ScheduleRun(*r) for r in await cursor.fetchall()]


async def _row(conn: AsyncConn, r: Any) -> ScheduleRow:
    return ScheduleRow(schedule_id=r[0], schedule=loads(r[1]), info=loads(r[2]),
                       memo=loads(r[3]) if r[3] else None,
                       search_attributes=loads(r[4]) if r[4] else None, created_at=r[5],
                       updated_at=r[6], next_action_at=r[7], running=await _runs(conn, r[0]),
                       version=r[8])


async def _write_runs(conn: AsyncConn, row: ScheduleRow) -> None:
    await conn.execute("DELETE FROM schedule_runs WHERE schedule_id = %s", (row.schedule_id,))
    runs = {r.first_run_id: r for r in row.running}  # the last of duplicates wins, as on SQLite
    if runs:
        async with conn.cursor() as cursor:
            await cursor.executemany(
                "INSERT INTO schedule_runs (schedule_id, workflow_id, first_run_id, run_id) "
                "VALUES (%s, %s, %s, %s)",
                [(row.schedule_id, r.workflow_id, r.first_run_id, r.run_id)
                 for r in runs.values()])


async def create_schedule(ctx: WriteContext, conn: AsyncConn, row: ScheduleRow,
                          now: float) -> bool:
    """Insert a new schedule; False if the id is taken."""
    cursor = await conn.execute(
        f"INSERT INTO schedules ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1) "
        "ON CONFLICT (schedule_id) DO NOTHING RETURNING schedule_id",
        (row.schedule_id, dumps(row.schedule), dumps(row.info),
         dumps(row.memo) if row.memo else None,
         dumps(row.search_attributes) if row.search_attributes else None,
         row.created_at, row.updated_at, row.next_action_at))
    if await cursor.fetchone() is None:
        return False
    await _write_runs(conn, row)
    ctx.wake("schedule", row.schedule_id)
    return True


async def get_schedule(conn: AsyncConn, schedule_id: str) -> ScheduleRow | None:
    cursor = await conn.execute(f"SELECT {_COLUMNS} FROM schedules WHERE schedule_id = %s",
                                (schedule_id,))
    r = await cursor.fetchone()
    return await _row(conn, r) if r is not None else None


async def list_schedules(conn: AsyncConn, limit: int, offset: int) -> list[ScheduleRow]:
    cursor = await conn.execute(f"SELECT {_COLUMNS} FROM schedules ORDER BY schedule_id "
                                "LIMIT %s OFFSET %s", (limit, offset))
    return [await _row(conn, r) for r in await cursor.fetchall()]


async def delete_schedule(ctx: WriteContext, conn: AsyncConn, schedule_id: str) -> bool:
    cursor = await conn.execute("DELETE FROM schedules WHERE schedule_id = %s", (schedule_id,))
    await conn.execute("DELETE FROM schedule_runs WHERE schedule_id = %s", (schedule_id,))
    ctx.wake("schedule", schedule_id)
    return cursor.rowcount > 0


StartFn = Callable[[WriteContext, AsyncConn, StartWorkflowRequest, float],
                   Coroutine[Any, Any, StartResult]]
TerminateFn = Callable[..., Coroutine[Any, Any, str]]
AddEventFn = Callable[..., Coroutine[Any, Any, str]]


class _Txn:
    """The workflow operations a schedule step may use, on the step's own transaction."""

    def __init__(self, ctx: WriteContext, conn: AsyncConn, now: float,
                 loop: asyncio.AbstractEventLoop, start: StartFn, terminate: TerminateFn,
                 add_event: AddEventFn) -> None:
        self._ctx = ctx
        self._conn = conn
        self._now = now
        self._loop = loop
        self._start = start
        self._terminate = terminate
        self._add_event = add_event

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def latest_run(self, workflow_id: str, first_run_id: str
                   ) -> tuple[str, ExecutionStatus] | None:
        async def read() -> Any:
            cursor = await self._conn.execute(
                "SELECT run_id, status FROM executions WHERE workflow_id = %s AND "
                "first_run_id = %s ORDER BY start_time DESC, status ASC LIMIT 1",
                (workflow_id, first_run_id))
            return await cursor.fetchone()

        r = self._call(read())
        return (r[0], ExecutionStatus(r[1])) if r is not None else None

    def start_workflow(self, request: StartWorkflowRequest) -> StartResult:
        async def start() -> StartResult:
            # A savepoint of its own: a refused start must not undo the step's earlier work.
            async with self._conn.transaction():
                return await self._start(self._ctx, self._conn, request, self._now)

        return self._call(start())

    def terminate_workflow(self, workflow_id: str, run_id: str, reason: str,
                           identity: str) -> None:
        self._call(self._terminate(self._ctx, self._conn, workflow_id, run_id, reason, [],
                                   identity, self._now))

    def request_cancel_workflow(self, workflow_id: str, run_id: str, reason: str,
                                identity: str) -> None:
        self._call(self._add_event(self._ctx, self._conn, workflow_id, run_id,
                                   EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                                   {"cause": reason, "identity": identity}, self._now))


async def mutate_schedule(ctx: WriteContext, conn: AsyncConn, schedule_id: str,
                          step: ScheduleStep, now: float, wake: bool, start: StartFn,
                          terminate: TerminateFn, add_event: AddEventFn) -> ScheduleRow | None:
    """Run ``step`` on the schedule inside this transaction; the row after it (None: no such
    schedule). The row lock makes two processes' scheduler steps on one schedule take turns."""
    cursor = await conn.execute(f"SELECT {_COLUMNS} FROM schedules WHERE schedule_id = %s "
                                "FOR UPDATE", (schedule_id,))
    r = await cursor.fetchone()
    if r is None:
        return None
    row = await _row(conn, r)
    loop = asyncio.get_running_loop()
    txn = _Txn(ctx, conn, now, loop, start, terminate, add_event)
    new = await loop.run_in_executor(None, step, row, txn)
    if new is None:
        return row
    new.version = row.version + 1
    await conn.execute(
        "UPDATE schedules SET schedule = %s, info = %s, memo = %s, search_attributes = %s, "
        "updated_at = %s, next_action_at = %s, version = %s WHERE schedule_id = %s",
        (dumps(new.schedule), dumps(new.info), dumps(new.memo) if new.memo else None,
         dumps(new.search_attributes) if new.search_attributes else None,
         new.updated_at, new.next_action_at, new.version, schedule_id))
    await _write_runs(conn, new)
    if wake:
        ctx.wake("schedule", schedule_id)
    return new


async def due_schedules(conn: AsyncConn, now: float, limit: int) -> list[str]:
    """Schedules with a time due, or with a started workflow that has closed since."""
    cursor = await conn.execute(
        "SELECT schedule_id FROM schedules WHERE next_action_at <= %s "
        "UNION SELECT r.schedule_id FROM schedule_runs r JOIN executions e "
        "ON e.run_id = r.run_id WHERE e.status <> 1 LIMIT %s", (now, limit))
    return [r[0] for r in await cursor.fetchall()]


async def next_schedule_time(conn: AsyncConn) -> float | None:
    cursor = await conn.execute("SELECT MIN(next_action_at) FROM schedules "
                                "WHERE next_action_at IS NOT NULL")
    r = await cursor.fetchone()
    return r[0] if r else None


async def schedule_watch_runs(conn: AsyncConn, limit: int) -> list[str]:
    cursor = await conn.execute("SELECT run_id FROM schedule_runs LIMIT %s", (limit,))
    return [r[0] for r in await cursor.fetchall()]


async def get_scheduler_lease(conn: AsyncConn) -> tuple[str, float] | None:
    cursor = await conn.execute("SELECT owner, expires_at FROM scheduler_lease WHERE name = %s",
                                (_LEASE,))
    r = await cursor.fetchone()
    return (r[0], r[1]) if r is not None else None


async def take_scheduler_lease(ctx: WriteContext, conn: AsyncConn, owner: str,
                               previous_owner: str | None, expires_at: float) -> bool:
    """Compare-and-set: take (or renew) the lease if it is still held by ``previous_owner``."""
    if previous_owner is None:
        cursor = await conn.execute(
            "INSERT INTO scheduler_lease (name, owner, expires_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (name) DO NOTHING RETURNING name", (_LEASE, owner, expires_at))
    else:
        cursor = await conn.execute(
            "UPDATE scheduler_lease SET owner = %s, expires_at = %s WHERE name = %s AND "
            "owner = %s RETURNING name", (owner, expires_at, _LEASE, previous_owner))
    return await cursor.fetchone() is not None


async def release_scheduler_lease(ctx: WriteContext, conn: AsyncConn, owner: str) -> None:
    cursor = await conn.execute("DELETE FROM scheduler_lease WHERE name = %s AND owner = %s",
                                (_LEASE, owner))
    if cursor.rowcount:
        ctx.wake("schedule", "")
