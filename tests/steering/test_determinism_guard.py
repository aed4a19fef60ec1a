"""The determinism guard: clock, randomness and I/O in workflow code fail with a message naming
the safe alternative; the escape hatch, workflow logging and activities are unaffected."""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
import time
import uuid

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import RestrictedWorkflowAccessError
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT, wait_for_event


@workflow.defn
class ReadsClock:
    @workflow.run
    async def run(self) -> float:
        return time.time()


@workflow.defn
class RollsDice:
    @workflow.run
    async def run(self) -> float:
        return random.random()


@workflow.defn
class MakesIds:
    @workflow.run
    async def run(self) -> str:
        return str(uuid.uuid4())


@workflow.defn
class ReadsFile:
    @workflow.run
    async def run(self, path: str) -> str:
        with open(path) as handle:  # noqa: ASYNC230 - the point of the test
            return handle.read()


@workflow.defn
class AsksDatetime:
    @workflow.run
    async def run(self) -> str:
        return datetime.datetime.now().isoformat()


@workflow.defn
class Unrestricted:
    @workflow.run
    async def run(self) -> bool:
        with workflow.unsafe.sandbox_unrestricted():
            return time.time() > 0 and 0 <= random.random() < 1


@activity.defn
def thread_side_effects() -> list[str]:
    return [type(time.time()).__name__, type(random.random()).__name__, str(uuid.uuid4())[14]]


@activity.defn
async def async_side_effects() -> list[str]:
    return [type(time.time()).__name__, type(random.random()).__name__, str(uuid.uuid4())[14]]


@workflow.defn
class Deterministic:
    @workflow.run
    async def run(self) -> list[object]:
        workflow.logger.info("starting deterministic work")
        thread = await workflow.execute_activity(thread_side_effects,
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        in_loop = await workflow.execute_activity(async_side_effects,
                                                  start_to_close_timeout=ACTIVITY_TIMEOUT)
        return [thread, in_loop, str(workflow.uuid4())[14], 0 <= workflow.random().random() < 1,
                workflow.now().tzinfo is not None]


async def task_failure_message(client: Client, task_queue: str, cls: type,
                               *args: object) -> str:
    """Run ``cls`` until its first workflow task fails; return the recorded failure message."""
    async with Worker(client, task_queue=task_queue, workflows=[cls]):
        handle = await client.start_workflow(cls, args=list(args), id="wf",
                                             task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskFailed")
        # A failed task is retried, not the workflow failed: a fixed deployment resumes it.
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate(reason="test over")
    events = (await handle.fetch_history()).events
    failed = next(e for e in events if e.event_type == "WorkflowTaskFailed")
    return str(failed.attributes["failure"]["message"])


async def test_guard_time_names_workflow_now(client: Client, task_queue: str) -> None:
    message = await task_failure_message(client, task_queue, ReadsClock)
    assert "time.time()" in message and "workflow.now()" in message


async def test_guard_random_names_workflow_random(client: Client, task_queue: str) -> None:
    message = await task_failure_message(client, task_queue, RollsDice)
    assert "random.random()" in message and "workflow.random()" in message


async def test_guard_uuid4_names_workflow_uuid4(client: Client, task_queue: str) -> None:
    message = await task_failure_message(client, task_queue, MakesIds)
    assert "uuid.uuid4()" in message and "workflow.uuid4()" in message


async def test_guard_open_names_activity(client: Client, task_queue: str,
                                         tmp_path: object) -> None:
    message = await task_failure_message(client, task_queue, ReadsFile,
                                         f"{tmp_path}/notes.txt")
    assert "opening files" in message and "activity" in message


async def test_guard_datetime_now_refused_when_worker_is_built(client: Client,
                                                               task_queue: str) -> None:
    with pytest.raises(RestrictedWorkflowAccessError, match=r"datetime\.now\(\).*workflow\.now"):
        Worker(client, task_queue=task_queue, workflows=[AsksDatetime])


async def test_guard_sandbox_unrestricted_lets_code_through(client: Client,
                                                            task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Unrestricted]):
        result = await asyncio.wait_for(
            client.execute_workflow(Unrestricted.run, id="wf", task_queue=task_queue),
            RESULT_TIMEOUT)
    assert result is True


async def test_guard_leaves_activities_and_workflow_api_alone(
        client: Client, task_queue: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="stalwart.workflow")
    async with Worker(client, task_queue=task_queue, workflows=[Deterministic],
                      activities=[thread_side_effects, async_side_effects]):
        result = await asyncio.wait_for(
            client.execute_workflow(Deterministic.run, id="wf", task_queue=task_queue),
            RESULT_TIMEOUT)
    assert result == [["float", "float", "4"], ["float", "float", "4"], "4", True, True]
    records = [r for r in caplog.records if "starting deterministic work" in r.getMessage()]
    # Logged once, however many workflow tasks and replays the run went through.
    assert len(records) == 1
    assert getattr(records[0], "temporal_workflow", {}).get("workflow_id") == "wf"
