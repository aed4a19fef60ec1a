"""Queries: answered from a running workflow's state, from a closed one by replay, with
arguments; unknown names, handlers that try to act, and no worker fail clearly."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.exceptions import WorkflowNotFoundError, WorkflowQueryFailedError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT, wait_for_event


@activity.defn
async def noop() -> None:
    return None


@workflow.defn
class Counter:
    def __init__(self) -> None:
        self.values: list[int] = []
        self.closed = False

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self.closed)
        return sum(self.values)

    @workflow.signal
    def add(self, value: int) -> None:
        self.values.append(value)

    @workflow.signal
    def close(self) -> None:
        self.closed = True

    @workflow.query
    def total(self) -> int:
        return sum(self.values)

    @workflow.query(name="value-at")
    def value_at(self, index: int, default: int) -> int:
        return self.values[index] if index < len(self.values) else default

    @workflow.query
    def sneaky(self) -> str:
        workflow.start_activity(noop, start_to_close_timeout=ACTIVITY_TIMEOUT)
        return "scheduled"


def counter_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Counter], activities=[noop])


async def test_query_answers_from_running_workflow(client: Client, task_queue: str) -> None:
    async with counter_worker(client, task_queue):
        handle = await client.start_workflow(Counter.run, id="wf", task_queue=task_queue)
        await handle.signal(Counter.add, 5)
        await handle.signal(Counter.add, 7)
        await wait_for_event(handle, "WorkflowExecutionSignaled", count=2)

        async def total() -> bool:
            return bool(await handle.query(Counter.total) == 12)

        await eventually(total, what="query total == 12")
        assert (await handle.describe()).status.name == "RUNNING"
        await handle.signal(Counter.close)
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)


async def test_query_answers_from_completed_workflow_by_replay(client: Client,
                                                               task_queue: str) -> None:
    async with counter_worker(client, task_queue):
        handle = await client.start_workflow(Counter.run, id="wf", task_queue=task_queue)
        await handle.signal(Counter.add, 3)
        await handle.signal(Counter.add, 4)
        await handle.signal(Counter.close)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == 7
    # A fresh worker holds nothing in memory: it must rebuild the state from history.
    async with counter_worker(client, task_queue):
        assert await handle.query(Counter.total) == 7
        assert await handle.query("total") == 7


async def test_query_with_arguments(client: Client, task_queue: str) -> None:
    async with counter_worker(client, task_queue):
        handle = await client.start_workflow(Counter.run, id="wf", task_queue=task_queue)
        await handle.signal(Counter.add, 10)
        await handle.signal(Counter.add, 20)
        await handle.signal(Counter.close)
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        assert await handle.query(Counter.value_at, args=[1, -1]) == 20
        assert await handle.query("value-at", args=[5, -1]) == -1


async def test_query_unknown_name_names_the_handler(client: Client, task_queue: str) -> None:
    async with counter_worker(client, task_queue):
        handle = await client.start_workflow(Counter.run, id="wf", task_queue=task_queue)
        with pytest.raises(WorkflowQueryFailedError, match="no-such-query") as info:
            await handle.query("no-such-query")
        # The error lists what the workflow does answer.
        assert "total" in str(info.value)
        await handle.terminate(reason="test over")


async def test_query_handler_cannot_schedule_activity(client: Client,
                                                      task_queue: str) -> None:
    async with counter_worker(client, task_queue):
        handle = await client.start_workflow(Counter.run, id="wf", task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskCompleted")
        with pytest.raises(WorkflowQueryFailedError, match="read-only"):
            await handle.query(Counter.sneaky)
        # Nothing was scheduled: the history holds no activity.
        types = [str(e.event_type) for e in (await handle.fetch_history()).events]
        assert "ActivityTaskScheduled" not in types
        await handle.signal(Counter.close)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == 0


async def test_query_without_worker_fails_after_rpc_timeout(client: Client,
                                                           task_queue: str) -> None:
    handle = await client.start_workflow(Counter.run, id="lonely", task_queue=task_queue)
    with pytest.raises(WorkflowQueryFailedError, match=r"no worker answered.*lonely"):
        await handle.query(Counter.total, rpc_timeout=timedelta(seconds=1))


async def test_query_missing_workflow_names_it(client: Client) -> None:
    with pytest.raises(WorkflowNotFoundError, match="ghost"):
        await client.get_workflow_handle("ghost").query("total",
                                                         rpc_timeout=timedelta(seconds=1))


@workflow.defn
class Waiter:
    """Waits in two places at once: the run on a condition, a child task on a timer."""

    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self) -> str:
        napper = asyncio.create_task(self.nap())
        await workflow.wait_condition(lambda: self.go)
        napper.cancel()
        return "done"

    async def nap(self) -> None:
        await asyncio.sleep(3600)

    @workflow.signal
    def release(self) -> None:
        self.go = True


async def test_stack_trace_lists_where_each_coroutine_waits(client: Client,
                                                            task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Waiter]):
        handle = await client.start_workflow(Waiter.run, id="wf-stack", task_queue=task_queue)
        trace = await handle.query("__stack_trace")
        assert isinstance(trace, str)
        blocks = trace.split("\n\nStack for ")
        assert len(blocks) == 2, trace
        assert blocks[0].startswith("Stack for <Task") and "most recent call last" in trace
        assert "in run" in blocks[0] and "wait_condition" in blocks[0]
        assert "in nap" in blocks[1] and "asyncio.sleep(3600)" in blocks[1]
        enhanced = await handle.query("__enhanced_stack_trace")
        assert enhanced["sdk"]["name"] == "stalwart"
        functions = [[loc["functionName"] for loc in stack["locations"]]
                     for stack in enhanced["stacks"]]
        assert "run" in functions[0] and "nap" in functions[1]
        this_file = enhanced["stacks"][1]["locations"][0]["filePath"]
        assert "async def nap" in enhanced["sources"][this_file]["content"]
        await handle.signal(Waiter.release)
        assert await asyncio.wait_for(handle.result(), 15) == "done"
