"""Histories as a user reads them: Temporal's events, followed live, and Temporal's count of
them inside the workflow."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from stalwart import activity, workflow
from stalwart.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowFailureError,
    WorkflowHistory,
    WorkflowHistoryEventFilterType,
)
from stalwart.common import WorkflowIDConflictPolicy
from stalwart.exceptions import ApplicationError
from stalwart.worker import Replayer, Worker

from ._support import ACTIVITY_TIMEOUT, fast_retry


@activity.defn
async def step(n: int) -> int:
    return n + 1


@workflow.defn
class Lengths:
    """Records what get_current_history_length() says in each task; continues as new once the
    history passes ``limit`` events (the pattern from Temporal's docs)."""

    @workflow.run
    async def run(self, limit: int, seen: list[int]) -> list[int]:
        seen = [*seen, workflow.info().get_current_history_length()]
        await workflow.execute_activity(step, 1, start_to_close_timeout=ACTIVITY_TIMEOUT)
        seen.append(workflow.info().get_current_history_length())
        if workflow.info().get_current_history_length() >= limit:
            workflow.continue_as_new(args=[10_000, seen])
        await workflow.sleep(timedelta(milliseconds=10))
        seen.append(workflow.info().get_current_history_length())
        assert workflow.info().get_current_history_size() > 0
        assert not workflow.info().is_continue_as_new_suggested()
        return seen


async def test_history_length_counts_as_temporal_counts(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Lengths], activities=[step]):
        # Temporal: Started 1, task 2-4, ActivityTaskScheduled 5, Started 6, Completed 7,
        # task 8-10 (length 9), TimerStarted 11, TimerFired 12, task 13-15 (length 14).
        assert await client.execute_workflow(Lengths.run, args=[10_000, []], id="lengths",
                                             task_queue=task_queue) == [3, 9, 14]
        # A limit of 9 continues as new in the task after the first activity, as on Temporal.
        handle = await client.start_workflow(Lengths.run, args=[9, []], id="lengths-can",
                                             task_queue=task_queue)
        assert await handle.result() == [3, 9, 3, 9, 14]


@workflow.defn
class Follows:
    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.go)
        return "done"


async def test_fetch_history_events_follows_a_running_workflow(client: Client,
                                                               task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Follows]):
        handle = await client.start_workflow(Follows.run, id="follow", task_queue=task_queue)
        seen: list[str] = []

        async def follow() -> None:
            async for event in handle.fetch_history_events(wait_new_event=True):
                seen.append(str(event.event_type))
                if event.event_type == "WorkflowTaskCompleted" and \
                        "WorkflowExecutionSignaled" not in seen:
                    await handle.signal(Follows.proceed)

        await asyncio.wait_for(follow(), 30)
        assert seen == [
            "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
            "WorkflowTaskCompleted", "WorkflowExecutionSignaled", "WorkflowTaskScheduled",
            "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionCompleted"]
        ids = [e.event_id async for e in handle.fetch_history_events()]
        assert ids == list(range(1, 10))
        closing = [e async for e in handle.fetch_history_events(
            event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT)]
        assert [str(e.event_type) for e in closing] == ["WorkflowExecutionCompleted"]
        history = await handle.fetch_history(
            event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT)
        assert [e.event_id for e in history.events] == [9]


@workflow.defn
class Coin:
    """Chooses its activities by workflow.random(): its commands depend on the run's seed."""

    @workflow.run
    async def run(self, flips: int) -> list[int]:
        out = []
        for _ in range(flips):
            n = 1 if workflow.random().random() < 0.5 else 2
            out.append(await workflow.execute_activity(step, n,
                                                       start_to_close_timeout=ACTIVITY_TIMEOUT))
        return out


@workflow.defn
class CoinParent:
    @workflow.run
    async def run(self) -> list[int]:
        return await workflow.execute_child_workflow(Coin.run, 6, id="coin-child")


async def test_exported_history_replays_with_the_runs_own_random_draws(
        client: Client, task_queue: str) -> None:
    """Temporal's JSON carries no random seed; Stalwart derives a run's seed from its run id,
    so an exported history replays with the draws it was recorded with."""
    async with Worker(client, task_queue=task_queue, workflows=[Coin, CoinParent],
                      activities=[step]):
        await client.execute_workflow(Coin.run, 6, id="coin", task_queue=task_queue)
        await client.execute_workflow(CoinParent.run, id="coin-parent", task_queue=task_queue)
    replayer = Replayer(workflows=[Coin, CoinParent])
    for workflow_id in ("coin", "coin-child", "coin-parent"):
        exported = (await client.get_workflow_handle(workflow_id).fetch_history()).to_json()
        await replayer.replay_workflow(WorkflowHistory.from_json(workflow_id, exported))


