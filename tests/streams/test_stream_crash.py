"""A reader follows a stream while the worker publishing to it is SIGKILLed mid-stream and the
reader's own client disconnects; it resumes from its offset and sees every item once, in
order, with the killed attempt's items marked. On both stores, with real subprocesses."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from stalwart.client import Client
from stalwart.contrib.workflow_streams import WorkflowStreamItem

from .stream_worker import HANG_AFTER, HANG_STEP, STEPS, Storyteller, tokens_of

WORKER = Path(__file__).with_name("stream_worker.py")
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90.0


class Proc:
    def __init__(self, url: str, task_queue: str, log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen([sys.executable, str(WORKER), url, task_queue],
                                         stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)

    def sigkill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def expected_tokens() -> list[str]:
    return [token for step in range(STEPS) for token in tokens_of(step)]


async def test_reader_resumes_after_sigkill_and_reconnect(db_url: str, tmp_path: Path,
                                                          task_queue: str) -> None:
    workflow_id = f"story-{uuid.uuid4().hex[:8]}"
    starter = await Client.connect(db_url)
    worker_a = Proc(db_url, task_queue, tmp_path / "a.log")
    worker_b: Proc | None = None
    seen: list[WorkflowStreamItem[Any]] = []
    try:
        handle = await starter.start_workflow(Storyteller.run, STEPS, id=workflow_id,
                                              task_queue=task_queue)
        hung = f"{HANG_STEP}.{HANG_AFTER - 1}"
        # Reader 1: its own client, follows from the start until the hung attempt's last
        # token, then disconnects (its client closes) while the worker is killed.
        reader = await Client.connect(db_url)
        try:
            async def first_part() -> None:
                async for item in reader.workflow_stream(workflow_id).subscribe():
                    seen.append(item)
                    if item.data == hung:
                        return
            await asyncio.wait_for(first_part(), DEADLINE)
        finally:
            await reader.close()
        worker_a.sigkill()
        assert seen[-1].attempt == 1
        worker_b = Proc(db_url, task_queue, tmp_path / "b.log")
        # Reader 2: a new client resumes after the last offset it saw.
        resumed = await Client.connect(db_url)
        try:
            async def rest() -> None:
                async for item in resumed.workflow_stream(workflow_id).subscribe(
                        from_offset=seen[-1].offset + 1):
                    seen.append(item)
            await asyncio.wait_for(rest(), DEADLINE)
            assert await handle.result() == STEPS
            clean = [item async for item in resumed.workflow_stream(workflow_id).subscribe(
                include_failed=False)]
        finally:
            await resumed.close()
    finally:
        worker_a.stop()
        if worker_b is not None:
            worker_b.stop()
        await starter.close()
    # Every item once, in order: the offsets of the whole stream, none twice, none missing.
    assert [item.offset for item in seen] == list(range(len(seen)))
    # Workflow items: the replay in worker B did not publish again what A had published.
    assert [i.data for i in seen if i.topic == "status"] == (
        ["start"] + [f"done {s}" for s in range(STEPS)] + ["end"])
    # The killed attempt's items are marked; dropping them leaves each token once, in order.
    marker = [i for i in seen if i.kind == "attempt_failed"]
    assert [(m.attempt, m.topic) for m in marker] == [(1, "tokens")]
    voided = {(m.activity_id, m.attempt) for m in marker}
    tokens = [i.data for i in seen if i.topic == "tokens" and i.kind == "item"
              and (i.activity_id, i.attempt) not in voided]
    assert tokens == expected_tokens()
    killed = [i.data for i in seen if (i.activity_id, i.attempt) in voided and i.kind == "item"]
    assert killed == tokens_of(HANG_STEP)[:HANG_AFTER]
    # A reader that comes afterwards gets the clean stream directly.
    assert [i.data for i in clean if i.topic == "tokens"] == expected_tokens()
    assert all(not i.failed for i in clean)
