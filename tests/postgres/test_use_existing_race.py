"""Update-with-start on a running workflow (``USE_EXISTING``) racing the run's own workflow
task, on a real server where the two are concurrent transactions.

The task's completion locks the run, finds no input waiting, and deletes its task. An update
admitted meanwhile without the run's lock is missed by that look, and its own "make sure a
task exists" finds the task not yet deleted: the update waits forever with no task to deliver
it. Admitted under the run's lock, it waits for the completion and then makes a new task.
"""

from __future__ import annotations

import asyncio

import psycopg

from stalwart._store import open_store
from stalwart._store.base import Store

from ..unit.store.helpers import QUEUE, T0, WORKER, claim_one, start, start_request
from .conftest import admin_connect

LOCK_WAIT_DEADLINE_SECONDS = 30.0


async def _waits_for_a_lock(store_task: asyncio.Task[object]) -> bool:
    """Whether the start blocks on a row lock (True) or finishes without waiting (False)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LOCK_WAIT_DEADLINE_SECONDS
    with admin_connect() as admin:
        while loop.time() < deadline:
            done, _ = await asyncio.wait({store_task}, timeout=0.02)
            if done:
                return False
            waiting = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND application_name NOT LIKE 'stalwart-listen%' "
                "AND query ILIKE '%executions%'").fetchone()
            if waiting is not None and waiting[0] > 0:
                return True
    raise AssertionError("the start neither finished nor waited for a lock")


async def test_an_update_with_start_waits_for_the_runs_finishing_task(
        db_url: str, pg_schema: str) -> None:
    store: Store = await open_store(db_url)
    try:
        run_id = await start(store, "cart")
        await claim_one(store, T0 + 1)  # the run's first task is in flight
        with psycopg.connect(db_url.split("?")[0]) as completing:
            completing.execute(f"SET search_path TO {pg_schema}")
            # As the task's completion does: the run, then its task, locked; nothing waits.
            completing.execute("SELECT 1 FROM executions WHERE run_id = %s FOR UPDATE",
                               (run_id,))
            completing.execute("SELECT 1 FROM workflow_tasks WHERE run_id = %s FOR UPDATE",
                               (run_id,))
            used = asyncio.ensure_future(store.start_workflow(start_request(
                "cart", run_id="run-cart-2", id_conflict_policy=2,
                start_update=("u-1", "add", [])), T0 + 2))
            assert await _waits_for_a_lock(used), \
                "the update was admitted without waiting for the run's lock"
            completing.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))
            completing.commit()
        result = await used
        assert (result.run_id, result.started) == (run_id, False)
        # A task exists to deliver the update.
        claim = await claim_one(store, T0 + 3, worker=WORKER + "-2")
        assert claim.run_id == run_id
        assert [u["update_id"] for u in claim.updates] == ["u-1"]
        assert claim.task_queue == QUEUE
    finally:
        await store.close()


async def test_an_update_with_start_follows_a_run_that_continued_meanwhile(
        db_url: str, pg_schema: str) -> None:
    store: Store = await open_store(db_url)
    try:
        run_id = await start(store, "cart")
        with psycopg.connect(db_url.split("?")[0]) as closing:
            closing.execute(f"SET search_path TO {pg_schema}")
            # A continue-as-new: the run closes and its successor starts, in one transaction.
            closing.execute("SELECT 1 FROM executions WHERE run_id = %s FOR UPDATE", (run_id,))
            used = asyncio.ensure_future(store.start_workflow(start_request(
                "cart", run_id="run-cart-new", id_conflict_policy=2,
                start_update=("u-1", "add", [])), T0 + 2))
            assert await _waits_for_a_lock(used)
            closing.execute("UPDATE executions SET status = 6, next_run_id = 'run-cart-next' "
                            "WHERE run_id = %s", (run_id,))
            closing.execute(
                "INSERT INTO executions (run_id, workflow_id, workflow_type, task_queue, "
                "status, start_time, first_run_id, next_event_id) "
                "SELECT 'run-cart-next', workflow_id, workflow_type, task_queue, 1, "
                "start_time + 1, first_run_id, 1 FROM executions WHERE run_id = %s",
                (run_id,))
            closing.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))
            closing.commit()
        result = await used
        # The update went to the successor, which has a task to deliver it.
        assert (result.run_id, result.started) == ("run-cart-next", False)
        claim = await claim_one(store, T0 + 3)
        assert claim.run_id == "run-cart-next"
        assert [u["update_id"] for u in claim.updates] == ["u-1"]
    finally:
        await store.close()
