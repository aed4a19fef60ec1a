"""A worker process for the PostgreSQL tests: ``python -m tests.postgres.worker_process URL
QUEUE IDENTITY [MAX_CONCURRENT_ACTIVITIES]``. Serves the workflows of ``workflows.py`` until
SIGTERM (or SIGKILL)."""

from __future__ import annotations

import asyncio
import signal
import sys

from stalwart.client import Client
from stalwart.worker import Worker
from tests.postgres import workflows as w


async def main(url: str, task_queue: str, identity: str, max_activities: int) -> None:
    client = await Client.connect(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=task_queue, identity=identity,
                      workflows=[w.Steps, w.SlowSteps, w.Retrying, w.Mailbox, w.Child,
                                 w.Parent, w.Countdown, w.Sleeper, w.Held],
                      activities=[w.square, w.flaky, w.slow_square, w.held_first_attempt],
                      max_concurrent_activities=max_activities):
        await stop.wait()
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3],
                     int(sys.argv[4]) if len(sys.argv) > 4 else 100))
