"""A run closed by this process reaches its waiters with the wake-up: whichever way it closes
(the workflow's own decision, continue-as-new, a cron run, a client's terminate or cancel, its
timeout, its parent's close), the row handed over is exactly what a read after the commit
returns, and ``result()`` reports the run from it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from stalwart import workflow
from stalwart._store.base import ExecutionRow, ExecutionStatus
from stalwart._store.database import DatabaseStore, _handed_row
from stalwart.client import Client, WorkflowFailureError, WorkflowHandle
from stalwart.exceptions import ApplicationError, CancelledError, TerminatedError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

# Only guards against a hung test; never what a test measures.
HANG_GUARD = 30.0


@workflow.defn
class Settles:
    """Waits for its outcome by signal."""

    def __init__(self) -> None:
        self.outcome: str | None = None

    @workflow.signal
    def settle(self, outcome: str) -> None:
        self.outcome = outcome

    @workflow.run
    async def run(self, generation: int) -> dict[str, Any]:
        if generation == 0:  # a continued run ends at once
            await workflow.wait_condition(lambda: self.outcome is not None)
        if self.outcome == "fail":
            raise ApplicationError("failed on purpose", {"detail": "ü"}, non_retryable=True)
        if self.outcome == "continue":
            workflow.continue_as_new(generation + 1)
        return {"generation": generation, "text": "ü", "ratio": 2.5, "none": None}


@workflow.defn
class CronOnce:
    @workflow.run
    async def run(self) -> str:
        return "cron run"


@workflow.defn
class Parent:
    """Starts a ``Settles`` child, then completes on signal: the child is terminated."""

    def __init__(self) -> None:
        self.done = False

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self, child_id: str) -> str:
        await workflow.start_child_workflow(Settles.run, 0, id=child_id)
        await workflow.wait_condition(lambda: self.done)
        return "parent done"


def _store(client: Client) -> DatabaseStore:
    store = client.store
    assert isinstance(store, DatabaseStore)
    return store


async def _closed_by_commit(client: Client, task_queue: str, run_id: str,
                            close: Callable[[], Awaitable[Any]]) -> ExecutionRow:
    """Run a worker and ``close``; the row the close's commit handed to waiters on the run,
    checked against a read after it, and what ``wait_closed`` returned."""
    store = _store(client)
    key = ("closed", run_id)
    sub = store.subscribe(key)
    try:
        waiting = asyncio.create_task(store.wait_closed(run_id, None))
        async with Worker(client, task_queue=task_queue,
                          workflows=[Settles, CronOnce, Parent]):
            await close()
            while key not in sub.handed:
                await asyncio.wait_for(sub.wait(None), HANG_GUARD)
            waited = await asyncio.wait_for(waiting, HANG_GUARD)
    finally:
        sub.close()
    handed = _handed_row(sub.handed[key])
    assert handed is not None and handed.status != ExecutionStatus.RUNNING
    read = await store.get_execution(None, run_id)
    assert handed == read
    assert waited == read
    assert handed.history_length == len(await store.get_history(run_id))
    return handed


async def _start(client: Client, task_queue: str, **kwargs: Any
                 ) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        Settles.run, 0, id=f"settles-{uuid.uuid4().hex[:8]}", task_queue=task_queue,
        memo={"note": "kept"}, **kwargs)


async def test_completed_and_failed(client: Client, task_queue: str) -> None:
    done = await _start(client, task_queue)
    row = await _closed_by_commit(client, task_queue, done.result_run_id or "",
                                  lambda: done.signal(Settles.settle, "complete"))
    assert row.status == ExecutionStatus.COMPLETED and row.result is not None
    assert await done.result() == {"generation": 0, "text": "ü", "ratio": 2.5, "none": None}

    failing = await _start(client, task_queue)
    row = await _closed_by_commit(client, task_queue, failing.result_run_id or "",
                                  lambda: failing.signal(Settles.settle, "fail"))
    assert row.status == ExecutionStatus.FAILED and row.failure is not None
    with pytest.raises(WorkflowFailureError) as failed:
        await failing.result()
    assert isinstance(failed.value.cause, ApplicationError)
    assert failed.value.cause.message == "failed on purpose"


async def test_continued_as_new_and_cron_name_the_next_run(client: Client,
                                                           task_queue: str) -> None:
    continuing = await _start(client, task_queue)
    row = await _closed_by_commit(client, task_queue, continuing.result_run_id or "",
                                  lambda: continuing.signal(Settles.settle, "continue"))
    assert row.status == ExecutionStatus.CONTINUED_AS_NEW and row.next_run_id is not None
    async with Worker(client, task_queue=task_queue, workflows=[Settles]):
        # result() follows the chain from the handed row to the next run's.
        assert (await continuing.result())["generation"] == 1

    cron = await client.start_workflow(CronOnce.run, id=f"cron-{uuid.uuid4().hex[:8]}",
                                       task_queue=task_queue, cron_schedule="@every 1s")
    row = await _closed_by_commit(client, task_queue, cron.result_run_id or "",
                                  lambda: asyncio.sleep(0))
    assert row.status == ExecutionStatus.COMPLETED and row.next_run_id is not None
    await cron.terminate("enough")


async def test_terminated_cancelled_and_timed_out(client: Client, task_queue: str) -> None:
    terminated = await _start(client, task_queue)
    row = await _closed_by_commit(client, task_queue, terminated.result_run_id or "",
                                  lambda: terminated.terminate("enough", "why"))
    assert row.status == ExecutionStatus.TERMINATED
    with pytest.raises(WorkflowFailureError) as failed:
        await terminated.result()
    assert isinstance(failed.value.cause, TerminatedError)

    cancelled = await _start(client, task_queue)
    row = await _closed_by_commit(client, task_queue, cancelled.result_run_id or "",
                                  cancelled.cancel)
    assert row.status == ExecutionStatus.CANCELED
    with pytest.raises(WorkflowFailureError) as failed:
        await cancelled.result()
    assert isinstance(failed.value.cause, CancelledError)

    timing_out = await _start(client, task_queue, execution_timeout=timedelta(seconds=1))
    row = await _closed_by_commit(client, task_queue, timing_out.result_run_id or "",
                                  lambda: asyncio.sleep(0))
    assert row.status == ExecutionStatus.TIMED_OUT


async def test_a_child_closed_by_its_parent(client: Client, task_queue: str) -> None:
    child_id = f"child-{uuid.uuid4().hex[:8]}"
    parent = await client.start_workflow(Parent.run, child_id,
                                         id=f"parent-{uuid.uuid4().hex[:8]}",
                                         task_queue=task_queue)
    async with Worker(client, task_queue=task_queue, workflows=[Settles, Parent]):
        child = client.get_workflow_handle(child_id)

        async def started() -> str | None:
            row = await _store(client).get_execution(child_id, None)
            return None if row is None else row.run_id
        child_run = await eventually(started, timeout=HANG_GUARD, what="the child started")
    row = await _closed_by_commit(client, task_queue, child_run,
                                  lambda: parent.signal(Parent.finish))
    assert row.status == ExecutionStatus.TERMINATED
    assert row.parent_run_id == parent.result_run_id
    with pytest.raises(WorkflowFailureError):
        await child.result()
