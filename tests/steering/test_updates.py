"""Updates: validated requests that change workflow state and return a result; rejected
ones leave no trace in history."""

from __future__ import annotations

import asyncio

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowUpdateStage
from stalwart.exceptions import ApplicationError, WorkflowUpdateFailedError
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT, wait_for_event


@activity.defn
async def double(value: int) -> int:
    return value * 2


@workflow.defn
class Settings:
    def __init__(self) -> None:
        self.limit = 1
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.done)
        return self.limit

    @workflow.update
    def set_limit(self, limit: int) -> int:
        previous, self.limit = self.limit, limit
        return previous

    @set_limit.validator
    def check_limit(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"limit must not be negative, got {limit}")

    @workflow.update(name="double-limit")
    async def double_limit(self) -> int:
        self.limit = await workflow.execute_activity(
            double, self.limit, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return self.limit

    @workflow.update
    def finish(self) -> str:
        self.done = True
        return "finishing"

    @workflow.query
    def current(self) -> int:
        return self.limit


def settings_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Settings], activities=[double])


async def test_update_returns_result_and_changes_state(client: Client, task_queue: str) -> None:
    async with settings_worker(client, task_queue):
        handle = await client.start_workflow(Settings.run, id="wf", task_queue=task_queue)
        assert await handle.execute_update(Settings.set_limit, 5) == 1
        assert await handle.query(Settings.current) == 5
        assert await handle.execute_update(Settings.finish) == "finishing"
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == 5


async def test_update_rejected_by_validator_leaves_no_event(client: Client,
                                                            task_queue: str) -> None:
    async with settings_worker(client, task_queue):
        handle = await client.start_workflow(Settings.run, id="wf", task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskCompleted")
        before = [(e.event_id, str(e.event_type)) for e in
                  (await handle.fetch_history()).events]
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update(Settings.set_limit, -3)
        assert "must not be negative" in str(info.value.cause)
        after = [(e.event_id, str(e.event_type)) for e in
                 (await handle.fetch_history()).events]
        assert after == before
        assert await handle.query(Settings.current) == 1
        await handle.execute_update(Settings.finish)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == 1


async def test_update_accepted_is_recorded(client: Client, task_queue: str) -> None:
    async with settings_worker(client, task_queue):
        handle = await client.start_workflow(Settings.run, id="wf", task_queue=task_queue)
        await handle.execute_update(Settings.set_limit, 9)
        await handle.execute_update(Settings.finish)
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    events = (await handle.fetch_history()).events
    accepted = [e for e in events if e.event_type == "WorkflowExecutionUpdateAccepted"]
    completed = [e for e in events if e.event_type == "WorkflowExecutionUpdateCompleted"]
    assert [e.attributes["acceptedRequest"]["input"]["name"] for e in accepted] == [
        "set_limit", "finish"]
    assert len(completed) == 2
    first_id = accepted[0].attributes["acceptedRequest"]["meta"]["updateId"]
    assert completed[0].attributes["meta"]["updateId"] == first_id
    assert completed[0].attributes["acceptedEventId"] == str(accepted[0].event_id)
    assert accepted[0].event_id < completed[0].event_id


async def test_start_update_handle_result(client: Client, task_queue: str) -> None:
    async with settings_worker(client, task_queue):
        handle = await client.start_workflow(Settings.run, id="wf", task_queue=task_queue)
        await handle.execute_update(Settings.set_limit, 21)
        update = await handle.start_update(Settings.double_limit, id="double-1",
                                           wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        assert update.id == "double-1"
        assert await asyncio.wait_for(update.result(), RESULT_TIMEOUT) == 42
        assert await handle.query(Settings.current) == 42
        await handle.execute_update(Settings.finish)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == 42


async def test_update_unknown_name_is_rejected(client: Client, task_queue: str) -> None:
    async with settings_worker(client, task_queue):
        handle = await client.start_workflow(Settings.run, id="wf", task_queue=task_queue)
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await handle.execute_update("no-such-update", 1)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError)
        assert "no-such-update" in str(cause)
        assert "set_limit" in str(cause)  # the known handlers are listed
        types = [str(e.event_type) for e in (await handle.fetch_history()).events]
        assert "WorkflowExecutionUpdateAccepted" not in types
        await handle.terminate(reason="test over")
