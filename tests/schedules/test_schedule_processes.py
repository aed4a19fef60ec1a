"""Schedules across real worker processes: catch-up after a SIGKILL, and no double firing
with two workers running at once. Runs are counted by workflow id in the store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from stalwart.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from tests.helpers.waiting import eventually

from .workflows import Tick

SCRIPT = Path(__file__).with_name("schedule_worker.py")
REPO_ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    def __init__(self, db: Path, task_queue: str, name: str) -> None:
        self.log_path = db.parent / f"worker-{name}.log"
        # This checkout's stalwart, not whichever one the environment has installed.
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, str(SCRIPT), str(db), task_queue],
                                         stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                                         env=env)

    def sigkill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()  # reaped: a zombie would still look alive to a pid probe

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def processes() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        process.stop()


def every_second(task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(Tick.run, "t", id="tick", task_queue=task_queue),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=1))]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL))


async def run_counts(client: Client) -> Counter[str]:
    rows = await client.store.list_executions(workflow_id_prefix="tick-", limit=100_000)
    return Counter(r.workflow_id for r in rows)


def scheduled_second(workflow_id: str) -> datetime:
    return datetime.strptime(workflow_id.removeprefix("tick-"), "%Y-%m-%dT%H:%M:%SZ")


async def wait_until_clock(moment: float) -> None:
    """Let wall-clock time pass: here the passing of time is the thing waited for."""
    while time.time() < moment:
        await asyncio.sleep(0.05)


async def num_actions(handle: ScheduleHandle) -> int:
    return (await handle.describe()).info.num_actions


async def test_missed_times_fire_once_each_after_the_scheduler_is_killed(
        tmp_path: Path, task_queue: str, processes: list[WorkerProcess]) -> None:
    db = tmp_path / "stalwart.db"
    client = await Client.connect(f"sqlite:///{db}")
    try:
        handle = await client.create_schedule("catchup", every_second(task_queue))
        first = WorkerProcess(db, task_queue, "a")
        processes.append(first)

        async def fired_twice() -> bool:
            return await num_actions(handle) >= 2

        await eventually(fired_twice, timeout=20, what="two fires before the kill")
        first.sigkill()
        killed_at = time.time()
        before = await run_counts(client)
        await wait_until_clock(killed_at + 3.5)  # at least three due times pass unattended
        assert await run_counts(client) == before  # nobody fired while no worker ran
        restarted_at = time.time()
        processes.append(WorkerProcess(db, task_queue, "b"))

        async def caught_up() -> bool:
            counts = await run_counts(client)
            latest = max(scheduled_second(i) for i in counts)
            return latest.timestamp() >= restarted_at

        await eventually(caught_up, timeout=20, what="the new worker to catch up")
        counts = await run_counts(client)
        assert set(counts.values()) == {1}, f"a scheduled time fired twice: {counts}"
        seconds = sorted(scheduled_second(i) for i in counts)
        gaps = [b - a for a, b in pairwise(seconds)]
        assert all(gap == timedelta(seconds=1) for gap in gaps), \
            f"a time between {seconds[0]} and {seconds[-1]} never fired: {seconds}"
        missed = [s for s in seconds if killed_at < s.timestamp() + 1 < restarted_at]
        assert len(missed) >= 3  # the downtime's times are there, each once
        description = await handle.describe()
        assert description.info.num_actions == len(counts)
        assert description.info.num_actions_missed_catchup_window == 0
    finally:
        await client.close()


async def test_two_workers_at_once_never_fire_a_time_twice(
        tmp_path: Path, task_queue: str, processes: list[WorkerProcess]) -> None:
    db = tmp_path / "stalwart.db"
    client = await Client.connect(f"sqlite:///{db}")
    try:
        handle = await client.create_schedule("shared", every_second(task_queue))
        processes += [WorkerProcess(db, task_queue, "a"), WorkerProcess(db, task_queue, "b")]

        async def five_fired() -> bool:
            return await num_actions(handle) >= 5

        await eventually(five_fired, timeout=30, what="five fires with two workers")
        await handle.pause()
        counts = await run_counts(client)
        assert set(counts.values()) == {1}, f"a scheduled time fired twice: {counts}"
        assert len(counts) == await num_actions(handle)
    finally:
        await client.close()


async def test_concurrent_fire_steps_from_two_connections_fire_each_time_once(
        tmp_path: Path, task_queue: str) -> None:
    """The lease aside: two stores racing the same step still fire each due time once."""
    from stalwart._schedules import logic

    url = f"sqlite:///{tmp_path / 'stalwart.db'}"
    first, second = await Client.connect(url), await Client.connect(url)
    try:
        handle = await first.create_schedule("race", every_second(task_queue))
        created = time.time()
        await wait_until_clock(created + 3.2)
        now = time.time()

        async def fire(client: Client) -> None:
            await client.store.mutate_schedule(
                "race", lambda row, txn: logic.tick(row, txn, now), now)

        await asyncio.gather(*(fire(c) for _ in range(5) for c in (first, second)))
        counts = await run_counts(first)
        assert set(counts.values()) == {1}
        assert len(counts) == await num_actions(handle) >= 3
    finally:
        await first.close()
        await second.close()
