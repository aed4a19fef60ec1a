"""The cron crash test's worker: ``python -m tests.e2e.cron_worker_process DB_URL QUEUE MARKS``.

It serves ``CronTicks``, a cron workflow whose every run calls one activity; the activity
appends ``<run id> <count> pid <pid>`` to MARKS (fsync'd, so the line survives a SIGKILL that
follows) and the run returns its count, which the next run reads as its last completion
result. The process runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker
from tests.e2e.worker_process import append_line

_marks_path = ""


@activity.defn
async def tick(run_id: str, count: int) -> None:
    append_line(_marks_path, f"{run_id} {count} pid {os.getpid()}")


@workflow.defn
class CronTicks:
    @workflow.run
    async def run(self) -> int:
        last = workflow.get_last_completion_result(int) or 0
        await workflow.execute_activity(tick, args=[workflow.info().run_id, last + 1],
                                        start_to_close_timeout=timedelta(seconds=30))
        return last + 1


async def serve(db_url: str, task_queue: str) -> None:
    client = await Client.connect(db_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[CronTicks],
                          activities=[tick]):
            await stop.wait()
    finally:
        await client.close()


def main(argv: list[str]) -> None:
    global _marks_path
    db_url, task_queue, _marks_path = argv
    asyncio.run(serve(db_url, task_queue))


if __name__ == "__main__":
    main(sys.argv[1:])
