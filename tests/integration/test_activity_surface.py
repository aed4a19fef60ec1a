"""activity.is_worker_shutdown / wait_for_worker_shutdown during a graceful shutdown, and the
ActivityEnvironment shapes of temporalio (client, worker_shutdown, cancellation details)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.activity import ActivityCancellationDetails
from stalwart.client import Client
from stalwart.testing import ActivityEnvironment
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

started = threading.Event()


@activity.defn
async def until_shutdown() -> str:
    started.set()
    await activity.wait_for_worker_shutdown()
    return f"shutdown seen: {activity.is_worker_shutdown()}"


@workflow.defn
class RunsUntilShutdown:
    @workflow.run
    async def run(self) -> str:
        return await workflow.execute_activity(until_shutdown,
                                               start_to_close_timeout=timedelta(seconds=30))


async def test_activity_learns_of_graceful_worker_shutdown(client: Client,
                                                           task_queue: str) -> None:
    started.clear()
    worker = Worker(client, task_queue=task_queue, workflows=[RunsUntilShutdown],
                    activities=[until_shutdown],
                    graceful_shutdown_timeout=timedelta(seconds=20))
    async with worker:
        handle = await client.start_workflow(RunsUntilShutdown.run, id="wf",
                                             task_queue=task_queue)

        async def running() -> bool:
            return started.is_set()

        await eventually(running, what="the activity to start")
    async with Worker(client, task_queue=task_queue, workflows=[RunsUntilShutdown],
                      activities=[until_shutdown]):
        assert await asyncio.wait_for(handle.result(), 30) == "shutdown seen: True"


def test_activity_environment_delivers_shutdown_and_cancellation_details() -> None:
    env = ActivityEnvironment()

    def body() -> list[object]:
        env.worker_shutdown()
        env.cancel(ActivityCancellationDetails(paused=True))
        return [activity.is_worker_shutdown(), activity.is_cancelled(),
                activity.cancellation_details()]

    assert env.run(body) == [True, True, ActivityCancellationDetails(paused=True)]
    with pytest.raises(RuntimeError, match="no client"):
        ActivityEnvironment().run(activity.client)


async def test_activity_environment_passes_its_client_and_keyword_args(client: Client) -> None:
    env = ActivityEnvironment(client=client)

    async def body(*, name: str) -> object:
        return [activity.client() is client, name]

    assert await env.run(body, name="kw") == [True, "kw"]
