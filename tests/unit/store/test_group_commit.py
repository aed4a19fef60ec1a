"""The group-commit writer: many concurrent writes all land, and one failure stays its own."""

from __future__ import annotations

import asyncio

from stalwart._store.sqlite.store import SqliteStore
from stalwart.exceptions import WorkflowAlreadyStartedError

from .helpers import QUEUE, T0, count_rows, start_request

CONCURRENT = 300


async def test_concurrent_start_workflow_calls_all_land(store: SqliteStore,
                                                        db_path: str) -> None:
    results = await asyncio.gather(*(
        store.start_workflow(start_request(f"wf-{i}"), T0 + i) for i in range(CONCURRENT)))

    assert all(r.started for r in results)
    assert len({r.run_id for r in results}) == CONCURRENT
    assert count_rows(db_path, "executions", "status = 1") == CONCURRENT
    assert count_rows(db_path, "history", "event_id = 1") == CONCURRENT
    assert count_rows(db_path, "workflow_tasks", "task_queue = ?", QUEUE) == CONCURRENT


async def test_failing_write_in_a_batch_does_not_undo_its_neighbours(
        store: SqliteStore, db_path: str) -> None:
    # Every fifth request reuses an id started earlier in the same burst.
    requests = [start_request(f"wf-{i - 1 if i % 5 == 4 else i}", run_id=f"run-{i}")
                for i in range(100)]

    results = await asyncio.gather(*(store.start_workflow(r, T0) for r in requests),
                                   return_exceptions=True)

    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 20
    assert all(isinstance(r, WorkflowAlreadyStartedError) for r in refused)
    assert count_rows(db_path, "executions") == 80
    assert count_rows(db_path, "history") == 80
    for i, result in enumerate(results):
        if i % 5 != 4:
            assert not isinstance(result, BaseException)
            assert result.run_id == f"run-{i}"


async def test_concurrent_signals_to_one_run_all_reach_the_inbox(store: SqliteStore) -> None:
    await store.start_workflow(start_request("wf-1"), T0)

    await asyncio.gather(*(store.signal_workflow("wf-1", None, "tick", [], f"c{i}", T0)
                           for i in range(200)))

    inbox = await store.get_inbox("run-wf-1")
    assert sorted(e.attributes["identity"] for e in inbox) == sorted(f"c{i}"
                                                                     for i in range(200))
