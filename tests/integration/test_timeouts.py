"""Timeouts enforced by the store-side sweeper: activity start-to-close, heartbeat and
schedule-to-close timeouts, and the workflow execution timeout."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, TimeoutError, WorkflowFailureError
from stalwart.worker import Worker

from ._support import event_types, fast_retry

_attempts: dict[str, list[int]] = {}


@activity.defn
async def hangs_on_first_attempt() -> int:
    info = activity.info()
    _attempts.setdefault(info.workflow_id, []).append(info.attempt)
    if info.attempt == 1:
        # Hang well past the timeout; the worker's shutdown cancels what is left of it.
        await asyncio.sleep(60)
    return info.attempt


@activity.defn
async def hangs() -> None:
    info = activity.info()
    _attempts.setdefault(info.workflow_id, []).append(info.attempt)
    await asyncio.sleep(60)


@activity.defn
async def stops_heartbeating() -> None:
    info = activity.info()
    _attempts.setdefault(info.workflow_id, []).append(info.attempt)
    activity.heartbeat("page", 3)
    await asyncio.sleep(60)


def _describe(error: ActivityError) -> list[object]:
    cause = error.__cause__
    assert isinstance(cause, TimeoutError), repr(cause)
    assert cause.type is not None
    return ["ActivityError", cause.type.name, list(cause.last_heartbeat_details)]


@workflow.defn
class StartToCloseRetriedWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            hangs_on_first_attempt, start_to_close_timeout=timedelta(seconds=0.4),
            retry_policy=fast_retry())


@workflow.defn
class StartToCloseFinalWorkflow:
    @workflow.run
    async def run(self) -> list[object]:
        try:
            await workflow.execute_activity(
                hangs, start_to_close_timeout=timedelta(seconds=0.4),
                retry_policy=RetryPolicy(maximum_attempts=1))
        except ActivityError as error:
            return _describe(error)
        return ["completed"]


@workflow.defn
class HeartbeatTimeoutWorkflow:
    @workflow.run
    async def run(self) -> list[object]:
        try:
            await workflow.execute_activity(
                stops_heartbeating, start_to_close_timeout=timedelta(seconds=30),
                heartbeat_timeout=timedelta(seconds=0.5),
                retry_policy=RetryPolicy(maximum_attempts=1))
        except ActivityError as error:
            return _describe(error)
        return ["completed"]


@workflow.defn
class ScheduleToCloseWorkflow:
    @workflow.run
    async def run(self) -> list[object]:
        try:
            # Unlimited attempts: only the overall deadline can end this activity.
            await workflow.execute_activity(
                hangs, schedule_to_close_timeout=timedelta(seconds=0.6),
                start_to_close_timeout=timedelta(seconds=0.2), retry_policy=fast_retry())
        except ActivityError as error:
            return _describe(error)
        return ["completed"]


@workflow.defn
class SleepsForeverWorkflow:
    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(timedelta(minutes=10))
        return "woke up"


async def test_timeout_start_to_close_retries_a_hung_activity(client: Client,
                                                               task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[StartToCloseRetriedWorkflow],
                      activities=[hangs_on_first_attempt]):
        result = await client.execute_workflow(StartToCloseRetriedWorkflow.run,
                                               id="stc-retried", task_queue=task_queue)
    assert result == 2
    assert _attempts.pop("stc-retried") == [1, 2]


async def test_timeout_start_to_close_final_attempt_raises_timeout_error(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[StartToCloseFinalWorkflow],
                      activities=[hangs]):
        handle = await client.start_workflow(StartToCloseFinalWorkflow.run, id="stc-final",
                                             task_queue=task_queue)
        result = await handle.result()
    assert result == ["ActivityError", "START_TO_CLOSE", []]
    assert _attempts.pop("stc-final") == [1]
    assert "ActivityTaskTimedOut" in await event_types(handle)


async def test_timeout_heartbeat_ends_an_activity_that_stops_heartbeating(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[HeartbeatTimeoutWorkflow],
                      activities=[stops_heartbeating]):
        result = await client.execute_workflow(HeartbeatTimeoutWorkflow.run,
                                               id="heartbeat-timeout", task_queue=task_queue)
    assert result == ["ActivityError", "HEARTBEAT", ["page", 3]]
    assert _attempts.pop("heartbeat-timeout") == [1]


async def test_timeout_schedule_to_close_ends_retries(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ScheduleToCloseWorkflow],
                      activities=[hangs]):
        result = await client.execute_workflow(ScheduleToCloseWorkflow.run,
                                               id="schedule-to-close", task_queue=task_queue)
    assert result[:2] == ["ActivityError", "SCHEDULE_TO_CLOSE"]
    attempts = _attempts.pop("schedule-to-close")
    assert attempts[0] == 1
    assert attempts == list(range(1, len(attempts) + 1))


async def test_timeout_workflow_execution_timeout_fails_the_result(client: Client,
                                                                   task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[SleepsForeverWorkflow]):
        handle = await client.start_workflow(
            SleepsForeverWorkflow.run, id="execution-timeout", task_queue=task_queue,
            execution_timeout=timedelta(seconds=0.5))
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    assert isinstance(raised.value.cause, TimeoutError)
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.TIMED_OUT
    assert (await event_types(handle))[-1] == "WorkflowExecutionTimedOut"

