"""Cancelling workflows and activities, and terminating workflows."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import (
    ActivityError,
    CancelledError,
    TerminatedError,
    WorkflowFailureError,
    WorkflowNotFoundError,
)
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, NO_RETRY, RESULT_TIMEOUT, wait_for_event

# What the activities saw, in this process (every test runs its worker in-process).
seen: list[str] = []
# Lets an activity that saw its cancellation finish; set by the test.
release = threading.Event()


@activity.defn
async def cleanup(who: str) -> None:
    seen.append(f"cleanup {who}")


@activity.defn
async def heartbeat_until_cancelled() -> str:
    """Async activity: cancellation arrives as CancelledError at its next await."""
    waiter = asyncio.ensure_future(activity.wait_for_cancelled())
    seen.append("started")
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        await asyncio.wait_for(waiter, 5)  # wait_for_cancelled() resolved too
        seen.append(f"cancelled is_cancelled={activity.is_cancelled()}")
        raise


@activity.defn
def poll_until_cancelled() -> str:
    """Thread activity: cancellation is raised into its thread, as in temporalio; this one
    catches it and returns instead."""
    seen.append("started")
    try:
        while True:
            activity.heartbeat()
            activity.wait_for_cancelled_sync(0.02)
    except CancelledError:
        seen.append(f"thread saw cancel is_cancelled={activity.is_cancelled()}")
        return "stopped early"


@activity.defn
def shields_its_cleanup() -> str:
    """Thread activity: inside shield_thread_cancel_exception() cancellation only sets the
    flag; the block's end raises it."""
    seen.append("started")
    try:
        with activity.shield_thread_cancel_exception():
            while not activity.is_cancelled():
                activity.heartbeat()
                activity.wait_for_cancelled_sync(0.02)
            seen.append("flag seen inside the shield")
        seen.append("not raised at the shield's end")
    except CancelledError:
        seen.append("raised at the shield's end")
        raise
    return "not cancelled"


@activity.defn
async def slow_to_stop() -> str:
    """Takes its time to acknowledge cancellation: waits for the test's ``release``."""
    seen.append("started")
    try:
        while True:
            activity.heartbeat()
            await asyncio.sleep(0.02)
    except asyncio.CancelledError:
        seen.append("cancel received")
        while not release.is_set():
            await asyncio.sleep(0.01)
        seen.append("cancel acknowledged")
        raise


@activity.defn
async def ignores_cancel() -> str:
    """Runs until released and never heartbeats: an abandoned activity."""
    seen.append("started")
    while not release.is_set():
        await asyncio.sleep(0.01)
    seen.append("abandoned activity done")
    return "done"


@workflow.defn
class CleansUp:
    """Waits forever; on cancellation runs a cleanup activity, then reports cancelled."""

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: False)
        except asyncio.CancelledError:
            await workflow.execute_activity(cleanup, workflow.info().workflow_id,
                                            start_to_close_timeout=ACTIVITY_TIMEOUT)
            raise
        return "unreachable"


@workflow.defn
class CancelsActivity:
    """Starts an activity, cancels it when signalled, reports what the await raised."""

    def __init__(self) -> None:
        self.cancel_now = False

    @workflow.run
    async def run(self, name: str, cancellation_type: int) -> str:
        handle = workflow.start_activity(
            name, start_to_close_timeout=ACTIVITY_TIMEOUT,
            heartbeat_timeout=timedelta(seconds=2), retry_policy=NO_RETRY,
            cancellation_type=workflow.ActivityCancellationType(cancellation_type))
        await workflow.wait_condition(lambda: self.cancel_now)
        handle.cancel()
        try:
            result = await handle
        except ActivityError as error:
            return f"ActivityError cause={type(error.cause).__name__}"
        except asyncio.CancelledError:
            return "asyncio.CancelledError"
        return f"result {result}"

    @workflow.signal
    def cancel_activity(self) -> None:
        self.cancel_now = True


# As in Temporal, the await of a cancelled handle raises ActivityError(cause=CancelledError)
# for every cancellation type.
CANCELLED = "ActivityError cause=CancelledError"


def steering_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[CleansUp, CancelsActivity],
                  activities=[cleanup, heartbeat_until_cancelled, poll_until_cancelled,
                              shields_its_cleanup,
                              slow_to_stop, ignores_cancel])


async def activity_started() -> None:
    async def check() -> bool:
        return "started" in seen

    await eventually(check, what="the activity to start")


@pytest.fixture(autouse=True)
def _reset() -> None:
    seen.clear()
    release.clear()


