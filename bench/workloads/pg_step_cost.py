"""PG_step_cost: what one workflow step costs the PostgreSQL server.

Runs one-activity workflows (B1's) one after another, then B2's shape (workflows of sequential
activities, many at once), and reports per workflow and per activity: store operations,
statements and round trips (counted at the driver), transactions, NOTIFYs, WAL bytes
(``pg_current_wal_lsn()`` before and after) and the CPU time of the server's processes (from
``/proc``, so only when the server runs on this host). WAL and CPU are the whole server's: on a
server shared with other work they are upper bounds. ``per_operation`` breaks the statements
down by operation, the profile to read when making a step cheaper.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from stalwart import activity, workflow
from stalwart._store.postgres import connection as pg
from stalwart._store.tx import Pending
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import ACTIVITY_TIMEOUT, Config, new_id

NAME = "PG_step_cost"


@activity.defn(name="cost_echo")
async def echo(value: int) -> int:
    return value


@workflow.defn(name="CostSteps")
class Steps:
    @workflow.run
    async def run(self, count: int) -> int:
        for index in range(count):
            await workflow.execute_activity(echo, index, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return count


class Counts:
    def __init__(self) -> None:
        self.statements: Counter[str] = Counter()
        self.round_trips: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()
        self.transactions = 0
        self.notifies = 0


@contextmanager
def counting() -> Iterator[Counts]:
    """Counts what the PostgreSQL driver sends, by the operation that sent it.

    A round trip is a wait for the server: every statement outside a write; in a write (which
    is pipelined) every statement whose result the operation reads, the first read of queries
    sent together with ``Tx.later``, and the COMMIT. NOTIFYs go out after the commits, in
    batches, and are counted on their own.
    """
    counts = Counts()
    tx_methods = {name: getattr(pg.PostgresTx, name)
                  for name in ("one", "all", "run", "count", "many", "later")}
    pending_all = Pending.all
    write, read = pg.Database.write_blocking, pg.Database.read_blocking
    submit, commit_batch = pg.GroupWriter.submit, pg.GroupWriter._commit
    payloads = pg.Announcer.payloads
    current = threading.local()

    def statement(name: str) -> Any:
        original = tx_methods[name]

        def counted(self: pg.PostgresTx, sql: str, params: Any = ()) -> Any:
            op = getattr(current, "op", "?")
            counts.statements[op] += 1
            if self.pipeline is None:
                counts.round_trips[op] += 1
            elif name == "later":
                current.unsynced = True  # the first read of it waits for the server
            elif name not in ("run", "many"):  # both only queue in a pipeline
                counts.round_trips[op] += 1
                current.unsynced = False
            return original(self, sql, params)
        return counted

    send_deferred = pg.PostgresTx.send_deferred

    def counted_send_deferred(self: pg.PostgresTx) -> None:
        # Deferred writes go out as one statement, which the pipeline does not wait for.
        counts.statements[getattr(current, "op", "?")] += 1
        send_deferred(self)

    def counted_pending(self: Pending) -> list[Any]:
        if getattr(current, "unsynced", False):
            counts.round_trips[getattr(current, "op", "?")] += 1
            current.unsynced = False
        return pending_all(self)

    def op(original: Any, writes: bool) -> Any:
        def counted(self: pg.Database, fn: Any, args: Any) -> Any:
            current.op = fn.__name__
            current.unsynced = False
            counts.operations[fn.__name__] += 1
            if writes:
                counts.transactions += 1
                counts.round_trips[fn.__name__] += 1  # the COMMIT
            return original(self, fn, args)
        return counted

    def counted_submit(self: pg.GroupWriter, fn: Any, args: Any) -> Any:
        # An operation that shares a group-committed transaction: counted as it runs.
        @functools.wraps(fn)
        def counted_fn(tx: pg.PostgresTx, *fn_args: Any) -> Any:
            current.op = fn.__name__
            current.unsynced = False
            return fn(tx, *fn_args)
        return submit(self, counted_fn, args)

    def counted_batch(self: pg.GroupWriter, batch: list[Any]) -> None:
        if len(batch) > 1:  # one alone goes through write_blocking, counted there
            counts.transactions += 1
            counts.round_trips["(group commit)"] += 1
            for queued in batch:
                counts.operations[queued.fn.__name__] += 1
        commit_batch(self, batch)

    def counted_payloads(self: pg.Announcer, keys: Any, due: float) -> list[str]:
        sent = payloads(self, keys, due)
        counts.notifies += len(sent)
        return sent

    try:
        for name in tx_methods:
            setattr(pg.PostgresTx, name, statement(name))
        pg.Database.write_blocking = op(write, True)  # type: ignore[method-assign]
        pg.Database.read_blocking = op(read, False)  # type: ignore[method-assign]
        pg.Announcer.payloads = counted_payloads  # type: ignore[method-assign]
        Pending.all = counted_pending  # type: ignore[method-assign]
        pg.PostgresTx.send_deferred = counted_send_deferred  # type: ignore[method-assign]
        pg.GroupWriter.submit = counted_submit  # type: ignore[method-assign]
        pg.GroupWriter._commit = counted_batch  # type: ignore[method-assign]
        yield counts
    finally:
        for name, original in tx_methods.items():
            setattr(pg.PostgresTx, name, original)
        pg.Database.write_blocking = write  # type: ignore[method-assign]
        pg.Database.read_blocking = read  # type: ignore[method-assign]
        pg.Announcer.payloads = payloads  # type: ignore[method-assign]
        Pending.all = pending_all  # type: ignore[method-assign]
        pg.PostgresTx.send_deferred = send_deferred  # type: ignore[method-assign]
        pg.GroupWriter.submit = submit  # type: ignore[method-assign]
        pg.GroupWriter._commit = commit_batch  # type: ignore[method-assign]


def _server_cpu_s() -> float | None:
    """User + system CPU seconds of every ``postgres`` process on this host."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    found = False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name != "postgres":
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
        found = True
    return total / ticks if found else None


