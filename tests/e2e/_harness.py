"""Worker subprocesses for the crash tests, and reading what they left behind.

Everything here observes real state: the fsync'd journal and marks files the activities write,
and the history in the SQLite store, read through a ``Client`` in the test process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from stalwart._model.events import HistoryEvent
from stalwart.client import WorkflowHandle

WORKER_SCRIPT = Path(__file__).with_name("worker_process.py")
REPO_ROOT = Path(__file__).resolve().parents[2]

T = TypeVar("T")


@dataclass(frozen=True)
class Line:
    """One line of a journal or marks file: ``<kind> [<step> attempt <a>] pid <pid>``."""

    kind: str
    step: int
    attempt: int
    pid: int


def read_lines(path: Path) -> list[Line]:
    if not path.exists():
        return []
    lines = []
    for raw in path.read_text().splitlines():
        words = raw.split()
        if len(words) == 6:
            lines.append(Line(words[0], int(words[1]), int(words[3]), int(words[5])))
        elif len(words) == 3:
            lines.append(Line(words[0], 0, 0, int(words[2])))
    return lines


@dataclass
class Files:
    """The paths one crash case shares between the test and its worker processes."""

    root: Path
    task_queue: str

    @property
    def db(self) -> Path:
        return self.root / "stalwart.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db}"

    @property
    def journal(self) -> Path:
        return self.root / "journal.txt"

    @property
    def marks(self) -> Path:
        return self.root / "marks.txt"


class WorkerProcess:
    """A ``worker_process.py`` subprocess; its output goes to a log file kept for failures."""

    def __init__(self, files: Files, name: str, extra_args: Sequence[str] = ()) -> None:
        self.name = name
        self.log_path = files.root / f"worker-{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), str(files.db), files.task_queue,
                 str(files.journal), str(files.marks), *extra_args],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        self.pid = self.proc.pid

    def sigkill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        # Reap it: until its parent waits, a killed process is a zombie that still looks alive
        # to anyone probing its pid.
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_running(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"worker {self.name} exited with {code}:\n{self.log()}")


async def wait_for_state(check: Callable[[], Awaitable[T]], *, timeout: float,
                         what: str, interval: float = 0.002,
                         workers: Sequence[WorkerProcess] = ()) -> T:
    """Poll real state until ``check`` is truthy; a worker that dies meanwhile fails at once."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        for worker in workers:
            worker.assert_running()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def result_while_alive(handle: WorkflowHandle[Any, Any], *, timeout: float,
                             workers: Sequence[WorkerProcess]) -> Any:
    """The workflow's result; fails at once, with its log, if a worker process exits."""
    waiting = asyncio.ensure_future(handle.result())
    deadline = time.monotonic() + timeout
    try:
        while not waiting.done():
            await asyncio.wait({waiting}, timeout=0.05)
            if waiting.done():
                break
            for worker in workers:
                worker.assert_running()
            if time.monotonic() > deadline:
                raise AssertionError(f"no result within {timeout}s")
        return waiting.result()
    finally:
        if not waiting.done():
            waiting.cancel()
            await asyncio.gather(waiting, return_exceptions=True)


def steps_by_seq(events: Sequence[HistoryEvent]) -> dict[str, int]:
    """Scheduled event id -> step number, from the ``step-<n>`` activity ids the workflow
    uses."""
    return {str(e.event_id): int(e.attributes["activityId"].removeprefix("step-"))
            for e in events if e.event_type == "ActivityTaskScheduled"}


def completed_steps(events: Sequence[HistoryEvent]) -> list[tuple[int, dict[str, Any]]]:
    """(step, {"attempt", "identity"}) of every ActivityTaskCompleted, in history order (the
    attempt is on the ActivityTaskStarted the completion refers to, as in Temporal)."""
    by_seq = steps_by_seq(events)
    by_id = {str(e.event_id): e for e in events}
    return [(by_seq[e.attributes["scheduledEventId"]], {
        "attempt": by_id[e.attributes["startedEventId"]].attributes["attempt"],
        "identity": e.attributes["identity"]}) for e in events
        if e.event_type == "ActivityTaskCompleted"]


async def history(handle: WorkflowHandle[Any, Any]) -> list[HistoryEvent]:
    return list((await handle.fetch_history()).events)


def pid_of_identity(identity: str) -> int:
    return int(identity.split("@", 1)[0])


def check_exactly_once(*, steps: int, final_history: Sequence[HistoryEvent],
                       recorded_at_kill: set[int], journal: Sequence[Line],
                       killed_pid: int) -> None:
    """The crash invariants: results recorded once, no side effect repeated after recording.

    - history holds exactly one ActivityTaskCompleted per step;
    - the recorded attempt of each step is the last one in the journal: nothing ran the step
      again once its result was recorded;
    - a step whose result was in history when the worker was killed ran exactly once, in the
      killed worker;
    - at most one step (the one in flight at the kill) ran twice, first in the killed worker.
    """
    completed = completed_steps(final_history)
    counts: dict[int, int] = {}
    for step, _ in completed:
        counts[step] = counts.get(step, 0) + 1
    assert counts == {n: 1 for n in range(1, steps + 1)}, \
        f"ActivityTaskCompleted per step: {counts}"

    runs: dict[int, list[Line]] = {}
    for line in journal:
        assert line.kind == "step", line
        runs.setdefault(line.step, []).append(line)
    for step, attrs in completed:
        last = runs[step][-1]
        assert (last.attempt, last.pid) == (attrs["attempt"], pid_of_identity(attrs["identity"])), \
            f"step {step}: recorded attempt {attrs['attempt']} by {attrs['identity']}, but the " \
            f"journal shows {runs[step]}"
    for step in recorded_at_kill:
        assert len(runs[step]) == 1 and runs[step][0].pid == killed_pid, \
            f"step {step} was recorded before the kill but ran {runs[step]}"
    repeated = {step: lines for step, lines in runs.items() if len(lines) > 1}
    assert len(repeated) <= 1, f"more than the one in-flight step ran twice: {repeated}"
    for step, lines in repeated.items():
        assert len(lines) == 2 and lines[0].pid == killed_pid and lines[1].pid != killed_pid, \
            f"step {step} ran {lines}"
        assert lines[1].attempt > lines[0].attempt, f"step {step} ran {lines}"
