"""An update admitted while a run's last workflow task runs, which the workflow never saw.

If the task continues as new, Temporal aborts the update with a retryable error and its
client retries it on the new run: the caller never notices the new run. Stalwart moves it
there in the closing transaction, and the caller's wait follows it. If the task completes the
workflow, the caller gets Temporal's RPC error.
"""

from __future__ import annotations

import asyncio
import threading

from stalwart import workflow
from stalwart.client import Client
from stalwart.exceptions import RPCError, RPCStatusCode
from stalwart.worker import Worker

from ._support import RESULT_TIMEOUT

GATE_TIMEOUT = 60.0
ENTERED = threading.Event()
RELEASE = threading.Event()


@workflow.defn
class Rotating:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.go = False

    @workflow.run
    async def run(self, generation: int, then_complete: bool = False) -> list[str]:
        if generation == 0:
            await workflow.wait_condition(lambda: self.go)
            # Hold this task open (the whole worker, in fact) while the test admits an
            # update from another thread; then continue as new without looking at it.
            ENTERED.set()
            assert RELEASE.wait(GATE_TIMEOUT), "the test never released the task"
            if then_complete:
                return []
            workflow.continue_as_new(1)
        await workflow.wait_condition(lambda: bool(self.notes))
        return self.notes

    @workflow.signal
    def rotate(self) -> None:
        self.go = True

    @workflow.update
    def note(self, text: str) -> str:
        self.notes.append(text)
        return f"{text} noted by run {workflow.info().run_id}"


def _send_update(db_url: str, workflow_id: str, outcome: dict[str, object]) -> None:
    """From another thread and client: once the first task runs, send the update, release
    the task as soon as the store holds the update, then wait for the update's result."""

    async def send() -> None:
        client = await Client.connect(db_url)
        try:
            assert await asyncio.to_thread(ENTERED.wait, GATE_TIMEOUT)
            handle = client.get_workflow_handle(workflow_id)
            first_run = (await handle.describe()).run_id
            update = asyncio.ensure_future(handle.execute_update(
                Rotating.note, "hello", id="note-1"))
            try:
                while await client.store.get_update(first_run, "note-1") is None:
                    assert not update.done(), update
                    await asyncio.sleep(0.005)
            finally:
                RELEASE.set()
            outcome["first_run"] = first_run
            outcome["result"] = await asyncio.wait_for(update, RESULT_TIMEOUT)
        except BaseException as error:  # reported by the test, not lost in the thread
            outcome["error"] = error
            RELEASE.set()
        finally:
            await client.close()

    asyncio.run(send())


async def _race(client: Client, db_url: str, workflow_id: str, task_queue: str,
                then_complete: bool) -> tuple[list[str], dict[str, object]]:
    """Run the workflow with the update sent while its closing task runs: (the workflow's
    result, what the sender saw)."""
    ENTERED.clear()
    RELEASE.clear()
    outcome: dict[str, object] = {}
    sender = threading.Thread(target=_send_update, args=(db_url, workflow_id, outcome))
    sender.start()
    try:
        async with Worker(client, task_queue=task_queue, workflows=[Rotating],
                          debug_mode=True):
            handle = await client.start_workflow(Rotating.run, args=[0, then_complete],
                                                 id=workflow_id, task_queue=task_queue)
            await handle.signal(Rotating.rotate)
            result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
            await asyncio.to_thread(sender.join, RESULT_TIMEOUT)
    finally:
        RELEASE.set()
        ENTERED.set()
        sender.join(RESULT_TIMEOUT)
    return result, outcome


async def test_an_update_admitted_during_the_continuing_task_lands_on_the_next_run(
        client: Client, db_url: str, task_queue: str) -> None:
    workflow_id = f"rotating-{task_queue}"
    result, outcome = await _race(client, db_url, workflow_id, task_queue, False)
    handle = client.get_workflow_handle(workflow_id)
    assert "error" not in outcome, outcome["error"]
    assert result == ["hello"]
    final_run = (await handle.describe()).run_id
    assert final_run != outcome["first_run"]
    assert outcome["result"] == f"hello noted by run {final_run}"
    # Only the next run's history has the update; the first run's shows no trace of it.
    first = client.get_workflow_handle(workflow_id, run_id=str(outcome["first_run"]))
    first_types = [str(e.event_type) for e in (await first.fetch_history()).events]
    assert first_types[-1] == "WorkflowExecutionContinuedAsNew"
    assert not any("Update" in t for t in first_types)
    last_types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert "WorkflowExecutionUpdateAccepted" in last_types
    assert "WorkflowExecutionUpdateCompleted" in last_types


async def test_an_update_admitted_during_the_completing_task_gets_temporals_rpc_error(
        client: Client, db_url: str, task_queue: str) -> None:
    result, outcome = await _race(client, db_url, f"done-{task_queue}", task_queue, True)
    assert result == []
    error = outcome.get("error")
    assert isinstance(error, RPCError), outcome
    assert error.status == RPCStatusCode.NOT_FOUND
    assert error.message == "workflow execution already completed"
