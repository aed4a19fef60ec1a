"""Read-only SQL for what the ``Store`` protocol does not offer: listing with offsets and time
ranges, counts, the look-ups the timeline needs, and the numbers behind ``/metrics``.

It runs on a connection of its own (``query_only``), so a slow list never holds up the store's
reader that describe and history use.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from .._store.base import ExecutionStatus
from .._store.sqlite.connection import Reader, parse_url

_COLUMNS = ("run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, "
            "next_event_id, parent_workflow_id, parent_run_id, continued_run_id, next_run_id")

# Events a later event of the same seq refers back to (for durations and names).
_OPENING_EVENTS = ("ActivityTaskScheduled", "TimerStarted", "StartChildWorkflowExecutionInitiated",
                   "WorkflowExecutionUpdateAccepted")


@dataclass
class ListFilter:
    status: ExecutionStatus | None = None
    workflow_type: str | None = None
    workflow_id_prefix: str | None = None
    task_queue: str | None = None
    started_after: float | None = None
    started_before: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.status is not None:
            clauses.append("status = ?")
            params.append(int(self.status))
        if self.workflow_type:
            clauses.append("workflow_type = ?")
            params.append(self.workflow_type)
        if self.workflow_id_prefix:
            # A range instead of LIKE: no escaping of % and _ in ids, and the index is used.
            clauses.append("workflow_id >= ? AND workflow_id < ?")
            params += [self.workflow_id_prefix, self.workflow_id_prefix + "\U0010ffff"]
        if self.task_queue:
            clauses.append("task_queue = ?")
            params.append(self.task_queue)
        if self.started_after is not None:
            clauses.append("start_time >= ?")
            params.append(self.started_after)
        if self.started_before is not None:
            clauses.append("start_time < ?")
            params.append(self.started_before)
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


@dataclass
class RunSummary:
    run_id: str
    workflow_id: str
    workflow_type: str
    task_queue: str
    status: ExecutionStatus
    start_time: float
    close_time: float | None
    history_length: int
    parent_workflow_id: str | None
    parent_run_id: str | None
    continued_run_id: str | None
    next_run_id: str | None


def _summary(row: Any) -> RunSummary:
    return RunSummary(run_id=row[0], workflow_id=row[1], workflow_type=row[2], task_queue=row[3],
                      status=ExecutionStatus(row[4]), start_time=row[5], close_time=row[6],
                      history_length=row[7] - 1, parent_workflow_id=row[8],
                      parent_run_id=row[9], continued_run_id=row[10], next_run_id=row[11])


def _list(conn: Any, flt: ListFilter, limit: int, offset: int) -> list[RunSummary]:
    where, params = flt.where()
    rows = conn.execute(f"SELECT {_COLUMNS} FROM executions {where} "
                        "ORDER BY start_time DESC, run_id LIMIT ? OFFSET ?",
                        (*params, limit, offset)).fetchall()
    return [_summary(r) for r in rows]


def _count(conn: Any, flt: ListFilter) -> int:
    where, params = flt.where()
    return int(conn.execute(f"SELECT COUNT(*) FROM executions {where}", params).fetchone()[0])


def _count_by_status(conn: Any, flt: ListFilter) -> dict[str, int]:
    where, params = flt.where()
    rows = conn.execute(f"SELECT status, COUNT(*) FROM executions {where} GROUP BY status",
                        params).fetchall()
    return {ExecutionStatus(r[0]).name: int(r[1]) for r in rows}


def _children(conn: Any, run_id: str) -> list[RunSummary]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM executions WHERE parent_run_id = ? "
                        "ORDER BY start_time", (run_id,)).fetchall()
    return [_summary(r) for r in rows]


def _runs_of(conn: Any, workflow_id: str, limit: int) -> list[RunSummary]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM executions WHERE workflow_id = ? "
                        "ORDER BY start_time DESC LIMIT ?", (workflow_id, limit)).fetchall()
    return [_summary(r) for r in rows]


def _opening_events(conn: Any, run_id: str, before_event_id: int, seqs: list[int],
                    update_ids: list[str]) -> list[tuple[int, str, float, dict[str, Any]]]:
    out: list[Any] = []
    if seqs:
        marks = ",".join("?" * len(seqs))
        out += conn.execute(
            "SELECT event_id, event_type, timestamp, attributes FROM history "
            "WHERE run_id = ? AND event_id < ? AND event_type IN (?, ?, ?) "
            f"AND json_extract(attributes, '$.seq') IN ({marks})",
            (run_id, before_event_id, *_OPENING_EVENTS[:3], *seqs)).fetchall()
    if update_ids:
        marks = ",".join("?" * len(update_ids))
        out += conn.execute(
            "SELECT event_id, event_type, timestamp, attributes FROM history "
            "WHERE run_id = ? AND event_id < ? AND event_type = ? "
            f"AND json_extract(attributes, '$.update_id') IN ({marks})",
            (run_id, before_event_id, _OPENING_EVENTS[3], *update_ids)).fetchall()
    return [(r[0], r[1], r[2], json.loads(r[3])) for r in out]


@dataclass
class MetricsSnapshot:
    executions: dict[tuple[str, str], int]
    backlog: dict[tuple[str, str], int]
    leased: dict[tuple[str, str], int]
    inbox_events: int
    timers: int
    workers: dict[str, int]
    history_events: int
    history_buckets: list[tuple[float, int]]
    history_runs: int
    history_max: int


HISTORY_BUCKETS = (10.0, 100.0, 1_000.0, 10_000.0, 100_000.0)


def _metrics(conn: Any, now: float) -> MetricsSnapshot:
    executions = {(r[0], ExecutionStatus(r[1]).name.lower()): int(r[2]) for r in conn.execute(
        "SELECT workflow_type, status, COUNT(*) FROM executions GROUP BY workflow_type, status")}
    backlog: dict[tuple[str, str], int] = {}
    leased: dict[tuple[str, str], int] = {}
    for kind, table in (("workflow", "workflow_tasks"), ("activity", "activity_tasks")):
        for queue, ready, held in conn.execute(
                f"SELECT task_queue, SUM(lease_owner IS NULL AND visible_at <= ?), "
                f"SUM(lease_owner IS NOT NULL) FROM {table} GROUP BY task_queue", (now,)):
            backlog[(queue, kind)] = int(ready or 0)
            leased[(queue, kind)] = int(held or 0)
    sizes = conn.execute("SELECT COUNT(*), COALESCE(SUM(next_event_id - 1), 0), "
                         "COALESCE(MAX(next_event_id - 1), 0) FROM executions").fetchone()
    buckets = [(bound, int(conn.execute(
        "SELECT COUNT(*) FROM executions WHERE next_event_id - 1 <= ?", (bound,)).fetchone()[0]))
        for bound in HISTORY_BUCKETS]
    return MetricsSnapshot(
        executions=executions, backlog=backlog, leased=leased,
        inbox_events=int(conn.execute("SELECT COUNT(*) FROM inbox").fetchone()[0]),
        timers=int(conn.execute("SELECT COUNT(*) FROM timers").fetchone()[0]),
        workers={r[0]: int(r[1]) for r in conn.execute(
            "SELECT task_queue, COUNT(*) FROM workers GROUP BY task_queue")},
        history_events=int(sizes[1]), history_buckets=buckets, history_runs=int(sizes[0]),
        history_max=int(sizes[2]))


class ReadModel:
    """Read-only queries over the store file, on their own connection and thread."""

    def __init__(self, url: str) -> None:
        self._reader = Reader(parse_url(url))
        self._reader.run_blocking(lambda conn: conn.execute("PRAGMA query_only = ON"))

    def close(self) -> None:
        self._reader.close()

    async def list_runs(self, flt: ListFilter, limit: int, offset: int) -> list[RunSummary]:
        rows: list[RunSummary] = await self._reader.run(_list, flt, limit, offset)
        return rows

    async def count(self, flt: ListFilter) -> int:
        count: int = await self._reader.run(_count, flt)
        return count

    async def count_by_status(self, flt: ListFilter) -> dict[str, int]:
        counts: dict[str, int] = await self._reader.run(_count_by_status, flt)
        return counts

    async def children(self, run_id: str) -> list[RunSummary]:
        rows: list[RunSummary] = await self._reader.run(_children, run_id)
        return rows

    async def runs_of(self, workflow_id: str, limit: int = 20) -> list[RunSummary]:
        rows: list[RunSummary] = await self._reader.run(_runs_of, workflow_id, limit)
        return rows

    async def opening_events(self, run_id: str, before_event_id: int, seqs: list[int],
                             update_ids: list[str]
                             ) -> list[tuple[int, str, float, dict[str, Any]]]:
        rows: list[tuple[int, str, float, dict[str, Any]]] = await self._reader.run(
            _opening_events, run_id, before_event_id, seqs, update_ids)
        return rows

    async def metrics(self) -> MetricsSnapshot:
        snapshot: MetricsSnapshot = await self._reader.run(_metrics, time.time())
        return snapshot
