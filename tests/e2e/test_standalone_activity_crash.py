"""An activity started from a client survives the SIGKILL of the worker process running it:
another worker process runs it again and the client gets the one recorded result."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

from stalwart.client import ActivityExecutionStatus, Client

from ._harness import Files, WorkerProcess, read_lines, wait_for_state

HANG_STEP = 7
DEADLINE_SECONDS = 30.0  # bounds liveness (a hang fails the test); not a performance claim


async def test_standalone_activity_retried_after_worker_sigkill(tmp_path: Path) -> None:
    files = Files(tmp_path, f"tq-{uuid.uuid4().hex[:8]}")
    client = await Client.connect(files.db_url)
    workers: list[WorkerProcess] = []
    try:
        # The first attempt of step 7 blocks for a minute in worker A.
        workers.append(WorkerProcess(files, "a", ["--hang-step", str(HANG_STEP)]))
        handle = await client.start_activity(
            "run_step", HANG_STEP, id="charge-7", task_queue=files.task_queue,
            start_to_close_timeout=timedelta(minutes=5), result_type=int)

        async def begun() -> bool:
            return any(line.kind == "begin" and line.step == HANG_STEP
                       for line in read_lines(files.marks))

        await wait_for_state(begun, timeout=DEADLINE_SECONDS, what="attempt 1 in worker A",
                             workers=workers)
        workers[0].sigkill()
        workers.append(WorkerProcess(files, "b"))
        result = await asyncio.wait_for(handle.result(), DEADLINE_SECONDS)
        assert result == HANG_STEP * HANG_STEP
        begins = [line for line in read_lines(files.marks) if line.kind == "begin"]
        assert [(line.attempt, line.pid) for line in begins] == [
            (1, workers[0].pid), (2, workers[1].pid)]
        # Only worker B got as far as returning: the result was produced once.
        journal = read_lines(files.journal)
        assert [(line.attempt, line.pid) for line in journal] == [(2, workers[1].pid)]
        description = await handle.describe()
        assert description.status == ActivityExecutionStatus.COMPLETED
        assert description.attempt == 2
        assert description.last_worker_identity is not None
        assert str(workers[1].pid) in description.last_worker_identity
    finally:
        for worker in workers:
            worker.stop()
        await client.close()
