"""``execute_workflow`` subscribes to its run's close before the start commits: the result comes
without reading the run first, and whatever happens to the start (a run already there, a
refusal, an interceptor starting another run first) no subscription is left behind."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from stalwart import workflow
from stalwart._store.ops import executions as executions_reads
from stalwart.client import (
    Client,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowExecutionStatus,
)
from stalwart.client import Interceptor as ClientInterceptor
from stalwart.common import WorkflowIDConflictPolicy
from stalwart.exceptions import WorkflowAlreadyStartedError
from stalwart.worker import Worker


@workflow.defn
class Echo:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


@workflow.defn
class Waits:
    def __init__(self) -> None:
        self.released = False

    @workflow.signal
    def release(self) -> None:
        self.released = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.released)
        return "released"


class StartsAnotherFirst(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        if input.id.startswith("main-"):
            other = StartWorkflowInput(**{**vars(input), "id": "side-" + input.id[5:],
                                          "args": ["side"]})
            await self.next.start_workflow(other)
        return await self.next.start_workflow(input)


class SideStarts(ClientInterceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return StartsAnotherFirst(next)


def _subscriptions(client: Client) -> int:
    """Subscriptions to a run's close, of anyone in this process."""
    by_key = client.store.notifier._by_key  # type: ignore[attr-defined]
    return sum(len(subs) for key, subs in by_key.items() if key[0] == "closed")


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    original = executions_reads.get_execution

    def counted(tx: Any, workflow_id: Any, run_id: Any) -> Any:
        reads.append(run_id)
        return original(tx, workflow_id, run_id)
    monkeypatch.setattr(executions_reads, "get_execution", counted)
    return reads


async def test_the_result_comes_without_reading_the_run(
        client: Client, task_queue: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Echo]):
        before = _subscriptions(client)
        reads = _count_reads(monkeypatch)
        results = [await client.execute_workflow(Echo.run, f"v{n}", id=f"echo-{n}",
                                                 task_queue=task_queue) for n in range(5)]
        assert results == [f"v{n}" for n in range(5)]
        # Closed in this process: handed over with the wake-up, never read.
        assert reads == []
        assert _subscriptions(client) == before


async def test_a_run_already_there_is_waited_for_by_reading_it(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Waits]):
        first = await client.start_workflow(Waits.run, id="waits", task_queue=task_queue)
        before = _subscriptions(client)
        joined = client.execute_workflow(
            Waits.run, id="waits", task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
        waiting = asyncio.ensure_future(joined)
        await first.signal(Waits.release)
        assert await waiting == "released"
        assert (await first.describe()).status == WorkflowExecutionStatus.COMPLETED
        assert _subscriptions(client) == before


async def test_a_refused_start_leaves_no_subscription(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Waits]):
        handle = await client.start_workflow(Waits.run, id="taken", task_queue=task_queue)
        before = _subscriptions(client)
        with pytest.raises(WorkflowAlreadyStartedError):
            await client.execute_workflow(Waits.run, id="taken", task_queue=task_queue)
        assert _subscriptions(client) == before
        # Nor does the refusal leave anything for a later start in the same task to take.
        await handle.signal(Waits.release)
        assert await handle.result() == "released"
        assert _subscriptions(client) == before


async def test_another_run_started_first_by_an_interceptor_is_not_mistaken_for_this_one(
        db_url: str, task_queue: str) -> None:
    client = await Client.connect(db_url, interceptors=[SideStarts()])
    try:
        async with Worker(client, task_queue=task_queue, workflows=[Echo]):
            before = _subscriptions(client)
            assert await client.execute_workflow(Echo.run, "main", id="main-1",
                                                 task_queue=task_queue) == "main"
            assert await client.get_workflow_handle("side-1").result() == "side"
            assert _subscriptions(client) == before
    finally:
        await client.close()
