"""Workflow timeouts with Temporal's semantics, enforced by the store's sweeper on every
backend: ``execution_timeout`` bounds a whole chain of runs, ``run_timeout`` each run (a run
continued as new gets a fresh one), for runs started by a client and for child workflows,
and a child's workflow task timeout is its own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from stalwart import workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import ChildWorkflowError, TimeoutError, WorkflowFailureError
from stalwart.worker import Worker

from ._support import event_types


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


@workflow.defn
class Chain:
    """Each run waits ``wait`` seconds, then continues as new until ``runs`` have run."""

    @workflow.run
    async def run(self, runs: int, wait: float) -> list[Any]:
        info = workflow.info()
        await workflow.sleep(timedelta(seconds=wait))
        if runs > 1:
            workflow.continue_as_new(args=[runs - 1, wait])
        return [_seconds(info.execution_timeout), _seconds(info.run_timeout),
                _seconds(info.task_timeout)]


@workflow.defn
class Forever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


@workflow.defn
class Timeouts:
    @workflow.run
    async def run(self) -> list[Any]:
        info = workflow.info()
        return [_seconds(info.execution_timeout), _seconds(info.run_timeout),
                _seconds(info.task_timeout)]


@workflow.defn
class Parent:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        out: dict[str, Any] = {"settled": await workflow.execute_child_workflow(
            Timeouts.run, id=f"{workflow.info().workflow_id}-settled",
            execution_timeout=timedelta(hours=1), run_timeout=timedelta(hours=2),
            task_timeout=timedelta(seconds=7))}
        try:
            await workflow.execute_child_workflow(
                Forever.run, id=f"{workflow.info().workflow_id}-late",
                run_timeout=timedelta(seconds=0.5))
        except ChildWorkflowError as error:
            out["late"] = type(error.__cause__).__name__
        return out


async def test_run_timeout_is_fresh_for_each_run_of_a_chain(client: Client,
                                                            task_queue: str) -> None:
    # Four runs of 0.4 s outlast the 1.5 s run timeout together, never one alone.
    async with Worker(client, task_queue=task_queue, workflows=[Chain]):
        result = await client.execute_workflow(
            Chain.run, args=[4, 0.4], id="per-run", task_queue=task_queue,
            run_timeout=timedelta(seconds=1.5))
    assert result == [None, 1.5, 1.5]


async def test_execution_timeout_bounds_the_whole_chain(client: Client,
                                                        task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Chain]):
        handle = await client.start_workflow(
            Chain.run, args=[20, 0.4], id="chain", task_queue=task_queue,
            execution_timeout=timedelta(seconds=1.5))
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    assert isinstance(raised.value.cause, TimeoutError)
    latest = await client.get_workflow_handle("chain").describe()
    assert latest.status == WorkflowExecutionStatus.TIMED_OUT
    assert latest.run_id != handle.result_run_id  # a later run of the chain timed out
    events = (await client.get_workflow_handle("chain").fetch_history()
              ).to_json_dict()["events"]
    started = events[0]["workflowExecutionStartedEventAttributes"]
    assert [started["workflowExecutionTimeout"], started["workflowRunTimeout"]] == \
        ["1.500s", "1.500s"]
    assert events[-1]["workflowExecutionTimedOutEventAttributes"]["retryState"] == \
        "RETRY_STATE_TIMEOUT"  # the chain's time ran out


async def test_run_timeout_times_out_a_single_run(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Forever]):
        handle = await client.start_workflow(Forever.run, id="run-timeout",
                                             task_queue=task_queue,
                                             run_timeout=timedelta(seconds=0.5))
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    assert isinstance(raised.value.cause, TimeoutError)
    assert (await handle.describe()).status == WorkflowExecutionStatus.TIMED_OUT
    assert (await event_types(handle))[-1] == "WorkflowExecutionTimedOut"
    events = (await handle.fetch_history()).to_json_dict()["events"]
    # Only this run's time ran out, and no retry policy starts another.
    assert events[-1]["workflowExecutionTimedOutEventAttributes"]["retryState"] == \
        "RETRY_STATE_RETRY_POLICY_NOT_SET"


async def test_child_timeouts_are_settled_and_enforced(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Parent, Timeouts, Forever]):
        result = await client.execute_workflow(Parent.run, id="parent", task_queue=task_queue)
    # The run timeout is never longer than the execution timeout; the task timeout is the
    # child's own.
    assert result == {"settled": [3600.0, 3600.0, 7.0], "late": "TimeoutError"}


async def test_a_timeout_that_is_not_positive_is_refused(client: Client,
                                                         task_queue: str) -> None:
    with pytest.raises(ValueError, match="run_timeout must be positive"):
        await client.start_workflow(Forever.run, id="bad", task_queue=task_queue,
                                    run_timeout=timedelta(0))
