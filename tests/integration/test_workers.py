"""Workers: sharing a task queue, the two ways to run one, graceful shutdown, and several clients
and workers of one process on one SQLite file."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, wait_for_event

# Which worker implementation ran each activity, in order.
_ran_on: list[str] = []


async def _wait_for_both_workers() -> None:
    # Each worker runs one activity at a time; holding both open proves the work was shared.
    async def both() -> bool:
        return {"A", "B"} <= set(_ran_on)

    await eventually(both, timeout=10, what="an activity running on each worker")


@activity.defn(name="work")
async def work_on_a(n: int) -> str:
    _ran_on.append("A")
    await _wait_for_both_workers()
    return f"A:{n}"


@activity.defn(name="work")
async def work_on_b(n: int) -> str:
    _ran_on.append("B")
    await _wait_for_both_workers()
    return f"B:{n}"


@workflow.defn
class ShareWorkflow:
    @workflow.run
    async def run(self, n: int) -> str:
        result: str = await workflow.execute_activity("work", n, result_type=str,
                                                      start_to_close_timeout=ACTIVITY_TIMEOUT)
        return result


_slow_started: dict[str, asyncio.Event] = {}
_slow_release: dict[str, asyncio.Event] = {}
_slow_runs: list[tuple[str, int]] = []


@activity.defn
async def slow_step(key: str) -> str:
    _slow_runs.append((key, activity.info().attempt))
    _slow_started[key].set()
    await _slow_release[key].wait()
    return f"{key} finished"


@workflow.defn
class SlowStepWorkflow:
    @workflow.run
    async def run(self, key: str) -> str:
        result: str = await workflow.execute_activity(slow_step, key,
                                                      start_to_close_timeout=ACTIVITY_TIMEOUT)
        return result


@activity.defn
async def triple(n: int) -> int:
    return 3 * n


@workflow.defn
class TripleWorkflow:
    def __init__(self) -> None:
        self.bonus = 0

    @workflow.signal
    def add_bonus(self, bonus: int) -> None:
        self.bonus += bonus

    @workflow.run
    async def run(self, n: int) -> int:
        tripled: int = await workflow.execute_activity(triple, n,
                                                       start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.wait_condition(lambda: self.bonus > 0)
        return tripled + self.bonus


async def test_worker_two_workers_on_one_queue_share_work(client: Client,
                                                          task_queue: str) -> None:
    _ran_on.clear()
    worker_a = Worker(client, task_queue=task_queue, workflows=[ShareWorkflow],
                      activities=[work_on_a], max_concurrent_activities=1, identity="A")
    worker_b = Worker(client, task_queue=task_queue, workflows=[ShareWorkflow],
                      activities=[work_on_b], max_concurrent_activities=1, identity="B")
    async with worker_a, worker_b:
        handles = [await client.start_workflow(ShareWorkflow.run, n, id=f"share-{n}",
                                               task_queue=task_queue) for n in range(2)]
        results = [await handle.result() for handle in handles]
    assert sorted(r[0] for r in results) == ["A", "B"]
    assert sorted(_ran_on) == ["A", "B"]


async def test_worker_async_with_runs_and_stops(client: Client, task_queue: str) -> None:
    worker = Worker(client, task_queue=task_queue, workflows=[ShareWorkflow],
                    activities=[work_on_a])
    assert not worker.is_running
    async with worker:
        assert worker.is_running
        handle = await client.start_workflow(ShareWorkflow.run, 1, id="ctx-worker",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskScheduled")
    assert not worker.is_running


async def test_worker_run_until_shutdown(client: Client, task_queue: str) -> None:
    worker = Worker(client, task_queue=task_queue, workflows=[TripleWorkflow],
                    activities=[triple])
    run_task = asyncio.create_task(worker.run())
    handle = await client.start_workflow(TripleWorkflow.run, 4, id="run-worker",
                                         task_queue=task_queue)
    await handle.signal(TripleWorkflow.add_bonus, 1)
    assert await handle.result() == 13
    assert worker.is_running and not run_task.done()
    await worker.shutdown()
    await run_task  # returns normally once shut down
    assert not worker.is_running


async def test_worker_graceful_shutdown_lets_a_running_activity_finish(
        client: Client, task_queue: str) -> None:
    key = f"graceful-{task_queue}"
    _slow_started[key] = asyncio.Event()
    _slow_release[key] = asyncio.Event()
    worker = Worker(client, task_queue=task_queue, workflows=[SlowStepWorkflow],
                    activities=[slow_step], graceful_shutdown_timeout=timedelta(seconds=10))
    run_task = asyncio.create_task(worker.run())
    handle = await client.start_workflow(SlowStepWorkflow.run, key, id="graceful",
                                         task_queue=task_queue)
    await asyncio.wait_for(_slow_started[key].wait(), timeout=10)
    shutdown = asyncio.create_task(worker.shutdown())
    done, _ = await asyncio.wait({shutdown}, timeout=0.2)
    assert not done, "shutdown returned while an activity was still running"
    _slow_release[key].set()
    await asyncio.wait_for(shutdown, timeout=10)
    await run_task
    # The result was recorded before the worker stopped: a new worker only finishes the run.
    async with Worker(client, task_queue=task_queue, workflows=[SlowStepWorkflow],
                      activities=[slow_step]):
        assert await handle.result() == f"{key} finished"
    assert _slow_runs.count((key, 1)) == 1 and [r for r in _slow_runs if r[0] == key] == [
        (key, 1)]
    types = [e.event_type for e in (await handle.fetch_history()).events]
    assert types.count("ActivityTaskCompleted") == 1


async def test_worker_shutdown_without_grace_hands_the_activity_to_the_next_worker(
        client: Client, task_queue: str) -> None:
    key = f"no-grace-{task_queue}"
    _slow_started[key] = asyncio.Event()
    _slow_release[key] = asyncio.Event()
    async with Worker(client, task_queue=task_queue, workflows=[SlowStepWorkflow],
                      activities=[slow_step]):
        handle = await client.start_workflow(SlowStepWorkflow.run, key, id="no-grace",
                                             task_queue=task_queue)
        await asyncio.wait_for(_slow_started[key].wait(), timeout=10)
    # The interrupted attempt is released for another worker right away, not after a timeout.
    _slow_release[key].set()
    async with Worker(client, task_queue=task_queue, workflows=[SlowStepWorkflow],
                      activities=[slow_step]):
        assert await handle.result() == f"{key} finished"
    assert [r for r in _slow_runs if r[0] == key] == [(key, 1), (key, 2)]


async def test_worker_several_clients_share_one_sqlite_file(db_url: str, task_queue: str) -> None:
    starter = await Client.connect(db_url)
    client_a = await Client.connect(db_url)
    client_b = await Client.connect(db_url)
    try:
        async with Worker(client_a, task_queue=task_queue, workflows=[TripleWorkflow],
                          activities=[triple]), \
                Worker(client_b, task_queue=task_queue, workflows=[TripleWorkflow],
                       activities=[triple]):
            handles = [await starter.start_workflow(TripleWorkflow.run, n, id=f"shared-{n}",
                                                    task_queue=task_queue) for n in range(8)]
            for n, handle in enumerate(handles):
                # Signals from another client reach the run wherever it is cached.
                signaller = client_a if n % 2 else client_b
                await signaller.get_workflow_handle(handle.id).signal("add_bonus", 100)
            results = [await handle.result() for handle in handles]
            # Every client reads the same outcome from the shared file.
            for other in (client_a, client_b):
                assert await other.get_workflow_handle("shared-7").result() == 121
        assert results == [3 * n + 100 for n in range(8)]
    finally:
        for c in (starter, client_a, client_b):
            await c.close()