@workflow.defn
class _Cart:
    def __init__(self) -> None:
        self.items: list[str] = []

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: "done" in self.items)
        return self.items

    @workflow.update
    def add(self, item: str) -> int:
        self.items.append(item)
        return len(self.items)


async def test_update_with_start_is_delivered_by_the_first_workflow_task(
        client: Client, task_queue: str) -> None:
    # As on Temporal: the start and the update are admitted together, so the run's first
    # task runs the update; a second call with USE_EXISTING updates the same run.
    def operation() -> WithStartWorkflowOperation[Any, Any]:
        return WithStartWorkflowOperation(
            _Cart.run, id="cart", task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)

    async with Worker(client, task_queue=task_queue, workflows=[_Cart]):
        first = operation()
        assert await client.execute_update_with_start_workflow(
            _Cart.add, "apple", start_workflow_operation=first) == 1
        assert await client.execute_update_with_start_workflow(
            _Cart.add, "done", start_workflow_operation=operation()) == 2
        handle = await first.workflow_handle()
        assert await handle.result() == ["apple", "done"]
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert types == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionUpdateAccepted",
        "WorkflowExecutionUpdateCompleted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionUpdateAccepted",
        "WorkflowExecutionUpdateCompleted", "WorkflowExecutionCompleted"]


@activity.defn
async def flaky(fail_times: int, final_non_retryable: bool) -> str:
    attempt = activity.info().attempt
    if attempt <= fail_times:
        raise ApplicationError(f"attempt {attempt} failed", type="Flaky",
                               non_retryable=final_non_retryable and attempt == fail_times)
    return f"ok on attempt {attempt}"


@workflow.defn
class Flaky:
    @workflow.run
    async def run(self, fail_times: int, final_non_retryable: bool) -> str:
        return await workflow.execute_activity(
            flaky, args=[fail_times, final_non_retryable],
            start_to_close_timeout=ACTIVITY_TIMEOUT, retry_policy=fast_retry())


def _started(history: WorkflowHistory) -> dict[str, Any]:
    attributes: dict[str, Any] = next(
        e["activityTaskStartedEventAttributes"] for e in history.to_json_dict()["events"]
        if "activityTaskStartedEventAttributes" in e)
    return attributes


async def test_activity_started_event_keeps_the_previous_attempts_failure(
        client: Client, task_queue: str) -> None:
    """As on Temporal, the ActivityTaskStarted of the attempt that closed the activity holds
    the attempt before it's failure as ``lastFailure`` (nothing on a first attempt), whether
    the activity then completed or failed; and the history replays with it."""
    async with Worker(client, task_queue=task_queue, workflows=[Flaky], activities=[flaky]):
        assert await client.execute_workflow(Flaky.run, args=[2, False], id="flaky-ok",
                                             task_queue=task_queue) == "ok on attempt 3"
        failed = await client.start_workflow(Flaky.run, args=[2, True], id="flaky-failed",
                                             task_queue=task_queue)
        with pytest.raises(WorkflowFailureError):
            await failed.result()
        first = await client.execute_workflow(Flaky.run, args=[0, False], id="flaky-first",
                                              task_queue=task_queue)
        assert first == "ok on attempt 1"
    completed = await client.get_workflow_handle("flaky-ok").fetch_history()
    started = _started(completed)
    assert started["attempt"] == 3
    assert started["lastFailure"]["message"] == "attempt 2 failed"
    assert started["lastFailure"]["applicationFailureInfo"]["type"] == "Flaky"
    started = _started(await failed.fetch_history())
    assert (started["attempt"], started["lastFailure"]["message"]) == (2, "attempt 1 failed")
    assert "lastFailure" not in _started(
        await client.get_workflow_handle("flaky-first").fetch_history())
    # Read back from Temporal's JSON form (lastFailure included), it replays.
    replayed = WorkflowHistory.from_json("flaky-ok", completed.to_json())
    assert _started(replayed)["lastFailure"]["message"] == "attempt 2 failed"
    await Replayer(workflows=[Flaky]).replay_workflow(replayed)