async def test_cancel_workflow_runs_cleanup_and_ends_canceled(client: Client,
                                                              task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(CleansUp.run, id="wf", task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskCompleted")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert isinstance(info.value.cause, CancelledError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED
    assert seen == ["cleanup wf"]
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert types.index("WorkflowExecutionCancelRequested") < types.index(
        "ActivityTaskCompleted") < types.index("WorkflowExecutionCanceled")


async def test_cancel_before_first_task_still_lets_workflow_clean_up(
        client: Client, task_queue: str) -> None:
    handle = await client.start_workflow(CleansUp.run, id="wf", task_queue=task_queue)
    await handle.cancel()  # no worker yet: start and cancel reach the workflow together
    async with steering_worker(client, task_queue):
        with pytest.raises(WorkflowFailureError):
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert seen == ["cleanup wf"]
    assert (await handle.describe()).status == WorkflowExecutionStatus.CANCELED


async def test_activity_cancel_raises_cancelled_error_in_async_activity(
        client: Client, task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(
            CancelsActivity.run, args=["heartbeat_until_cancelled", 1], id="wf",
            task_queue=task_queue)
        await activity_started()
        await handle.signal(CancelsActivity.cancel_activity)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == \
            "ActivityError cause=CancelledError"
    assert seen == ["started", "cancelled is_cancelled=True"]
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert "ActivityTaskCancelRequested" in types and "ActivityTaskCanceled" in types


async def test_activity_cancel_seen_by_thread_activity_flag(client: Client,
                                                            task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(
            CancelsActivity.run, args=["poll_until_cancelled", 1], id="wf",
            task_queue=task_queue)
        await activity_started()
        await handle.signal(CancelsActivity.cancel_activity)
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    # The activity chose to return normally after catching the cancellation; waiting for it
    # delivers that result instead of a cancellation error.
    assert result == "result stopped early"
    assert seen == ["started", "thread saw cancel is_cancelled=True"]


async def test_a_shield_holds_thread_cancellation_until_its_end(client: Client,
                                                                task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(
            CancelsActivity.run, args=["shields_its_cleanup", 1], id="wf",
            task_queue=task_queue)
        await activity_started()
        await handle.signal(CancelsActivity.cancel_activity)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == CANCELLED
    assert seen == ["started", "flag seen inside the shield", "raised at the shield's end"]


async def test_activity_try_cancel_does_not_wait_for_activity(client: Client,
                                                              task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(
            CancelsActivity.run, args=["slow_to_stop", 0], id="wf", task_queue=task_queue)
        await activity_started()
        await handle.signal(CancelsActivity.cancel_activity)
        # Completes although the activity has not acknowledged (release is still unset).
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == CANCELLED
        assert "cancel acknowledged" not in seen
        types = [str(e.event_type) for e in (await handle.fetch_history()).events]
        assert "ActivityTaskCancelRequested" in types
        release.set()

        async def acknowledged() -> bool:
            return "cancel acknowledged" in seen

        await eventually(acknowledged, what="the activity to finish its cancellation")


async def test_activity_wait_cancellation_completed_waits_for_activity(
        client: Client, task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(
            CancelsActivity.run, args=["slow_to_stop", 1], id="wf", task_queue=task_queue)
        await activity_started()
        await handle.signal(CancelsActivity.cancel_activity)

        async def received() -> bool:
            return "cancel received" in seen

        await eventually(received, what="the activity to receive the cancellation")
        await wait_for_event(handle, "ActivityTaskCancelRequested")
        # The activity has not acknowledged, so the workflow is still waiting for it.
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        release.set()
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == \
            "ActivityError cause=CancelledError"
    assert seen == ["started", "cancel received", "cancel acknowledged"]
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert types.index("ActivityTaskCanceled") < types.index("WorkflowExecutionCompleted")


async def test_activity_abandon_resolves_without_telling_activity(client: Client,
                                                                   task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(
            CancelsActivity.run, args=["ignores_cancel", 2], id="wf", task_queue=task_queue)

        await activity_started()
        await handle.signal(CancelsActivity.cancel_activity)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == CANCELLED
        assert "abandoned activity done" not in seen  # still running, never told
        types = [str(e.event_type) for e in (await handle.fetch_history()).events]
        assert "ActivityTaskCancelRequested" not in types
        release.set()


async def test_terminate_stops_at_once_without_cleanup(client: Client,
                                                        task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(CleansUp.run, id="wf", task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskCompleted")
        await handle.terminate(reason="operator said stop")
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert isinstance(info.value.cause, TerminatedError)
    assert "operator said stop" in str(info.value.cause)
    events = (await handle.fetch_history()).events
    assert events[-1].event_type == "WorkflowExecutionTerminated"
    assert events[-1].attributes["reason"] == "operator said stop"
    assert "ActivityTaskScheduled" not in [str(e.event_type) for e in events]
    assert seen == []
    assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED


async def test_cancel_closed_workflow_names_it(client: Client, task_queue: str) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(CleansUp.run, id="gone", task_queue=task_queue)
        await handle.terminate(reason="done")
    await handle.cancel()  # as in Temporal: a cancel request for a closed run is accepted
    with pytest.raises(WorkflowNotFoundError, match=r"gone.*closed"):
        await handle.terminate(reason="again")
    with pytest.raises(WorkflowNotFoundError, match=r"missing.*not found"):
        await client.get_workflow_handle("missing").cancel()


@pytest.mark.parametrize("cancellation_type", [0, 2])
async def test_activity_cancelled_handle_raises_activity_error_like_temporal(
        client: Client, task_queue: str, cancellation_type: int) -> None:
    async with steering_worker(client, task_queue):
        handle = await client.start_workflow(
            CancelsActivity.run, args=["ignores_cancel", cancellation_type], id="wf",
            task_queue=task_queue)
        await activity_started()
        await handle.signal(CancelsActivity.cancel_activity)
        try:
            assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == \
                "ActivityError cause=CancelledError"
        finally:
            release.set()
