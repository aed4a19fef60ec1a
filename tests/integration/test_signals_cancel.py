"""Steering running workflows: signals with ``wait_condition``, cancellation and termination."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import CancelledError, TerminatedError, WorkflowFailureError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, event_types, wait_for_event

_cleanups: list[str] = []
_activity_cancelled: list[str] = []
_activity_started: list[str] = []


@activity.defn
async def clean_up(reason: str) -> str:
    _cleanups.append(reason)
    return f"cleaned up after {reason}"


@activity.defn
async def heartbeats_until_cancelled() -> None:
    workflow_id = activity.info().workflow_id
    _activity_started.append(workflow_id)
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.05)
    except asyncio.CancelledError:
        _activity_cancelled.append(workflow_id)
        raise


@workflow.defn
class InboxWorkflow:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.closed = False

    @workflow.signal
    def add(self, message: str) -> None:
        self.messages.append(message)

    @workflow.signal(name="close-inbox")
    def close(self) -> None:
        self.closed = True

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.closed)
        return self.messages


@workflow.defn
class ApprovalWorkflow:
    def __init__(self) -> None:
        self.approved = False

    @workflow.signal
    def approve(self) -> None:
        self.approved = True

    @workflow.run
    async def run(self, wait_seconds: float) -> str:
        try:
            await workflow.wait_condition(lambda: self.approved,
                                          timeout=timedelta(seconds=wait_seconds))
        except asyncio.TimeoutError:  # noqa: UP041 - the name Temporal's docs use; same class
            return "timed out"
        return "approved"


@workflow.defn
class CancellableWorkflow:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(timedelta(minutes=10))
        except asyncio.CancelledError:
            await workflow.execute_activity(clean_up, workflow.info().workflow_id,
                                            start_to_close_timeout=ACTIVITY_TIMEOUT)
            raise
        return "not cancelled"


@workflow.defn
class CancelCatchingWorkflow:
    """Swallows the cancellation and returns normally: the run completes."""

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(timedelta(minutes=10))
        except asyncio.CancelledError:
            return "cancel observed"
        return "not cancelled"


@workflow.defn
class LongActivityWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(heartbeats_until_cancelled,
                                        start_to_close_timeout=timedelta(seconds=30),
                                        heartbeat_timeout=timedelta(seconds=0.5))


@workflow.defn
class WaitsForeverWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def test_signal_delivers_arguments_in_order(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[InboxWorkflow]):
        handle = await client.start_workflow(InboxWorkflow.run, id="inbox",
                                             task_queue=task_queue)
        await handle.signal(InboxWorkflow.add, "one")
        await handle.signal("add", "two")
        await handle.signal(InboxWorkflow.add, args=["three"])
        await handle.signal(InboxWorkflow.close)
        assert await handle.result() == ["one", "two", "three"]
    assert (await event_types(handle)).count("WorkflowExecutionSignaled") == 4


async def test_signal_sent_before_any_worker_runs_is_delivered(client: Client,
                                                               task_queue: str) -> None:
    handle = await client.start_workflow(InboxWorkflow.run, id="early-signal",
                                         task_queue=task_queue)
    await handle.signal(InboxWorkflow.add, "early")
    await handle.signal("close-inbox")
    async with Worker(client, task_queue=task_queue, workflows=[InboxWorkflow]):
        assert await handle.result() == ["early"]


async def test_signal_wait_condition_wakes_when_the_signal_arrives(client: Client,
                                                                   task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(ApprovalWorkflow.run, 600.0, id="approval",
                                             task_queue=task_queue)
        await wait_for_event(handle, "TimerStarted")
        await handle.signal(ApprovalWorkflow.approve)
        assert await handle.result() == "approved"
    # The condition won, so its timeout timer was cancelled rather than left to fire.
    assert "TimerCanceled" in await event_types(handle)


async def test_signal_wait_condition_timeout_raises_timeout_error(client: Client,
                                                                  task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ApprovalWorkflow]):
        handle = await client.start_workflow(ApprovalWorkflow.run, 0.2, id="no-approval",
                                             task_queue=task_queue)
        assert await handle.result() == "timed out"
    assert "TimerFired" in await event_types(handle)


async def test_cancel_raises_cancelled_error_and_allows_a_cleanup_activity(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CancellableWorkflow],
                      activities=[clean_up]):
        handle = await client.start_workflow(CancellableWorkflow.run, id="cancel-me",
                                             task_queue=task_queue)
        await wait_for_event(handle, "TimerStarted")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    assert isinstance(raised.value.cause, CancelledError)
    assert _cleanups.count("cancel-me") == 1
    _cleanups.remove("cancel-me")
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    types = await event_types(handle)
    assert types.index("WorkflowExecutionCancelRequested") < types.index("ActivityTaskCompleted")
    assert types[-1] == "WorkflowExecutionCanceled"


async def test_cancel_reaches_a_running_activity_through_its_heartbeat(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[LongActivityWorkflow],
                      activities=[heartbeats_until_cancelled]):
        handle = await client.start_workflow(LongActivityWorkflow.run, id="cancel-activity",
                                             task_queue=task_queue)

        async def activity_started() -> bool:
            return "cancel-activity" in _activity_started

        await eventually(activity_started, what="the activity to start")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
        assert isinstance(raised.value.cause, CancelledError)

        async def activity_cancelled() -> bool:
            return "cancel-activity" in _activity_cancelled

        # Still inside the worker: the activity stops by itself, not by the worker's shutdown.
        await eventually(activity_cancelled, what="the activity to see the cancellation")


async def test_cancel_caught_by_the_workflow_lets_it_complete(client: Client,
                                                              task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CancelCatchingWorkflow]):
        handle = await client.start_workflow(CancelCatchingWorkflow.run, id="cancel-caught",
                                             task_queue=task_queue)
        await wait_for_event(handle, "TimerStarted")
        await handle.cancel()
        assert await handle.result() == "cancel observed"
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_terminate_closes_the_run_without_cleanup(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[WaitsForeverWorkflow]):
        handle = await client.start_workflow(WaitsForeverWorkflow.run, id="terminate-me",
                                             task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskCompleted")
        await handle.terminate(reason="operator said so")
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    assert isinstance(raised.value.cause, TerminatedError)
    assert "operator said so" in str(raised.value.cause)
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
    assert (await event_types(handle))[-1] == "WorkflowExecutionTerminated"


async def test_terminate_of_a_closed_workflow_is_refused(client: Client,
                                                         task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[InboxWorkflow]):
        handle = await client.start_workflow(InboxWorkflow.run, id="closed-inbox",
                                             task_queue=task_queue)
        await handle.signal("close-inbox")
        await handle.result()
    from stalwart.exceptions import WorkflowNotFoundError

    with pytest.raises(WorkflowNotFoundError, match="already closed"):
        await handle.terminate(reason="too late")
