"""A worker process for the affinity tests: ``python -m tests.e2e.affinity_worker_process URL
QUEUE IDENTITY``. Serves ``Napper`` (an activity, then a durable sleep, round after round)
until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker


@activity.defn
async def step(n: int) -> int:
    return n * n


@workflow.defn
class Napper:
    @workflow.run
    async def run(self, rounds: int, nap_seconds: float) -> int:
        total = 0
        for n in range(rounds):
            total += await workflow.execute_activity(
                step, n, start_to_close_timeout=timedelta(seconds=60))
            await workflow.sleep(nap_seconds)
        return total


def expected(rounds: int) -> int:
    return sum(n * n for n in range(rounds))


async def main(url: str, task_queue: str, identity: str) -> None:
    client = await Client.connect(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=task_queue, identity=identity, workflows=[Napper],
                      activities=[step]):
        await stop.wait()
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
