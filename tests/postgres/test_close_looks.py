"""Result waiters whose close was never announced still return, and look for it together.

A store on PostgreSQL can miss another process's wake-up (that process died between its commit
and its NOTIFY). Its result waiters then rely on looking again every ``LOOK_AGAIN_SECONDS``:
one read for all of them, not one per waiter. The other process is a second store here, whose
announcements are dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest

from stalwart._store import database, wakeup
from stalwart._store.base import ExecutionStatus, StartWorkflowRequest
from stalwart._store.postgres import PostgresStore
from stalwart.exceptions import WorkflowNotFoundError
from tests.helpers.waiting import eventually

from .conftest import admin_connect

RUNS = 30


def _request(n: int) -> StartWorkflowRequest:
    return StartWorkflowRequest(workflow_id=f"wf-{n}", workflow_type="Steps", task_queue="q",
                                input=[], run_id=f"run-{n}", random_seed=1)


async def test_unannounced_closes_reach_every_waiter_with_one_look_for_all(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wakeup, "LOOK_AGAIN_SECONDS", 0.2)
    closer = await PostgresStore.open(db_url)
    waiter = await PostgresStore.open(db_url)
    reads: Counter[str] = Counter()
    read = waiter._read

    async def counted(fn: Any, *args: Any) -> Any:
        reads[fn.__name__] += 1
        return await read(fn, *args)
    point = waiter._driver.point

    async def counted_point(fn: Any, *args: Any) -> Any:
        reads[fn.__name__] += 1
        return await point(fn, *args)
    monkeypatch.setattr(waiter, "_read", counted)
    monkeypatch.setattr(waiter._driver, "point", counted_point)
    # Everything the closer commits goes unannounced, as if it died after each commit.
    monkeypatch.setattr(closer._db.announcer, "add", lambda *args, **kwargs: None)
    monkeypatch.setattr(closer._db, "announce", lambda *args, **kwargs: None)
    try:
        for n in range(RUNS):
            await closer.start_workflow(_request(n), time.time())
        waits = [asyncio.ensure_future(waiter.wait_closed(f"run-{n}", None))
                 for n in range(RUNS)]
        # Every waiter has looked once and found its run running.
        while reads["get_execution"] < RUNS:
            await asyncio.sleep(0.01)
        assert not any(wait.done() for wait in waits)
        for n in range(RUNS):
            await closer.terminate_workflow(f"wf-{n}", None, "done", [], "test", time.time())
        rows = await asyncio.wait_for(asyncio.gather(*waits), 60)
    finally:
        await closer.close()
        await waiter.close()
    assert [row.status for row in rows] == [ExecutionStatus.TERMINATED] * RUNS
    # One look for all of them per period (a few periods may pass), and one read per waiter
    # to fetch its row once it was found closed.
    assert 1 <= reads["runs_not_running"] < RUNS, reads
    assert reads["get_execution"] == 2 * RUNS, reads


async def test_a_look_for_a_deleted_run_ends_its_wait_with_not_found(
        db_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wakeup, "LOOK_AGAIN_SECONDS", 0.2)
    monkeypatch.setattr(database, "CLOSE_LOOK_CHUNK", 1)  # one read per run: chunks work
    store = await PostgresStore.open(db_url)
    try:
        await store.start_workflow(_request(0), time.time())
        await store.start_workflow(_request(1), time.time())
        gone = asyncio.ensure_future(store.wait_closed("run-0", None))
        running = asyncio.ensure_future(store.wait_closed("run-1", None))

        async def both_looked_once() -> bool:
            return set(store._close_looks._waiting) == {"run-0", "run-1"}
        await eventually(both_looked_once, what="both waiters to have looked once")
        with admin_connect() as conn:
            conn.execute(f"DELETE FROM {pg_schema}.executions WHERE run_id = 'run-0'")
        with pytest.raises(WorkflowNotFoundError):
            await asyncio.wait_for(gone, 60)
        assert not running.done()
        running.cancel()
    finally:
        await store.close()
