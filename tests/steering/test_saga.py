"""``stalwart.saga.Saga``: compensations in reverse on failure and on cancellation, past a
failing compensation, and undisturbed by a cancellation that arrives meanwhile."""

from __future__ import annotations

import asyncio
import threading

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    WorkflowFailureError,
)
from stalwart.saga import Saga
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, NO_RETRY, RESULT_TIMEOUT, wait_for_event

journal: list[str] = []
# Holds the first compensation (``undo 2``) until the test sets it.
gate = threading.Event()
gate_undo = [False]


@activity.defn
async def do_step(n: int) -> int:
    if n < 0:
        raise ApplicationError(f"step {-n} failed", type="StepFailed", non_retryable=True)
    journal.append(f"do {n}")
    return n


@activity.defn
async def undo_step(n: int) -> None:
    journal.append(f"begin undo {n}")
    if gate_undo[0] and n == 2:
        while not gate.is_set():
            await asyncio.sleep(0.01)
    if n == 3:
        raise ApplicationError("undo 3 is broken", type="UndoFailed", non_retryable=True)
    journal.append(f"undo {n}")


@workflow.defn
class Booking:
    """Steps 1..n with compensations; ``fail_at`` makes a step fail, 0 waits to be cancelled."""

    @workflow.run
    async def run(self, steps: int, fail_at: int) -> str:
        async with Saga(start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=NO_RETRY) as saga:
            for n in range(1, steps + 1):
                await workflow.execute_activity(do_step, -n if n == fail_at else n,
                                                start_to_close_timeout=ACTIVITY_TIMEOUT,
                                                retry_policy=NO_RETRY)
                saga.add_compensation(undo_step, n)
            if fail_at == 0:
                await workflow.wait_condition(lambda: False)
        return "booked"


def saga_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Booking],
                  activities=[do_step, undo_step])


@pytest.fixture(autouse=True)
def _reset() -> None:
    journal.clear()
    gate.clear()
    gate_undo[0] = False


async def test_saga_compensates_in_reverse_on_failure(client: Client, task_queue: str) -> None:
    async with saga_worker(client, task_queue):
        handle = await client.start_workflow(Booking.run, args=[3, 3], id="wf",
                                             task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    # The failing step registered no compensation: only 2 and 1 are undone, newest first.
    assert journal == ["do 1", "do 2", "begin undo 2", "undo 2", "begin undo 1", "undo 1"]
    cause = info.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError) and cause.cause.type == "StepFailed"


async def test_saga_nothing_to_undo_on_success(client: Client, task_queue: str) -> None:
    async with saga_worker(client, task_queue):
        result = await asyncio.wait_for(
            client.execute_workflow(Booking.run, args=[2, -1], id="wf", task_queue=task_queue),
            RESULT_TIMEOUT)
    assert result == "booked"
    assert journal == ["do 1", "do 2"]


async def test_saga_compensates_on_cancellation(client: Client, task_queue: str) -> None:
    async with saga_worker(client, task_queue):
        handle = await client.start_workflow(Booking.run, args=[2, 0], id="wf",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted", count=2)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert isinstance(info.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert journal == ["do 1", "do 2", "begin undo 2", "undo 2", "begin undo 1", "undo 1"]


async def test_saga_failing_compensation_does_not_stop_the_others(client: Client,
                                                                  task_queue: str) -> None:
    async with saga_worker(client, task_queue):
        handle = await client.start_workflow(Booking.run, args=[4, 4], id="wf",
                                             task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert journal == ["do 1", "do 2", "do 3", "begin undo 3", "begin undo 2", "undo 2",
                       "begin undo 1", "undo 1"]
    # The compensation's failure is raised once all compensations have run.
    cause = info.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError) and cause.cause.type == "UndoFailed"


async def test_saga_cancel_during_compensation_does_not_interrupt(client: Client,
                                                                  task_queue: str) -> None:
    gate_undo[0] = True
    async with saga_worker(client, task_queue):
        handle = await client.start_workflow(Booking.run, args=[3, 3], id="wf",
                                             task_queue=task_queue)

        async def compensating() -> bool:
            return "begin undo 2" in journal

        await eventually(compensating, what="the first compensation to start")
        await handle.cancel()
        await handle.cancel()  # a second request changes nothing either
        await wait_for_event(handle, "WorkflowExecutionCancelRequested")
        types = [str(e.event_type) for e in (await handle.fetch_history()).events]
        assert "ActivityTaskCancelRequested" not in types
        gate.set()
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert journal == ["do 1", "do 2", "begin undo 2", "undo 2", "begin undo 1", "undo 1"]
    # The cancellation is honoured once the compensations are done.
    assert isinstance(info.value.cause, CancelledError)
    events = (await handle.fetch_history()).events
    types = [str(e.event_type) for e in events]
    assert "ActivityTaskCancelRequested" not in types
    assert types[-1] == "WorkflowExecutionCanceled"
