"""A worker process for the steering crash tests:
``python steering_worker.py DB QUEUE JOURNAL MARKS [--hang-undo]``.

Activities append ``<what> attempt <a> pid <pid>`` lines to JOURNAL just before they return, and
``begin <what> attempt <a> pid <pid>`` to MARKS when they start, both fsync'd so the test sees
exactly which side effects happened even in a process it SIGKILLed. The process marks
``polling pid <pid>`` once its worker runs. With ``--hang-undo`` the first attempt of the
``undo 2`` compensation blocks for a minute, so a kill is certain to find it in flight; with
``--hang-task`` the workflow ``HoldsItsTask`` blocks its workflow task for a minute.
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
from stalwart.common import RetryPolicy
from stalwart.exceptions import ApplicationError
from stalwart.saga import Saga
from stalwart.worker import Worker

HANG_SECONDS = 60.0
TIMEOUT = timedelta(seconds=90)
# A compensation whose worker died is retried at once, not after Temporal's 1 s default.
FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=50), maximum_attempts=5)

_journal_path = ""
_marks_path = ""
_hang_undo = False
_hang_task = False


def append_line(path: str, line: str) -> None:
    """Append one line and fsync: the line must survive a SIGKILL that follows at once."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _stamp(what: str) -> str:
    return f"{what} attempt {activity.info().attempt} pid {os.getpid()}"


@activity.defn
def child_work(name: str) -> str:
    append_line(_marks_path, "begin " + _stamp("child"))
    append_line(_journal_path, _stamp("child"))
    return f"worked {name}"


@activity.defn
def do_step(n: int) -> int:
    append_line(_marks_path, "begin " + _stamp(f"do {n}"))
    if n == 3:
        raise ApplicationError("step 3 failed", type="StepFailed", non_retryable=True)
    append_line(_journal_path, _stamp(f"do {n}"))
    return n


@activity.defn
def undo_step(n: int) -> None:
    append_line(_marks_path, "begin " + _stamp(f"undo {n}"))
    if _hang_undo and n == 2 and activity.info().attempt == 1:
        time.sleep(HANG_SECONDS)  # killed long before this ends
    append_line(_journal_path, _stamp(f"undo {n}"))


@workflow.defn
class WaitsForSignal:
    def __init__(self) -> None:
        self.value: str | None = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.value is not None)
        return f"got {self.value}"

    @workflow.signal
    def go(self, value: str) -> None:
        self.value = value


@workflow.defn
class HoldsItsTask:
    @workflow.run
    async def run(self) -> str:
        if _hang_task and not workflow.unsafe.is_replaying():
            with workflow.unsafe.sandbox_unrestricted():
                append_line(_marks_path, f"holding task pid {os.getpid()}")
                time.sleep(HANG_SECONDS)  # noqa: ASYNC251 - killed long before this ends
        await workflow.sleep(0.01)
        return "done"


@workflow.defn
class SleepyChild:
    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.sleep(0.5)
        result: str = await workflow.execute_activity(child_work, name,
                                                      start_to_close_timeout=TIMEOUT)
        return result


@workflow.defn
class ParentOfOne:
    @workflow.run
    async def run(self) -> str:
        child_id = f"{workflow.info().workflow_id}-child"
        result = await workflow.execute_child_workflow(SleepyChild.run, "kid", id=child_id)
        return f"parent got {result}"


@workflow.defn
class CompensatingBooking:
    @workflow.run
    async def run(self) -> str:
        async with Saga(start_to_close_timeout=TIMEOUT, retry_policy=FAST_RETRY) as saga:
            for n in (1, 2, 3):
                await workflow.execute_activity(do_step, n, start_to_close_timeout=TIMEOUT)
                saga.add_compensation(undo_step, n)
        return "booked"


async def serve(db_path: str, task_queue: str) -> None:
    client = await Client.connect(f"sqlite:///{db_path}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with Worker(client, task_queue=task_queue,
                          workflows=[WaitsForSignal, SleepyChild, ParentOfOne,
                                     CompensatingBooking, HoldsItsTask],
                          activities=[child_work, do_step, undo_step]):
            append_line(_marks_path, f"polling pid {os.getpid()}")
            await stop.wait()
    finally:
        await client.close()


def main(argv: list[str]) -> None:
    global _journal_path, _marks_path, _hang_undo, _hang_task
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db_path")
    parser.add_argument("task_queue")
    parser.add_argument("journal")
    parser.add_argument("marks")
    parser.add_argument("--hang-undo", action="store_true")
    parser.add_argument("--hang-task", action="store_true")
    options = parser.parse_args(argv)
    _journal_path, _marks_path, _hang_undo = options.journal, options.marks, options.hang_undo
    _hang_task = options.hang_task
    asyncio.run(serve(options.db_path, options.task_queue))


if __name__ == "__main__":
    main(sys.argv[1:])
