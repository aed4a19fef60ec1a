"""Task priority (``common.Priority(priority_key=...)``): of the tasks ready on a queue, the
lowest key is claimed first; a task without one takes its workflow's (a child its parent's),
and a workflow without one runs at the default, 3."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import Priority
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, wait_for_event

_claimed: list[str] = []


@activity.defn
async def note(label: str) -> None:
    _claimed.append(label)


@workflow.defn
class FansOut:
    """Schedules one activity per (label, key) on a queue no worker polls yet."""

    @workflow.run
    async def run(self, queue: str, labelled: list[tuple[str, int | None]]) -> None:
        await asyncio.gather(*(
            workflow.execute_activity(
                note, label, task_queue=queue, start_to_close_timeout=ACTIVITY_TIMEOUT,
                priority=Priority(priority_key=key) if key is not None else None)
            for label, key in labelled))


async def test_activities_are_claimed_lowest_priority_key_first(
        client: Client, task_queue: str) -> None:
    _claimed.clear()
    activity_queue = f"{task_queue}-activities"
    labelled = [("five", 5), ("inherits four", None), ("one", 1), ("two", 2), ("three", 3)]
    async with Worker(client, task_queue=task_queue, workflows=[FansOut]):
        handle = await client.start_workflow(FansOut.run, args=[activity_queue, labelled],
                                             id=f"fan-{uuid.uuid4()}", task_queue=task_queue,
                                             priority=Priority(priority_key=4))
        await wait_for_event(handle, "ActivityTaskScheduled")
        # One slot: the worker claims the ready tasks one at a time, in priority order.
        async with Worker(client, task_queue=activity_queue, activities=[note],
                          max_concurrent_activities=1):
            await handle.result()
    assert _claimed == ["one", "two", "three", "inherits four", "five"]


_started: list[str] = []


@workflow.defn
class NotesItsStart:
    @workflow.run
    async def run(self, label: str) -> None:
        if not workflow.unsafe.is_replaying():
            _started.append(label)


async def test_workflow_tasks_are_claimed_lowest_priority_key_first(
        client: Client, task_queue: str) -> None:
    _started.clear()
    handles = []
    for label, key in [("low", 5), ("default", None), ("high", 1)]:
        handles.append(await client.start_workflow(
            NotesItsStart.run, label, id=f"wf-{uuid.uuid4()}", task_queue=task_queue,
            priority=Priority(priority_key=key) if key is not None else Priority.default))
    async with Worker(client, task_queue=task_queue, workflows=[NotesItsStart],
                      max_concurrent_workflow_tasks=1):
        for handle in handles:
            await handle.result()
    assert _started == ["high", "default", "low"]


async def test_a_priority_that_is_not_a_priority_is_refused(
        client: Client, task_queue: str) -> None:
    with pytest.raises(TypeError, match=r"priority must be a stalwart\.common\.Priority"):
        await client.start_workflow(NotesItsStart.run, "x", id="bad", task_queue=task_queue,
                                    priority=1)  # type: ignore[arg-type]


@workflow.defn
class ParentOfFanOut:
    @workflow.run
    async def run(self, queue: str, child_id: str) -> None:
        await workflow.execute_child_workflow(FansOut.run, args=[queue, [("child", None)]],
                                              id=child_id)


async def test_a_child_without_a_priority_takes_its_parents(
        client: Client, task_queue: str) -> None:
    _claimed.clear()
    activity_queue = f"{task_queue}-activities"
    async with Worker(client, task_queue=task_queue, workflows=[FansOut, ParentOfFanOut]):
        other = await client.start_workflow(FansOut.run, args=[activity_queue, [("two", 2)]],
                                            id=f"fan-{uuid.uuid4()}", task_queue=task_queue)
        child_id = f"child-{uuid.uuid4()}"
        parent = await client.start_workflow(ParentOfFanOut.run, args=[activity_queue, child_id],
                                             id=f"parent-{uuid.uuid4()}",
                                             task_queue=task_queue,
                                             priority=Priority(priority_key=1))
        await wait_for_event(other, "ActivityTaskScheduled")
        await wait_for_event(parent, "ChildWorkflowExecutionStarted")
        child = client.get_workflow_handle(child_id)
        await wait_for_event(child, "ActivityTaskScheduled")
        async with Worker(client, task_queue=activity_queue, activities=[note],
                          max_concurrent_activities=1):
            await parent.result()
            await other.result()
    assert _claimed == ["child", "two"]
