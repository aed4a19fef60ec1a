"""Signals: handlers sync and async, by method and by name, typed arguments, signal-with-start,
signals between workflows, and signals kept while no worker runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.exceptions import ApplicationError, WorkflowNotFoundError
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT, wait_for_event


@dataclass
class Greeting:
    who: str
    times: int


@activity.defn
async def decorate(text: str) -> str:
    return f"<{text}>"


@workflow.defn
class Collector:
    """Collects signalled items until it has ``expected`` of them."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.seen_at_start: list[str] = []

    @workflow.run
    async def run(self, expected: int) -> list[str]:
        self.seen_at_start = list(self.items)
        await workflow.wait_condition(lambda: len(self.items) >= expected)
        return self.items

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.signal(name="add-decorated")
    async def add_decorated(self, item: str) -> None:
        # An async handler may do durable work before changing state.
        self.items.append(await workflow.execute_activity(
            decorate, item, start_to_close_timeout=ACTIVITY_TIMEOUT))

    @workflow.signal
    def greet(self, greeting: Greeting) -> None:
        if not isinstance(greeting, Greeting):
            raise ApplicationError(f"got {type(greeting).__name__}", non_retryable=True)
        self.items.append(f"{greeting.who}x{greeting.times}")

    @workflow.query
    def seen_first(self) -> list[str]:
        return self.seen_at_start


@workflow.defn
class Sender:
    """Signals another workflow, or reports why it could not."""

    @workflow.run
    async def run(self, target_id: str, item: str) -> str:
        target = workflow.get_external_workflow_handle(target_id)
        try:
            await target.signal(Collector.add, item)
        except ApplicationError as error:
            return f"failed: {error}"
        return "sent"


def collector_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Collector, Sender],
                  activities=[decorate])


async def test_signal_sync_handler_by_method(client: Client, task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        handle = await client.start_workflow(Collector.run, 3, id="wf", task_queue=task_queue)
        for item in ("a", "b", "c"):
            await handle.signal(Collector.add, item)
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["a", "b", "c"]


async def test_signal_async_handler_by_name(client: Client, task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        handle = await client.start_workflow(Collector.run, 1, id="wf", task_queue=task_queue)
        await handle.signal("add-decorated", "x")
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["<x>"]
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert "ActivityTaskCompleted" in types


async def test_signal_sync_handler_by_plain_name(client: Client, task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        handle = await client.start_workflow(Collector.run, 1, id="wf", task_queue=task_queue)
        await handle.signal("add", "by-name")
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["by-name"]


async def test_signal_dataclass_argument_decoded_by_type_hint(client: Client,
                                                               task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        handle = await client.start_workflow(Collector.run, 1, id="wf", task_queue=task_queue)
        await handle.signal(Collector.greet, Greeting("bob", 2))
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["bobx2"]


async def test_signal_with_start_is_seen_before_run_starts(client: Client,
                                                            task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        handle = await client.start_workflow(Collector.run, 1, id="wf", task_queue=task_queue,
                                             start_signal="add", start_signal_args=["first"])
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["first"]
        assert await handle.query(Collector.seen_first) == ["first"]
    history = await handle.fetch_history()
    assert [str(e.event_type) for e in history.events][:2] == [
        "WorkflowExecutionStarted", "WorkflowExecutionSignaled"]


async def test_signal_with_start_signals_the_running_workflow(client: Client,
                                                               task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        first = await client.start_workflow(Collector.run, 2, id="wf", task_queue=task_queue,
                                            start_signal="add", start_signal_args=["one"])
        second = await client.start_workflow(Collector.run, 2, id="wf", task_queue=task_queue,
                                             start_signal="add", start_signal_args=["two"])
        assert second.result_run_id == first.result_run_id
        assert await asyncio.wait_for(first.result(), RESULT_TIMEOUT) == ["one", "two"]


async def test_signal_from_another_workflow(client: Client, task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        target = await client.start_workflow(Collector.run, 1, id="target",
                                             task_queue=task_queue)
        sent = await client.execute_workflow(Sender.run, args=["target", "from-wf"],
                                             id="sender", task_queue=task_queue)
        assert sent == "sent"
        assert await asyncio.wait_for(target.result(), RESULT_TIMEOUT) == ["from-wf"]
    sender_types = [str(e.event_type) for e in
                    (await client.get_workflow_handle("sender").fetch_history()).events]
    assert "SignalExternalWorkflowExecutionInitiated" in sender_types
    assert "ExternalWorkflowExecutionSignaled" in sender_types


async def test_signal_from_workflow_to_missing_workflow_fails_in_workflow(
        client: Client, task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        sent = await client.execute_workflow(Sender.run, args=["nobody-here", "x"],
                                             id="sender", task_queue=task_queue)
    assert sent.startswith("failed: ")
    assert "nobody-here" in sent


async def test_signal_to_missing_workflow_names_it(client: Client) -> None:
    with pytest.raises(WorkflowNotFoundError, match="no-such-workflow"):
        await client.get_workflow_handle("no-such-workflow").signal("add", "x")


async def test_signal_to_closed_workflow_names_it(client: Client, task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        handle = await client.start_workflow(Collector.run, 0, id="done-wf",
                                             task_queue=task_queue)
        await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    with pytest.raises(WorkflowNotFoundError, match=r"done-wf.*closed"):
        await handle.signal(Collector.add, "late")


async def test_signal_sent_before_any_worker_is_delivered_in_order(client: Client,
                                                                   task_queue: str) -> None:
    handle = await client.start_workflow(Collector.run, 4, id="wf", task_queue=task_queue)
    for item in ("1", "2", "3", "4"):
        await handle.signal(Collector.add, item)
    assert (await handle.describe()).pending_events == 4
    async with collector_worker(client, task_queue):
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == ["1", "2", "3", "4"]


async def test_signal_sent_between_workers_is_kept(client: Client, task_queue: str) -> None:
    async with collector_worker(client, task_queue):
        handle = await client.start_workflow(Collector.run, 3, id="wf", task_queue=task_queue)
        await handle.signal(Collector.add, "before")
        # In history means a workflow task has consumed it.
        await wait_for_event(handle, "WorkflowExecutionSignaled")
    # No worker runs now: the signals wait in the store, in order.
    await handle.signal(Collector.add, "while-down-1")
    await handle.signal(Collector.add, "while-down-2")
    async with collector_worker(client, task_queue):
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == [
            "before", "while-down-1", "while-down-2"]
