"""temporalio's deadlock detector: workflow code that holds the worker's thread past 2 s fails
the workflow task ("[TMPRL1101] Potential deadlock detected"), which is retried on a fresh
replay; ``Worker(debug_mode=True)`` (or ``TEMPORAL_DEBUG``) turns it off, for debuggers. The
differential scenario ``workflow_deadlock`` compares the history with Temporal's."""

from __future__ import annotations

import threading
import time

import pytest

from stalwart import workflow
from stalwart.client import Client
from stalwart.worker import Worker

HELD: set[str] = set()
_LOCK = threading.Lock()
HOLD_SECONDS = 2.5  # past the detector's 2 s


@workflow.defn
class HoldsItsThread:
    @workflow.run
    async def run(self) -> str:
        with _LOCK:
            first = workflow.info().workflow_id not in HELD
            HELD.add(workflow.info().workflow_id)
        if first:
            with workflow.unsafe.sandbox_unrestricted():
                time.sleep(HOLD_SECONDS)  # noqa: ASYNC251 - holding the thread is the point
        return "done"


@pytest.mark.parametrize("debug_mode", [False, True])
async def test_a_held_thread_fails_the_task_unless_debugging(
        client: Client, task_queue: str, debug_mode: bool) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[HoldsItsThread],
                      debug_mode=debug_mode):
        handle = await client.start_workflow(HoldsItsThread.run, id=f"{task_queue}-held",
                                             task_queue=task_queue)
        assert await handle.result() == "done"
    events = [e for e in (await handle.fetch_history()).events]
    failed = [e.attributes for e in events if e.event_type == "WorkflowTaskFailed"]
    if debug_mode:
        assert failed == []
        return
    assert [f["failure"]["message"] for f in failed] == [
        "[TMPRL1101] Potential deadlock detected: workflow didn't yield within 2 second(s)."]
    assert failed[0]["failure"]["applicationFailureInfo"]["type"] == "_DeadlockError"
    assert [e.event_type for e in events][-4:] == [
        "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
        "WorkflowExecutionCompleted"]
