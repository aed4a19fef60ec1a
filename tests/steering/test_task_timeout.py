"""The run's workflow task timeout: a task its worker finishes only after ``task_timeout`` is
timed out as Temporal times it out (``WorkflowTaskTimedOut``, START_TO_CLOSE), its late
completion is not recorded, and the task runs again."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import pytest

from stalwart import workflow
from stalwart.client import Client
from stalwart.worker import Worker

from ._support import RESULT_TIMEOUT, event_types

# Workflow ids whose task has been held once: the retry is not held again.
HELD: set[str] = set()


@workflow.defn
class HoldsOnce:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, hold_after_signal: bool) -> str:
        if hold_after_signal:
            await workflow.wait_condition(lambda: self.go)
        workflow_id = workflow.info().workflow_id
        if workflow_id not in HELD:
            HELD.add(workflow_id)
            with workflow.unsafe.sandbox_unrestricted():
                time.sleep(0.3)  # noqa: ASYNC251 - past the task timeout below
        await workflow.sleep(0.01)
        return f"done, task timeout {workflow.info().task_timeout}"

    @workflow.signal
    def proceed(self) -> None:
        self.go = True


TIMED_OUT_AND_AGAIN = ["WorkflowTaskTimedOut", "WorkflowTaskScheduled", "WorkflowTaskStarted",
                       "WorkflowTaskCompleted"]


@pytest.mark.parametrize("hold_after_signal", [False, True], ids=["first-task", "later-task"])
async def test_a_task_past_its_timeout_is_timed_out_and_runs_again(
        client: Client, task_queue: str, hold_after_signal: bool) -> None:
    workflow_id = f"holds-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[HoldsOnce]):
        handle = await client.start_workflow(
            HoldsOnce.run, hold_after_signal, id=workflow_id, task_queue=task_queue,
            task_timeout=timedelta(milliseconds=200))
        if hold_after_signal:
            await handle.signal(HoldsOnce.proceed)
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert result == "done, task timeout 0:00:00.200000"
    types = await event_types(handle)
    assert types.count("WorkflowTaskTimedOut") == 1
    at = types.index("WorkflowTaskTimedOut")
    assert types[at - 2:at] == ["WorkflowTaskScheduled", "WorkflowTaskStarted"]
    assert types[at:at + 4] == TIMED_OUT_AND_AGAIN
    history = (await handle.fetch_history()).to_json_dict()["events"]
    assert history[0]["workflowExecutionStartedEventAttributes"]["workflowTaskTimeout"] \
        == "0.200s"
    timed_out = history[at]["workflowTaskTimedOutEventAttributes"]
    assert timed_out["timeoutType"] == "TIMEOUT_TYPE_START_TO_CLOSE"
    assert int(timed_out["startedEventId"]) == at  # the WorkflowTaskStarted before it


async def test_a_task_timeout_that_is_not_positive_is_refused(client: Client,
                                                              task_queue: str) -> None:
    with pytest.raises(ValueError, match="task_timeout must be positive"):
        await client.start_workflow(HoldsOnce.run, False, id="never", task_queue=task_queue,
                                    task_timeout=timedelta(0))


@workflow.defn
class ContinuesOnce:
    @workflow.run
    async def run(self, first: bool) -> str:
        if first:
            workflow.continue_as_new(False)
        return str(workflow.info().task_timeout)


async def test_a_run_continued_as_new_keeps_its_task_timeout(client: Client,
                                                             task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ContinuesOnce]):
        handle = await client.start_workflow(ContinuesOnce.run, True, id="continues",
                                             task_queue=task_queue,
                                             task_timeout=timedelta(seconds=3))
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "0:00:03"
    first = (await client.get_workflow_handle(
        "continues", run_id=handle.result_run_id).fetch_history()).to_json_dict()["events"]
    assert first[-1]["workflowExecutionContinuedAsNewEventAttributes"][
        "workflowTaskTimeout"] == "3s"
