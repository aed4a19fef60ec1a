"""A replacement worker takes over a killed worker's work without waiting out leases or timeouts."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from stalwart.client import Client

from ._harness import (
    Files,
    WorkerProcess,
    completed_steps,
    history,
    pid_of_identity,
    read_lines,
    result_while_alive,
    wait_for_state,
)
from .worker_process import STEPS, TwentySteps, expected_result

# Liveness bounds, not performance assertions: each is far below the 60 s start-to-close timeout
# the hanging step would otherwise have to wait out.
REACH_KILL_POINT_SECONDS = 20.0
RESULT_SECONDS = 20.0
HANG_STEP = 5


async def test_replacement_worker_resumes_workflow_waiting_on_timer(tmp_path: Path) -> None:
    files = Files(tmp_path, f"resume-{uuid.uuid4().hex[:8]}")
    client = await Client.connect(files.db_url)
    workers: list[WorkerProcess] = []
    try:
        handle = await client.start_workflow(TwentySteps.run, STEPS, id="resume-timer",
                                             task_queue=files.task_queue)
        worker_a = WorkerProcess(files, "A")
        workers.append(worker_a)

        async def timer_pending() -> bool:
            types = [e.event_type for e in await history(handle)]
            return "TimerStarted" in types and "TimerFired" not in types

        await wait_for_state(timer_pending, timeout=REACH_KILL_POINT_SECONDS,
                             what="the workflow to wait on its timer", workers=[worker_a])
        worker_a.sigkill()
        before = len(await history(handle))

        workers.append(WorkerProcess(files, "B"))
        resumed_at = time.monotonic()

        async def progressed() -> bool:
            return len(await history(handle)) > before

        await wait_for_state(progressed, timeout=RESULT_SECONDS,
                             what="worker B to record progress", workers=workers[1:])
        first_progress = time.monotonic() - resumed_at
        result = await result_while_alive(handle, timeout=RESULT_SECONDS, workers=workers[1:])
        finished = time.monotonic() - resumed_at
    finally:
        for worker in workers:
            worker.stop()
        await client.close()

    print(f"worker B: first progress after {first_progress:.2f}s, "
          f"workflow finished after {finished:.2f}s")
    assert result == expected_result()


async def test_activity_in_flight_on_killed_worker_retried_before_its_timeout(
        tmp_path: Path) -> None:
    files = Files(tmp_path, f"inflight-{uuid.uuid4().hex[:8]}")
    client = await Client.connect(files.db_url)
    workers: list[WorkerProcess] = []
    hang = ["--hang-step", str(HANG_STEP)]
    try:
        handle = await client.start_workflow(TwentySteps.run, STEPS, id="resume-inflight",
                                             task_queue=files.task_queue)
        worker_a = WorkerProcess(files, "A", hang)
        workers.append(worker_a)

        async def hanging() -> bool:
            return any(line.kind == "begin" and line.step == HANG_STEP
                       for line in read_lines(files.marks))

        await wait_for_state(hanging, timeout=REACH_KILL_POINT_SECONDS,
                             what=f"step {HANG_STEP} to start", workers=[worker_a])
        worker_a.sigkill()

        worker_b = WorkerProcess(files, "B", hang)
        workers.append(worker_b)
        resumed_at = time.monotonic()
        # The activity's start_to_close_timeout is 60 s: finishing within this bound means the
        # dead worker's attempt was handed over, not timed out.
        result = await result_while_alive(handle, timeout=RESULT_SECONDS, workers=[worker_b])
        finished = time.monotonic() - resumed_at
        final_history = await history(handle)
    finally:
        for worker in workers:
            worker.stop()
        await client.close()

    print(f"worker B finished the workflow {finished:.2f}s after it started")
    assert result == expected_result()
    recorded = {step: attrs for step, attrs in completed_steps(final_history)}
    assert recorded[HANG_STEP]["attempt"] == 2
    assert pid_of_identity(recorded[HANG_STEP]["identity"]) == worker_b.pid
    ran = [line for line in read_lines(files.journal) if line.step == HANG_STEP]
    assert [(line.attempt, line.pid) for line in ran] == [(2, worker_b.pid)]
