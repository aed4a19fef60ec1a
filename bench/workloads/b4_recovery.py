"""B4: a worker process is SIGKILLed mid-workflow; a fresh one picks the workflow up.

Each activity writes ``start`` when it begins and ``done`` when it ends to a file shared by
both worker processes, so the file tells which activities ran, in which process and when.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import ACTIVITY_TIMEOUT, Config, WorkerProcess, announce_ready, new_id, rounded

NAME = "B4_recovery"
MODULE = "bench.workloads.b4_recovery"
# How often the parent reads the activity log while waiting for a line to appear.
LOG_POLL_SECONDS = 0.001


@activity.defn(name="b4_step")
async def step(index: int, path: str, sleep_s: float) -> int:
    _append(path, "start", index)
    await asyncio.sleep(sleep_s)
    _append(path, "done", index)
    return index


def _append(path: str, what: str, index: int) -> None:
    with open(path, "a") as log:
        log.write(f"{what} {index} {time.time():.6f} {os.getpid()}\n")


@workflow.defn(name="B4Steps")
class Steps:
    @workflow.run
    async def run(self, count: int, path: str, sleep_s: float) -> int:
        for index in range(1, count + 1):
            await workflow.execute_activity(step, args=[index, path, sleep_s],
                                            start_to_close_timeout=ACTIVITY_TIMEOUT)
        return count


@dataclass(frozen=True)
class LogLine:
    what: str
    index: int
    at: float
    pid: int


def read_log(path: Path) -> list[LogLine]:
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        parts = raw.split()
        if len(parts) == 4:  # a line being written right now is skipped until complete
            lines.append(LogLine(parts[0], int(parts[1]), float(parts[2]), int(parts[3])))
    return lines


async def wait_for_line(path: Path, what: str, index: int, pid: int,
                        worker: WorkerProcess, timeout: float = 60.0) -> LogLine:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in read_log(path):
            if (line.what, line.index, line.pid) == (what, index, pid):
                return line
        await asyncio.sleep(LOG_POLL_SECONDS)
    raise RuntimeError(f"B4: no '{what} {index}' from worker {pid} within {timeout}s; "
                       f"worker log:\n{worker.log_tail()}")


async def run(config: Config) -> dict[str, Any]:
    count, kill_at, sleep_s = (8, 5, 0.05) if config.short else (20, 11, 0.1)
    url = config.db_url("b4")
    queue = new_id("b4")
    activity_log = config.workdir / f"{new_id('b4-activities')}.log"
    worker_log = config.workdir / f"{new_id('b4-worker')}.log"
    client = await Client.connect(url)
    first = WorkerProcess(MODULE, [url, queue], worker_log)
    second = WorkerProcess(MODULE, [url, queue], worker_log)
    try:
        await first.start()
        workflow_id = new_id("b4")
        handle = await client.start_workflow(Steps.run, args=[count, str(activity_log), sleep_s],
                                             id=workflow_id, task_queue=queue)
        await wait_for_line(activity_log, "start", kill_at, first.pid, first)
        await first.kill()
        if any(line.what == "done" and line.index == kill_at for line in read_log(activity_log)):
            raise RuntimeError(f"B4: activity {kill_at} finished before the kill landed")

        await second.start()
        restarted = await wait_for_line(activity_log, "start", kill_at, second.pid, second)
        result = await handle.result()
        description = await handle.describe()
    finally:
        await first.kill()
        await second.kill()
        await client.close()
    if result != count or description.close_time is None:
        raise RuntimeError(f"B4 workflow returned {result!r}")
    starts = Counter(line.index for line in read_log(activity_log) if line.what == "start")
    duplicated = sum(1 for index in range(1, kill_at) if starts[index] > 1)
    return {
        "activities": count, "killed_at_activity": kill_at, "activity_sleep_s": sleep_s,
        "restart_to_resume_s": rounded(restarted.at - second.spawned_at),
        "restart_to_complete_s": rounded(description.close_time.timestamp()
                                         - second.spawned_at),
        "worker_startup_s": rounded(second.ready_at - second.spawned_at),
        "ready_to_resume_s": rounded(restarted.at - second.ready_at),
        "completed_activities_rerun": duplicated,
        "in_flight_activity_runs": starts[kill_at],
    }


async def _worker_main(url: str, queue: str) -> None:
    client = await Client.connect(url)
    async with Worker(client, task_queue=queue, workflows=[Steps], activities=[step]):
        announce_ready()
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=2, metavar=("URL", "QUEUE"), required=True)
    options = parser.parse_args()
    asyncio.run(_worker_main(*options.worker))
