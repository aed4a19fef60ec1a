"""The client: workflow ids and their reuse, handles, describe, and exported histories."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus, WorkflowHistory
from stalwart.common import WorkflowIDReusePolicy
from stalwart.exceptions import (
    ApplicationError,
    WorkflowAlreadyStartedError,
    WorkflowFailureError,
    WorkflowNotFoundError,
)
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, wait_for_event


@activity.defn
async def double(n: int) -> int:
    return n * 2


@workflow.defn
class EchoWorkflow:
    @workflow.run
    async def run(self, value: str) -> str:
        return value


@workflow.defn
class FailsWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("failed on purpose", non_retryable=True)


@workflow.defn
class ParkedWorkflow:
    """Stays open until signalled, so its id is taken."""

    def __init__(self) -> None:
        self.done = False

    @workflow.signal
    def finish(self) -> None:
        self.done = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "finished"


@workflow.defn
class DoublingWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        first = await workflow.execute_activity(double, n, start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.sleep(timedelta(milliseconds=50))
        return await workflow.execute_activity(double, first,
                                               start_to_close_timeout=ACTIVITY_TIMEOUT)


async def test_client_duplicate_running_id_raises_already_started(client: Client,
                                                                  task_queue: str) -> None:
    first = await client.start_workflow(ParkedWorkflow.run, id="taken", task_queue=task_queue)
    with pytest.raises(WorkflowAlreadyStartedError) as raised:
        await client.start_workflow(ParkedWorkflow.run, id="taken", task_queue=task_queue)
    assert raised.value.workflow_id == "taken"
    assert raised.value.run_id == first.result_run_id


async def _closed_run(client: Client, task_queue: str, workflow_id: str, *, fail: bool) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[EchoWorkflow, FailsWorkflow]):
        if fail:
            with pytest.raises(WorkflowFailureError):
                await client.execute_workflow(FailsWorkflow.run, id=workflow_id,
                                              task_queue=task_queue)
        else:
            await client.execute_workflow(EchoWorkflow.run, "first", id=workflow_id,
                                          task_queue=task_queue)


async def test_client_allow_duplicate_reuses_a_closed_id(client: Client, task_queue: str) -> None:
    await _closed_run(client, task_queue, "reuse-allow", fail=False)
    async with Worker(client, task_queue=task_queue, workflows=[EchoWorkflow]):
        result = await client.execute_workflow(
            EchoWorkflow.run, "second", id="reuse-allow", task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    assert result == "second"


async def test_client_reject_duplicate_refuses_a_closed_id(client: Client,
                                                           task_queue: str) -> None:
    await _closed_run(client, task_queue, "reuse-reject", fail=False)
    with pytest.raises(WorkflowAlreadyStartedError, match="REJECT_DUPLICATE"):
        await client.start_workflow(EchoWorkflow.run, "second", id="reuse-reject",
                                    task_queue=task_queue,
                                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)


async def test_client_allow_duplicate_failed_only_refuses_after_success(
        client: Client, task_queue: str) -> None:
    await _closed_run(client, task_queue, "reuse-failed-only-ok", fail=False)
    with pytest.raises(WorkflowAlreadyStartedError, match="ALLOW_DUPLICATE_FAILED_ONLY"):
        await client.start_workflow(
            EchoWorkflow.run, "second", id="reuse-failed-only-ok", task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)


async def test_client_allow_duplicate_failed_only_allows_after_failure(
        client: Client, task_queue: str) -> None:
    await _closed_run(client, task_queue, "reuse-failed-only-bad", fail=True)
    async with Worker(client, task_queue=task_queue, workflows=[EchoWorkflow]):
        result = await client.execute_workflow(
            EchoWorkflow.run, "retry", id="reuse-failed-only-bad", task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY)
    assert result == "retry"


async def test_client_get_workflow_handle_result(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[EchoWorkflow]):
        await client.start_workflow(EchoWorkflow.run, "by id", id="lookup",
                                    task_queue=task_queue)
        handle = client.get_workflow_handle("lookup")
        assert await handle.result() == "by id"


async def test_client_get_workflow_handle_for_unknown_id_raises_not_found(client: Client) -> None:
    with pytest.raises(WorkflowNotFoundError, match="nobody"):
        await client.get_workflow_handle("nobody").describe()


async def test_client_describe_reports_status_and_times(client: Client, task_queue: str) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    handle = await client.start_workflow(ParkedWorkflow.run, id="described",
                                         task_queue=task_queue)
    running = await handle.describe()
    assert running.status == WorkflowExecutionStatus.RUNNING
    assert running.id == "described" and running.run_id == handle.result_run_id
    assert running.workflow_type == "ParkedWorkflow" and running.task_queue == task_queue
    assert running.close_time is None and running.start_time >= before
    async with Worker(client, task_queue=task_queue, workflows=[ParkedWorkflow]):
        await handle.signal(ParkedWorkflow.finish)
        await handle.result()
    closed = await handle.describe()
    assert closed.status == WorkflowExecutionStatus.COMPLETED
    assert closed.close_time is not None and closed.close_time >= closed.start_time
    assert closed.history_length == len((await handle.fetch_history()).events)


async def test_client_history_json_round_trip_replays(client: Client, task_queue: str) -> None:
    from stalwart.worker import Replayer

    async with Worker(client, task_queue=task_queue, workflows=[DoublingWorkflow],
                      activities=[double]):
        handle = await client.start_workflow(DoublingWorkflow.run, 5, id="doubling",
                                             task_queue=task_queue)
        assert await handle.result() == 20
    history = await handle.fetch_history()
    restored = WorkflowHistory.from_json("doubling", history.to_json())
    assert [e.event_type for e in restored.events] == [e.event_type for e in history.events]
    assert [e.event_id for e in restored.events] == [e.event_id for e in history.events]
    await Replayer(workflows=[DoublingWorkflow]).replay_workflow(restored)


async def test_client_signal_to_a_parked_run_shows_as_pending(client: Client,
                                                              task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ParkedWorkflow]):
        handle = await client.start_workflow(ParkedWorkflow.run, id="pending-signal",
                                             task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskCompleted")
    await handle.signal(ParkedWorkflow.finish)
    assert (await handle.describe()).pending_events == 1
    async with Worker(client, task_queue=task_queue, workflows=[ParkedWorkflow]):
        assert await handle.result() == "finished"
