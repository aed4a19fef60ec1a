"""Many concurrent writes all land, and one failure stays its own (on SQLite: within one
group commit; on PostgreSQL: across the pool)."""

from __future__ import annotations

import asyncio

from stalwart._store.database import DatabaseStore
from stalwart.exceptions import WorkflowAlreadyStartedError

from .helpers import QUEUE, T0, count_rows, start_request

CONCURRENT = 300


async def test_concurrent_start_workflow_calls_all_land(store: DatabaseStore) -> None:
    results = await asyncio.gather(*(
        store.start_workflow(start_request(f"wf-{i}"), T0 + i) for i in range(CONCURRENT)))

    assert all(r.started for r in results)
    assert len({r.run_id for r in results}) == CONCURRENT
    assert await count_rows(store, "executions", "status = 1") == CONCURRENT
    assert await count_rows(store, "history", "event_id = 1") == CONCURRENT
    assert await count_rows(store, "workflow_tasks", "task_queue = ?", QUEUE) == CONCURRENT


async def test_failing_write_in_a_batch_does_not_undo_its_neighbours(
        store: DatabaseStore) -> None:
    # Every fifth request reuses an id started earlier in the same burst.
    requests = [start_request(f"wf-{i - 1 if i % 5 == 4 else i}", run_id=f"run-{i}")
                for i in range(100)]

    results = await asyncio.gather(*(store.start_workflow(r, T0) for r in requests),
                                   return_exceptions=True)

    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 20
    assert all(isinstance(r, WorkflowAlreadyStartedError) for r in refused)
    assert await count_rows(store, "executions") == 80
    assert await count_rows(store, "history") == 80
    # Each id started exactly once, by one of the requests that asked for it (which one is
    # the order the writes reached the database in).
    started: dict[str, list[str]] = {}
    for request, result in zip(requests, results, strict=True):
        if not isinstance(result, BaseException):
            assert result.run_id == request.run_id
            started.setdefault(request.workflow_id, []).append(result.run_id)
    assert len(started) == 80
    assert all(len(runs) == 1 for runs in started.values())


async def test_concurrent_signals_to_one_run_all_reach_the_inbox(store: DatabaseStore) -> None:
    await store.start_workflow(start_request("wf-1"), T0)

    await asyncio.gather(*(store.signal_workflow("wf-1", None, "tick", [], f"c{i}", T0)
                           for i in range(200)))

    inbox = await store.get_inbox("run-wf-1")
    assert sorted(e.attributes["identity"] for e in inbox) == sorted(f"c{i}"
                                                                     for i in range(200))
