"""A cron workflow's worker SIGKILLed between two runs: a new worker process carries the chain
on; every run's activity ran exactly once and each run saw the previous run's result."""

from __future__ import annotations

import itertools
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from stalwart.client import Client, WorkflowExecutionStatus

from ._harness import REPO_ROOT, wait_for_state

STATE_SECONDS = 30.0  # bounds liveness only; a healthy run takes about three seconds


class CronWorker:
    def __init__(self, db_url: str, task_queue: str, marks: Path, log: Path) -> None:
        self.log_path = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.e2e.cron_worker_process", db_url, task_queue,
                 str(marks)], stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT)

    def sigkill(self) -> None:
        self.proc.kill()  # SIGKILL
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def assert_running(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"cron worker exited:\n{self.log_path.read_text()}")


def marks(path: Path) -> list[tuple[str, int, int]]:
    if not path.exists():
        return []
    return [(w[0], int(w[1]), int(w[3])) for w in
            (line.split() for line in path.read_text().splitlines())]


@pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)
async def test_cron_chain_survives_a_worker_killed_between_runs(
        db_url: str, tmp_path: Path) -> None:
    task_queue = f"cron-{uuid.uuid4().hex[:8]}"
    marks_path = tmp_path / "marks.txt"
    client = await Client.connect(db_url)
    first = CronWorker(db_url, task_queue, marks_path, tmp_path / "worker-a.log")
    second: CronWorker | None = None
    try:
        handle = await client.start_workflow("CronTicks", id=task_queue, task_queue=task_queue,
                                             cron_schedule="@every 1s")
        first_run = handle.result_run_id

        async def first_run_closed() -> bool:
            first.assert_running()
            return (await handle.describe()).run_id != first_run

        # Run 1 has completed and run 2 waits for its time: kill the worker now.
        await wait_for_state(first_run_closed, timeout=STATE_SECONDS, what="run 1 closed")
        first.sigkill()
        second = CronWorker(db_url, task_queue, marks_path, tmp_path / "worker-b.log")

        async def three_runs() -> bool:
            assert second is not None
            second.assert_running()
            return len(marks(marks_path)) >= 3

        await wait_for_state(three_runs, timeout=STATE_SECONDS, what="three cron runs")
        await handle.terminate("enough")
        seen = marks(marks_path)
        run_ids = [run_id for run_id, _, _ in seen]
        assert len(set(run_ids)) == len(run_ids), f"a run's activity ran twice: {seen}"
        assert [count for _, count, _ in seen] == list(range(1, len(seen) + 1))
        assert seen[0][2] == first.proc.pid and seen[-1][2] == second.proc.pid
        # The chain links each run to the one before, under one workflow id.
        for previous, run_id in itertools.pairwise(run_ids):
            described = await client.get_workflow_handle(task_queue, run_id=previous).describe()
            assert described.status == WorkflowExecutionStatus.COMPLETED
            nxt = (await client.get_workflow_handle(task_queue, run_id=previous)
                   .fetch_history()).events[-1]
            assert nxt.attributes["newExecutionRunId"] == run_id
    finally:
        first.stop()
        if second is not None:
            second.stop()
        await client.close()
