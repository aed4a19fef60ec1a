"""A worker process SIGKILLed at many points of a 20-step workflow; a new process finishes it.

Each case starts the workflow from this process, starts worker A, waits for the kill point by
watching real state (the fsync'd files the activities write, or the history in the store), kills
A with SIGKILL, starts worker B and waits for the result. Then it checks that the result is
right and that no result was recorded twice and no recorded step ran again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stalwart.client import Client, WorkflowHandle

from ._harness import (
    Files,
    WorkerProcess,
    check_exactly_once,
    completed_steps,
    history,
    read_lines,
    result_while_alive,
    steps_by_seq,
    wait_for_state,
)
from .worker_process import STEPS, TIMER_AFTER_STEP, TwentySteps, expected_result

# Generous deadlines: they bound liveness (a hang fails the test), they are not performance
# assertions. A healthy case takes about a second.
REACH_KILL_POINT_SECONDS = 20.0
RESULT_SECONDS = 20.0


@dataclass
class Probe:
    files: Files
    handle: WorkflowHandle[Any, Any]

    def marked(self, kind: str, step: int = 0) -> bool:
        return any(line.kind == kind and line.step == step
                   for line in read_lines(self.files.marks))

    def journaled(self, step: int) -> bool:
        return any(line.step == step for line in read_lines(self.files.journal))

    async def event_types(self) -> list[str]:
        return [e.event_type for e in await history(self.handle)]


@dataclass(frozen=True)
class KillPoint:
    name: str
    reached: Callable[[Probe], Awaitable[bool]]

    def __str__(self) -> str:
        return self.name


def _connected() -> KillPoint:
    async def reached(probe: Probe) -> bool:
        return probe.marked("connected")

    return KillPoint("before-first-workflow-task", reached)


def _polling() -> KillPoint:
    async def reached(probe: Probe) -> bool:
        return probe.marked("polling")

    return KillPoint("worker-just-polling", reached)


def _begins(step: int) -> KillPoint:
    async def reached(probe: Probe) -> bool:
        return probe.marked("begin", step)

    return KillPoint(f"step-{step}-begins", reached)


def _side_effect_done(step: int) -> KillPoint:
    """The activity has journaled its side effect; its result may not be recorded yet."""
    async def reached(probe: Probe) -> bool:
        return probe.journaled(step)

    return KillPoint(f"step-{step}-journaled", reached)


def _scheduled(step: int) -> KillPoint:
    async def reached(probe: Probe) -> bool:
        return step in steps_by_seq(await history(probe.handle)).values()

    return KillPoint(f"step-{step}-scheduled", reached)


def _recorded(step: int) -> KillPoint:
    async def reached(probe: Probe) -> bool:
        return step in {s for s, _ in completed_steps(await history(probe.handle))}

    return KillPoint(f"step-{step}-recorded", reached)


def _timer_pending() -> KillPoint:
    async def reached(probe: Probe) -> bool:
        types = await probe.event_types()
        return "TimerStarted" in types and "TimerFired" not in types

    return KillPoint("during-timer", reached)


def _timer_fired() -> KillPoint:
    async def reached(probe: Probe) -> bool:
        return "TimerFired" in await probe.event_types()

    return KillPoint("timer-fired", reached)


KILL_POINTS = [
    _connected(),
    _polling(),
    *(_begins(step) for step in (1, 2, 5, TIMER_AFTER_STEP, TIMER_AFTER_STEP + 1, 15, 19, 20)),
    *(_side_effect_done(step) for step in (1, 6, 13, 20)),
    *(_scheduled(step) for step in (4, 12, 17)),
    *(_recorded(step) for step in (1, 3, 8, TIMER_AFTER_STEP, 14, 20)),
    _timer_pending(),
    _timer_fired(),
]


@pytest.mark.parametrize("kill_point", KILL_POINTS, ids=str)
async def test_worker_sigkill_result_recorded_exactly_once(tmp_path: Path,
                                                           kill_point: KillPoint) -> None:
    files = Files(tmp_path, f"crash-{uuid.uuid4().hex[:8]}")
    client = await Client.connect(files.db_url)
    workers: list[WorkerProcess] = []
    try:
        handle = await client.start_workflow(TwentySteps.run, STEPS, id=f"crash-{kill_point}",
                                             task_queue=files.task_queue)
        probe = Probe(files, handle)
        worker_a = WorkerProcess(files, "A")
        workers.append(worker_a)
        await wait_for_state(lambda: kill_point.reached(probe), timeout=REACH_KILL_POINT_SECONDS,
                             what=f"kill point {kill_point}", workers=[worker_a])
        worker_a.sigkill()
        # Nothing writes to the store between the kill and B's start: this is what was durable.
        recorded_at_kill = {step for step, _ in completed_steps(await history(handle))}

        workers.append(WorkerProcess(files, "B"))
        resumed_at = time.monotonic()
        result = await result_while_alive(handle, timeout=RESULT_SECONDS, workers=workers[1:])
        resume_seconds = time.monotonic() - resumed_at
        final_history = await history(handle)
    except BaseException:
        for worker in workers:
            print(f"--- worker {worker.name} (pid {worker.pid}) log ---\n{worker.log()}")
        raise
    finally:
        for worker in workers:
            worker.stop()
        await client.close()

    journal = read_lines(files.journal)
    retried = sorted({line.step for line in journal if line.attempt > 1})
    print(f"{kill_point}: {len(recorded_at_kill)} steps recorded at the kill, steps retried: "
          f"{retried}, worker B finished in {resume_seconds:.2f}s")
    assert result == expected_result()
    assert [e.event_type for e in final_history].count("WorkflowExecutionCompleted") == 1
    check_exactly_once(steps=STEPS, final_history=final_history,
                       recorded_at_kill=recorded_at_kill, journal=journal,
                       killed_pid=worker_a.pid)
