"""A worker process for the crash tests: ``python worker_process.py DB QUEUE JOURNAL MARKS``.

It serves ``TwentySteps``: twenty sequential activities with one durable timer in the middle.
Each activity appends ``begin <n> attempt <a> pid <pid>`` to MARKS when it starts and
``step <n> attempt <a> pid <pid>`` to JOURNAL just before it returns, both fsync'd, so a test in
another process can see exactly which side effects happened, in which process, even after that
process was SIGKILLed. The process also marks ``connected`` and ``polling`` so a test can kill it
before it has done anything. With ``--hang-step N`` the first attempt of step N blocks for a
minute, so a kill is certain to find it in flight. It runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

STEPS = 20
# The timer sits between these two steps so a kill can land while it is pending.
TIMER_AFTER_STEP = 10
TIMER_SECONDS = 0.4
STEP_SECONDS = 0.015
HANG_SECONDS = 60.0

_journal_path = ""
_marks_path = ""
_hang_step = 0


def append_line(path: str, line: str) -> None:
    """Append one line and fsync: the line must survive a SIGKILL that follows at once."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def expected_result(steps: int = STEPS) -> int:
    return sum(n * n * n for n in range(1, steps + 1))


@activity.defn
def run_step(n: int) -> int:
    attempt = activity.info().attempt
    pid = os.getpid()
    append_line(_marks_path, f"begin {n} attempt {attempt} pid {pid}")
    # Stands in for real work (an LLM or tool call) so a kill can land mid-activity.
    time.sleep(HANG_SECONDS if n == _hang_step and attempt == 1 else STEP_SECONDS)
    append_line(_journal_path, f"step {n} attempt {attempt} pid {pid}")
    return n * n


@workflow.defn
class TwentySteps:
    @workflow.run
    async def run(self, steps: int) -> int:
        results: list[int] = []
        for n in range(1, steps + 1):
            results.append(await workflow.execute_activity(
                run_step, n, activity_id=f"step-{n}",
                start_to_close_timeout=timedelta(seconds=60)))
            if n == TIMER_AFTER_STEP:
                await workflow.sleep(TIMER_SECONDS)
        return sum(n * r for n, r in enumerate(results, start=1))


async def serve(db_path: str, task_queue: str) -> None:
    client = await Client.connect(f"sqlite:///{db_path}")
    pid = os.getpid()
    append_line(_marks_path, f"connected pid {pid}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[TwentySteps],
                          activities=[run_step]):
            append_line(_marks_path, f"polling pid {pid}")
            await stop.wait()
    finally:
        await client.close()


def main(argv: list[str]) -> None:
    global _journal_path, _marks_path, _hang_step
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db_path")
    parser.add_argument("task_queue")
    parser.add_argument("journal")
    parser.add_argument("marks")
    parser.add_argument("--hang-step", type=int, default=0)
    options = parser.parse_args(argv)
    _journal_path, _marks_path, _hang_step = options.journal, options.marks, options.hang_step
    asyncio.run(serve(options.db_path, options.task_queue))


if __name__ == "__main__":
    main(sys.argv[1:])