def _wal_lsn(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()
        assert row is not None
        return int(row[0])


async def _measure(config: Config, client: Client, queue: str, workflows: int, steps: int,
                   concurrent: bool) -> dict[str, Any]:
    lsn = await asyncio.to_thread(_wal_lsn, config.postgres_url)
    cpu = _server_cpu_s()
    started = time.perf_counter()
    with counting() as counts:
        if concurrent:
            handles = await asyncio.gather(*(
                client.start_workflow(Steps.run, steps, id=new_id("cost"), task_queue=queue)
                for _ in range(workflows)))
            await asyncio.gather(*(handle.result() for handle in handles))
        else:
            for _ in range(workflows):
                await client.execute_workflow(Steps.run, steps, id=new_id("cost"),
                                              task_queue=queue)
    wall = time.perf_counter() - started
    cpu_after = _server_cpu_s()
    wal = await asyncio.to_thread(_wal_lsn, config.postgres_url) - lsn
    activities = workflows * steps
    per_operation = {name: {"calls": counts.operations[name],
                            "statements_per_call": round(counts.statements[name]
                                                         / counts.operations[name], 2)}
                     for name in sorted(counts.operations)}
    return {
        "workflows": workflows, "activities": activities, "wall_s": round(wall, 3),
        "operations_per_activity": round(sum(counts.operations.values()) / activities, 2),
        "transactions_per_activity": round(counts.transactions / activities, 2),
        "statements_per_activity": round(sum(counts.statements.values()) / activities, 2),
        "round_trips_per_activity": round(sum(counts.round_trips.values()) / activities, 2),
        "notifies_per_activity": round(counts.notifies / activities, 2),
        "wal_bytes_per_activity": round(wal / activities),
        "server_cpu_ms_per_activity": (round((cpu_after - cpu) * 1000 / activities, 3)
                                       if cpu is not None and cpu_after is not None else None),
        "per_operation": per_operation,
    }


async def run(config: Config) -> dict[str, Any]:
    if config.store != "postgres":
        raise RuntimeError("PG_step_cost measures the PostgreSQL store: use --store postgres")
    sequential, concurrent = ((20, 1), (10, 5)) if config.short else ((200, 1), (100, 20))
    client = await Client.connect(config.db_url("cost"))
    queue = new_id("cost")
    try:
        async with Worker(client, task_queue=queue, workflows=[Steps], activities=[echo]):
            await client.execute_workflow(Steps.run, 1, id=new_id("cost"), task_queue=queue)
            one = await _measure(config, client, queue, sequential[0], sequential[1], False)
            many = await _measure(config, client, queue, concurrent[0], concurrent[1], True)
    finally:
        await client.close()
    return {"sequential_one_activity": one, "concurrent_many_activities": many}
