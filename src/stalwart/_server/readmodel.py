"""Read-only SQL for what the ``Store`` protocol does not offer: listing with offsets and time
ranges, counts, the look-ups the timeline needs, and the numbers behind ``/metrics``.

The same queries run on either backend: on SQLite over a ``query_only`` connection of their
own (so a slow list never holds up the store's reader), on PostgreSQL through the store's pool,
with the few SQLite-isms translated.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol

from .._history_lengths import TemporalLengths
from .._store.base import ExecutionStatus
from .._store.sqlite.connection import Reader, parse_url

_COLUMNS = ("run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, "
            "next_event_id, parent_workflow_id, parent_run_id, continued_run_id, next_run_id")


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



class _Sql(Protocol):
    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]: ...

    def close(self) -> None: ...


class _SqliteSql:
    def __init__(self, url: str) -> None:
        self._reader = Reader(parse_url(url))
        self._reader.run_blocking(lambda conn: conn.execute("PRAGMA query_only = ON"))

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        rows: list[Any] = await self._reader.run(lambda conn: conn.execute(sql, params).fetchall())
        return rows

    def close(self) -> None:
        self._reader.close()


_JSON_FIELD = re.compile(r"json_extract\(attributes, '\$\.(\w+)'\)")
_BOOLEAN_SUM = re.compile(r"SUM\(([^()]*(?:IS NULL|IS NOT NULL)[^()]*)\)")


def postgres_sql(sql: str) -> str:
    """The SQLite dialect used here, in PostgreSQL's (placeholders stay ``?``: the store's
    driver translates them)."""
    sql = _JSON_FIELD.sub(lambda m: f"(attributes::jsonb ->> '{m.group(1)}')", sql)
    sql = _BOOLEAN_SUM.sub(lambda m: f"SUM(({m.group(1)})::int)", sql)
    return sql


class _PostgresSql:
    def __init__(self, store: Any) -> None:
        self._store = store

    async def fetch(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        rows: list[Any] = await self._store.fetch_sql(postgres_sql(sql), params)
        return rows

    def close(self) -> None:
        pass


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
_METRICS_PAGE = 1000



class ReadModel:
    """Read-only queries over the store, for the server's lists, timeline and metrics."""

    def __init__(self, store: Any) -> None:
        url = store.url
        self._sql: _Sql = _SqliteSql(url) if url.startswith("sqlite:") else _PostgresSql(store)

    def close(self) -> None:
        self._sql.close()

    async def list_runs(self, flt: ListFilter, limit: int, offset: int) -> list[RunSummary]:
        where, params = flt.where()
        rows = await self._sql.fetch(f"SELECT {_COLUMNS} FROM executions {where} "
                                     "ORDER BY start_time DESC, run_id LIMIT ? OFFSET ?",
                                     (*params, limit, offset))
        return [_summary(r) for r in rows]

    async def count(self, flt: ListFilter) -> int:
        where, params = flt.where()
        rows = await self._sql.fetch(f"SELECT COUNT(*) FROM executions {where}", tuple(params))
        return int(rows[0][0])

    async def count_by_status(self, flt: ListFilter) -> dict[str, int]:
        where, params = flt.where()
        rows = await self._sql.fetch(
            f"SELECT status, COUNT(*) FROM executions {where} GROUP BY status", tuple(params))
        return {ExecutionStatus(r[0]).name: int(r[1]) for r in rows}

    async def memos(self, run_ids: list[str]) -> dict[str, dict[str, Any] | None]:
        """The stored memo (payloads still encoded) of each run, for a page of rows."""
        if not run_ids:
            return {}
        marks = ", ".join("?" for _ in run_ids)
        rows = await self._sql.fetch(f"SELECT run_id, memo FROM executions WHERE run_id IN "
                                     f"({marks})", tuple(run_ids))
        return {r[0]: json.loads(r[1]) if r[1] else None for r in rows}

    async def children(self, run_id: str) -> list[RunSummary]:
        rows = await self._sql.fetch(f"SELECT {_COLUMNS} FROM executions WHERE "
                                     "parent_run_id = ? ORDER BY start_time", (run_id,))
        return [_summary(r) for r in rows]

    async def runs_of(self, workflow_id: str, limit: int = 20) -> list[RunSummary]:
        rows = await self._sql.fetch(f"SELECT {_COLUMNS} FROM executions WHERE workflow_id = ? "
                                     "ORDER BY start_time DESC LIMIT ?", (workflow_id, limit))
        return [_summary(r) for r in rows]

    async def metrics(self, lengths: TemporalLengths) -> MetricsSnapshot:
        """The gauges of ``/metrics``; history lengths in Temporal's events, as counted by
        ``lengths``."""
        fetch = self._sql.fetch
        now = time.time()
        executions = {(r[0], ExecutionStatus(r[1]).name.lower()): int(r[2]) for r in await fetch(
            "SELECT workflow_type, status, COUNT(*) FROM executions "
            "GROUP BY workflow_type, status")}
        backlog: dict[tuple[str, str], int] = {}
        leased: dict[tuple[str, str], int] = {}
        for kind, table in (("workflow", "workflow_tasks"), ("activity", "activity_tasks")):
            for queue, ready, held in await fetch(
                    f"SELECT task_queue, SUM(lease_owner IS NULL AND visible_at <= ?), "
                    f"SUM(lease_owner IS NOT NULL) FROM {table} GROUP BY task_queue", (now,)):
                backlog[(queue, kind)] = int(ready or 0)
                leased[(queue, kind)] = int(held or 0)
        runs, events, longest, buckets = await self._history_sizes(lengths)
        return MetricsSnapshot(
            executions=executions, backlog=backlog, leased=leased,
            inbox_events=int((await fetch("SELECT COUNT(*) FROM inbox"))[0][0]),
            timers=int((await fetch("SELECT COUNT(*) FROM timers"))[0][0]),
            workers={r[0]: int(r[1]) for r in await fetch(
                "SELECT task_queue, COUNT(*) FROM workers GROUP BY task_queue")},
            history_events=events, history_buckets=buckets, history_runs=runs,
            history_max=longest)

    async def _history_sizes(self, lengths: TemporalLengths
                             ) -> tuple[int, int, int, list[tuple[float, int]]]:
        """Runs, their events in all, the longest history and the histogram's cumulative
        buckets, in Temporal's events. Runs are read a page at a time by run id; a run whose
        count is remembered costs its row here and nothing more."""
        runs = events = longest = 0
        under = [0] * len(HISTORY_BUCKETS)
        after = ""
        while True:
            page = await self._sql.fetch(
                "SELECT run_id, status, next_event_id - 1 FROM executions WHERE run_id > ? "
                "ORDER BY run_id LIMIT ?", (after, _METRICS_PAGE))
            for run_id, status, stored in page:
                length = await lengths.of(run_id, ExecutionStatus(status), int(stored))
                runs += 1
                events += length
                longest = max(longest, length)
                for i, bound in enumerate(HISTORY_BUCKETS):
                    if length <= bound:
                        under[i] += 1
            if len(page) < _METRICS_PAGE:
                return runs, events, longest, list(zip(HISTORY_BUCKETS, under, strict=True))
            after = page[-1][0]
