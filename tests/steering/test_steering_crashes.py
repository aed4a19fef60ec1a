"""Steering across worker crashes: real worker subprocesses killed with SIGKILL.

Each case shares a SQLite file between this process (the client) and the workers, and reads the
fsync'd journal and marks files the workers' activities write to see exactly which side effects
happened, and in which process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from stalwart.client import Client, WorkflowExecutionStatus, WorkflowHandle
from stalwart.exceptions import CancelledError, WorkflowFailureError

pytestmark = pytest.mark.slow

WORKER_SCRIPT = Path(__file__).with_name("steering_worker.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_TIMEOUT = 20.0

T = TypeVar("T")


@dataclass
class Case:
    root: Path
    task_queue: str

    @property
    def db(self) -> Path:
        return self.root / "stalwart.db"

    @property
    def journal(self) -> Path:
        return self.root / "journal.txt"

    @property
    def marks(self) -> Path:
        return self.root / "marks.txt"

    def lines(self, path: Path) -> list[str]:
        return path.read_text().splitlines() if path.exists() else []


class WorkerProcess:
    """A ``steering_worker.py`` subprocess; its output goes to a log kept for failures."""

    def __init__(self, case: Case, name: str, extra_args: Sequence[str] = ()) -> None:
        self.log_path = case.root / f"worker-{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), str(case.db), case.task_queue,
                 str(case.journal), str(case.marks), *extra_args],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        self.pid = self.proc.pid

    def sigkill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        self.proc.wait()  # reap it, so its pid no longer looks alive

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def assert_running(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"worker exited with {code}:\n"
                                 f"{self.log_path.read_text(errors='replace')}")


async def wait_for_state(check: Callable[[], Awaitable[T]], *, what: str,
                         workers: Sequence[WorkerProcess] = ()) -> T:
    """Poll real state until ``check`` is truthy; a worker that dies meanwhile fails at once."""
    deadline = time.monotonic() + STATE_TIMEOUT
    while True:
        value = await check()
        if value:
            return value
        for worker in workers:
            worker.assert_running()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {STATE_TIMEOUT}s waiting for {what}")
        await asyncio.sleep(0.005)


@pytest.fixture
async def case(tmp_path: Path) -> AsyncIterator[Case]:
    yield Case(tmp_path, f"crash-{uuid.uuid4().hex[:8]}")


@pytest.fixture
async def workers() -> AsyncIterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


async def start_worker(case: Case, workers: list[WorkerProcess], name: str,
                       *extra_args: str) -> WorkerProcess:
    worker = WorkerProcess(case, name, extra_args)
    workers.append(worker)

    async def polling() -> bool:
        return f"polling pid {worker.pid}" in case.lines(case.marks)

    await wait_for_state(polling, what=f"worker {name} to poll", workers=[worker])
    return worker


async def has_event(handle: WorkflowHandle[Any, Any], event_type: str) -> bool:
    return any(e.event_type == event_type for e in (await handle.fetch_history()).events)


async def result_within(handle: WorkflowHandle[Any, Any]) -> Any:
    return await asyncio.wait_for(handle.result(), STATE_TIMEOUT)


async def test_crash_signal_while_no_worker_is_up(case: Case,
                                                  workers: list[WorkerProcess]) -> None:
    client = await Client.connect(f"sqlite:///{case.db}")
    try:
        first = await start_worker(case, workers, "first")
        handle = await client.start_workflow("WaitsForSignal", id="waiter",
                                             task_queue=case.task_queue)

        async def blocked() -> bool:
            return await has_event(handle, "WorkflowTaskCompleted")

        await wait_for_state(blocked, what="the workflow to block on its signal",
                             workers=[first])
        first.sigkill()
        await handle.signal("go", "hello")
        assert (await handle.describe()).pending_events == 1
        await start_worker(case, workers, "second")
        assert await result_within(handle) == "got hello"
        events = (await handle.fetch_history()).events
        assert [e.event_type for e in events].count("WorkflowExecutionSignaled") == 1
    finally:
        await client.close()


async def test_crash_between_child_start_and_completion(case: Case,
                                                        workers: list[WorkerProcess]) -> None:
    client = await Client.connect(f"sqlite:///{case.db}")
    try:
        first = await start_worker(case, workers, "first")
        parent = await client.start_workflow("ParentOfOne", id="parent",
                                             task_queue=case.task_queue)
        child = client.get_workflow_handle("parent-child")

        async def child_sleeping() -> bool:
            try:
                return await has_event(child, "TimerStarted")
            except Exception:
                return False  # not started yet

        await wait_for_state(child_sleeping, what="the child to start its timer",
                             workers=[first])
        first.sigkill()
        assert case.lines(case.journal) == []
        second = await start_worker(case, workers, "second")
        assert await result_within(parent) == "parent got worked kid"
        # The child ran once: one start, one run, its activity once, in the second worker.
        parent_types = [e.event_type for e in (await parent.fetch_history()).events]
        assert parent_types.count("StartChildWorkflowExecutionInitiated") == 1
        assert parent_types.count("ChildWorkflowExecutionStarted") == 1
        assert parent_types.count("ChildWorkflowExecutionCompleted") == 1
        description = await child.describe()
        assert description.status == WorkflowExecutionStatus.COMPLETED
        child_types = [e.event_type for e in (await child.fetch_history()).events]
        assert child_types.count("WorkflowExecutionStarted") == 1
        assert case.lines(case.journal) == [f"child attempt 1 pid {second.pid}"]
    finally:
        await client.close()


async def test_crash_during_compensation_after_cancel(case: Case,
                                                      workers: list[WorkerProcess]) -> None:
    client = await Client.connect(f"sqlite:///{case.db}")
    try:
        first = await start_worker(case, workers, "first", "--hang-undo")
        handle = await client.start_workflow("CompensatingBooking", id="booking",
                                             task_queue=case.task_queue)

        async def compensating() -> bool:
            return f"begin undo 2 attempt 1 pid {first.pid}" in case.lines(case.marks)

        await wait_for_state(compensating, what="the first compensation to hang",
                             workers=[first])
        await handle.cancel()

        async def cancel_seen() -> bool:
            return await has_event(handle, "WorkflowExecutionCancelRequested")

        await wait_for_state(cancel_seen, what="the workflow to take the cancel",
                             workers=[first])
        first.sigkill()
        second = await start_worker(case, workers, "second")
        with pytest.raises(WorkflowFailureError) as info:
            await result_within(handle)
        assert isinstance(info.value.cause, CancelledError)
        assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
        journal = [line.rsplit(" attempt ", 1)[0] for line in case.lines(case.journal)]
        # Every compensation ran to completion exactly once, newest first, despite the
        # cancellation and the crash; the killed attempt of "undo 2" never finished.
        assert journal == ["do 1", "do 2", "undo 2", "undo 1"]
        assert f"undo 2 attempt 2 pid {second.pid}" in case.lines(case.journal)
        types = [e.event_type for e in (await handle.fetch_history()).events]
        assert "ActivityTaskCancelRequested" not in types
    finally:
        await client.close()


async def test_crash_holding_a_workflow_task_records_it_timed_out(
        case: Case, workers: list[WorkerProcess]) -> None:
    """A worker killed while it holds a workflow task: the next worker takes the task over
    and the history shows what Temporal's does once the task timeout passes, the abandoned
    task timed out (START_TO_CLOSE) and the task scheduled again."""
    client = await Client.connect(f"sqlite:///{case.db}")
    try:
        first = await start_worker(case, workers, "first", "--hang-task")
        handle = await client.start_workflow("HoldsItsTask", id="holds",
                                             task_queue=case.task_queue)

        async def holding() -> bool:
            return f"holding task pid {first.pid}" in case.lines(case.marks)

        await wait_for_state(holding, what="the first worker to hold the task",
                             workers=[first])
        first.sigkill()
        await start_worker(case, workers, "second")
        assert await result_within(handle) == "done"
        types = [str(e.event_type) for e in (await handle.fetch_history()).events]
        assert types[:7] == ["WorkflowExecutionStarted", "WorkflowTaskScheduled",
                             "WorkflowTaskStarted", "WorkflowTaskTimedOut",
                             "WorkflowTaskScheduled", "WorkflowTaskStarted",
                             "WorkflowTaskCompleted"]
    finally:
        await client.close()
