"""A worker process for the schedule crash tests: ``python schedule_worker.py DB QUEUE``.

It runs a Worker (and so the scheduler loop) for ``Tick`` and ``Hold`` until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from stalwart.client import Client
from stalwart.worker import Worker
from tests.schedules.workflows import Hold, Tick


async def serve(db_path: str, task_queue: str) -> None:
    client = await Client.connect(f"sqlite:///{db_path}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[Tick, Hold]):
            await stop.wait()
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2]))
