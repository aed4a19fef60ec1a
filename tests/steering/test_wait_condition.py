"""``workflow.wait_condition`` with a timeout: a durable timer that survives worker restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from stalwart import workflow
from stalwart.client import Client
from stalwart.worker import Worker

from ._support import RESULT_TIMEOUT, wait_for_event


@workflow.defn
class Approval:
    def __init__(self) -> None:
        self.approved = False

    @workflow.run
    async def run(self, timeout_seconds: float) -> str:
        try:
            await workflow.wait_condition(lambda: self.approved,
                                          timeout=timedelta(seconds=timeout_seconds))
        except TimeoutError:  # what asyncio.TimeoutError is since Python 3.11
            return "timed out"
        return "approved"

    @workflow.signal
    def approve(self) -> None:
        self.approved = True


def approval_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Approval])


async def test_wait_condition_times_out(client: Client, task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, 0.2, id="wf", task_queue=task_queue)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "timed out"
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert "TimerStarted" in types and "TimerFired" in types


async def test_wait_condition_met_before_timeout_cancels_timer(client: Client,
                                                               task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, 600, id="wf", task_queue=task_queue)
        await wait_for_event(handle, "TimerStarted")
        await handle.signal(Approval.approve)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "approved"
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert "TimerCanceled" in types and "TimerFired" not in types


async def test_wait_condition_timeout_survives_worker_restart(client: Client,
                                                              task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, 0.5, id="wf", task_queue=task_queue)
        await wait_for_event(handle, "TimerStarted")
    # The first worker is gone with the workflow in memory; the timer lives in the store.
    async with approval_worker(client, task_queue):
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "timed out"
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert types.count("TimerStarted") == 1 and types.count("TimerFired") == 1


async def test_wait_condition_met_after_worker_restart(client: Client, task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, 600, id="wf", task_queue=task_queue)
        await wait_for_event(handle, "TimerStarted")
    await handle.signal(Approval.approve)
    async with approval_worker(client, task_queue):
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "approved"
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert types.count("TimerStarted") == 1 and "TimerCanceled" in types
