"""A worker process for the stream crash test: ``python stream_worker.py URL QUEUE``.

It serves ``Storyteller``: each step publishes a status item from workflow code and runs an
activity that streams five tokens, heartbeating. The first attempt of step ``HANG_STEP`` stops
after three tokens and waits, so a SIGKILL is certain to find it mid-stream. It runs until
SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.contrib.workflow_streams import WorkflowStream, WorkflowStreamClient
from stalwart.worker import Worker

STEPS = 4
TOKENS = 5
HANG_STEP = 2
HANG_AFTER = 3


def tokens_of(step: int) -> list[str]:
    return [f"{step}.{k}" for k in range(TOKENS)]


@activity.defn
async def stream_tokens(step: int) -> int:
    attempt = activity.info().attempt
    async with WorkflowStreamClient.from_within_activity(batch_interval=0) as stream:
        for k, token in enumerate(tokens_of(step)):
            if step == HANG_STEP and attempt == 1 and k == HANG_AFTER:
                await stream.flush()
                while True:  # alive and heartbeating until it is killed
                    activity.heartbeat(k)
                    await asyncio.sleep(0.1)
            stream.publish("tokens", token)
            await stream.flush()
            activity.heartbeat(k)
    return step


@workflow.defn
class Storyteller:
    def __init__(self) -> None:
        self.stream = WorkflowStream()

    @workflow.run
    async def run(self, steps: int) -> int:
        self.stream.publish("status", "start")
        for step in range(steps):
            await workflow.execute_activity(
                stream_tokens, step, start_to_close_timeout=timedelta(seconds=120),
                heartbeat_timeout=timedelta(seconds=1),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)))
            self.stream.publish("status", f"done {step}")
            await workflow.sleep(0.01)
        self.stream.publish("status", "end")
        return steps


async def serve(url: str, task_queue: str) -> None:
    client = await Client.connect(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[Storyteller],
                          activities=[stream_tokens]):
            print("polling", flush=True)
            await stop.wait()
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
