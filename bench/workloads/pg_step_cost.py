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
from stalwart._store.postgres import wire
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

    A statement is one the operation sends (deferred writes sent together are one; ``BEGIN``
    and ``COMMIT`` are not counted). A round trip is a wait for the server: a sync point of the
    pipeline, where the driver reads what it sent (an operation's reads, a read operation, the
    commit). A group-committed transaction's commit counts as ``(group commit)``. NOTIFYs go
    out after the commits, in batches, and are counted on their own.
    """
    counts = Counts()
    send, sync, commit = wire.WireTx._send, wire.WireTx.sync, wire.WireTx.commit
    write, read = pg.Database.write_unpublished, pg.Database.read_blocking
    submit, commit_batch = pg.GroupWriter.submit, pg.GroupWriter._commit
    payloads = pg.Announcer.payloads
    current = threading.local()

    def counted_send(self: wire.WireTx, sql: str, params: Any, slot: Any) -> None:
        counts.statements[getattr(current, "op", "?")] += 1
        send(self, sql, params, slot)

    def counted_sync(self: wire.WireTx) -> None:
        counts.round_trips[getattr(current, "op", "?")] += 1
        sync(self)

    def counted_commit(self: wire.WireTx) -> None:
        if getattr(current, "batch", False):
            current.op = "(group commit)"
        commit(self)

    def op(original: Any, writes: bool) -> Any:
        def counted(self: pg.Database, fn: Any, args: Any) -> Any:
            current.op = fn.__name__
            current.batch = False
            counts.operations[fn.__name__] += 1
            if writes:
                counts.transactions += 1
            return original(self, fn, args)
        return counted

    def counted_submit(self: pg.GroupWriter, fn: Any, args: Any) -> Any:
        # An operation that shares a group-committed transaction: counted as it runs.
        @functools.wraps(fn)
        def counted_fn(tx: wire.WireTx, *fn_args: Any) -> Any:
            current.op = fn.__name__
            return fn(tx, *fn_args)
        return submit(self, counted_fn, args)

    def counted_batch(self: pg.GroupWriter, batch: list[Any], committed: list[Any]) -> None:
        if len(batch) > 1:  # one alone goes through write_unpublished, counted there
            counts.transactions += 1
            current.batch = True
            for queued in batch:
                counts.operations[queued.fn.__name__] += 1
        try:
            commit_batch(self, batch, committed)
        finally:
            current.batch = False

    def counted_payloads(self: pg.Announcer, keys: Any, due: float) -> list[str]:
        sent = payloads(self, keys, due)
        counts.notifies += len(sent)
        return sent

    try:
        wire.WireTx._send = counted_send  # type: ignore[method-assign]
        wire.WireTx.sync = counted_sync  # type: ignore[method-assign]
        wire.WireTx.commit = counted_commit  # type: ignore[method-assign]
        pg.Database.write_unpublished = op(write, True)  # type: ignore[method-assign]
        pg.Database.read_blocking = op(read, False)  # type: ignore[method-assign]
        pg.Announcer.payloads = counted_payloads  # type: ignore[method-assign]
        pg.GroupWriter.submit = counted_submit  # type: ignore[method-assign]
        pg.GroupWriter._commit = counted_batch  # type: ignore[method-assign]
        yield counts
    finally:
        wire.WireTx._send = send  # type: ignore[method-assign]
        wire.WireTx.sync = sync  # type: ignore[method-assign]
        wire.WireTx.commit = commit  # type: ignore[method-assign]
        pg.Database.write_unpublished = write  # type: ignore[method-assign]
        pg.Database.read_blocking = read  # type: ignore[method-assign]
        pg.Announcer.payloads = payloads  # type: ignore[method-assign]
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
