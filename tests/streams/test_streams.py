"""Workflow streams in one process, on both stores: publishing from workflow code and from
activities, following from an offset or the end, failed attempts, continue-as-new."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.contrib.workflow_streams import (
    WorkflowStream,
    WorkflowStreamClient,
    WorkflowStreamItem,
)
from stalwart.exceptions import WorkflowNotFoundError
from stalwart.worker import Worker

DEADLINE = 60.0


@activity.defn
async def speak(words: list[str]) -> str:
    stream = WorkflowStreamClient.from_within_activity(batch_interval=0)
    async with stream:
        for word in words:
            stream.topic("tokens").publish(word)
    if activity.info().attempt == 1 and "fail-first" in words:
        await stream.flush()
        raise RuntimeError("the first attempt fails after streaming")
    return " ".join(words)


@workflow.defn
class Narrator:
    def __init__(self) -> None:
        self.stream = WorkflowStream()
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self, sentences: list[list[str]]) -> int:
        status = self.stream.topic("status")
        status.publish({"phase": "start"})
        for n, words in enumerate(sentences):
            await workflow.execute_activity(
                speak, words, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)))
            status.publish({"phase": "said", "n": n})
        await workflow.wait_condition(lambda: self.go)
        status.publish({"phase": "end"})
        return len(sentences)


@workflow.defn
class Chapters:
    def __init__(self) -> None:
        self.stream = WorkflowStream()

    @workflow.run
    async def run(self, chapter: int, last: int) -> int:
        self.stream.publish("pages", f"chapter {chapter}")
        await workflow.sleep(0.01)
        if chapter < last:
            # temporalio's helper; the stream needs no state handed over (None).
            await self.stream.continue_as_new(lambda state: [chapter + 1, last])
        return chapter


async def collect(stream: WorkflowStreamClient, **options: Any
                  ) -> list[WorkflowStreamItem[Any]]:
    return [item async for item in stream.subscribe(**options)]


async def test_workflow_and_activity_items_in_order(client: Client, task_queue: str) -> None:
    workflow_id = f"narrator-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Narrator],
                      activities=[speak]):
        handle = await client.start_workflow(
            Narrator.run, [["hello", "world"], ["again"]], id=workflow_id,
            task_queue=task_queue)
        stream = client.workflow_stream(workflow_id)
        reader = asyncio.ensure_future(collect(stream))
        seen: list[WorkflowStreamItem[Any]] = []
        # Follow until the workflow waits for its signal, then let it finish.
        async for item in stream.subscribe(["status"]):
            seen.append(item)
            if item.data == {"phase": "said", "n": 1}:
                break
        await handle.signal(Narrator.proceed)
        assert await handle.result() == 2
        items = await asyncio.wait_for(reader, DEADLINE)
    assert [(i.topic, i.data) for i in items] == [
        ("status", {"phase": "start"}), ("tokens", "hello"), ("tokens", "world"),
        ("status", {"phase": "said", "n": 0}), ("tokens", "again"),
        ("status", {"phase": "said", "n": 1}), ("status", {"phase": "end"})]
    assert [i.offset for i in items] == list(range(7))
    assert [i.producer for i in items] == ["workflow", "activity", "activity", "workflow",
                                           "activity", "workflow", "workflow"]
    assert all(i.attempt == 1 for i in items if i.producer == "activity")
    assert [i.data for i in seen] == [{"phase": "start"}, {"phase": "said", "n": 0},
                                      {"phase": "said", "n": 1}]
    # Resuming from an offset yields exactly what follows it.
    rest = await collect(stream, from_offset=4)
    assert [i.offset for i in rest] == [4, 5, 6]
    assert [i.data for i in await collect(stream, topics=["tokens"], from_offset=2)] == [
        "world", "again"]


async def test_failed_attempt_items_are_marked(client: Client, task_queue: str) -> None:
    workflow_id = f"retry-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Narrator],
                      activities=[speak]):
        handle = await client.start_workflow(
            Narrator.run, [["fail-first", "x"]], id=workflow_id, task_queue=task_queue)
        stream = client.workflow_stream(workflow_id)
        live: list[WorkflowStreamItem[Any]] = []
        async for item in stream.subscribe(["tokens"]):
            live.append(item)
            if item.attempt == 2 and item.data == "x":
                break
        await handle.signal(Narrator.proceed)
        await handle.result()
    # Live: the first attempt's items, then its marker, then the second attempt's.
    assert [(i.kind, i.data, i.attempt) for i in live] == [
        ("item", "fail-first", 1), ("item", "x", 1), ("attempt_failed", None, 1),
        ("item", "fail-first", 2), ("item", "x", 2)]
    again = await collect(stream, topics=["tokens"])
    assert [(i.data, i.attempt, i.failed) for i in again if i.kind == "item"] == [
        ("fail-first", 1, True), ("x", 1, True), ("fail-first", 2, False), ("x", 2, False)]
    clean = await collect(stream, topics=["tokens"], include_failed=False)
    assert [(i.data, i.attempt) for i in clean] == [("fail-first", 2), ("x", 2)]


async def test_stream_spans_continue_as_new(client: Client, task_queue: str) -> None:
    workflow_id = f"chapters-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Chapters]):
        handle = await client.start_workflow(Chapters.run, args=[1, 3], id=workflow_id,
                                             task_queue=task_queue)
        first_run = handle.first_execution_run_id or handle.result_run_id
        items = await asyncio.wait_for(collect(client.workflow_stream(workflow_id)),
                                       DEADLINE)
        assert await handle.result() == 3
    assert [(i.offset, i.data) for i in items] == [
        (0, "chapter 1"), (1, "chapter 2"), (2, "chapter 3")]
    assert len({i.run_id for i in items}) == 3
    # One run's own items only, when asked.
    assert first_run is not None
    only_first = await collect(WorkflowStreamClient.create(client, workflow_id,
                                                           run_id=first_run),
                               follow_continue_as_new=False)
    assert [i.data for i in only_first] == ["chapter 1"]


async def test_client_publishes_and_reader_from_end(client: Client, task_queue: str) -> None:
    workflow_id = f"narrator-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Narrator],
                      activities=[speak]):
        handle = await client.start_workflow(Narrator.run, [], id=workflow_id,
                                             task_queue=task_queue)
        stream = client.workflow_stream(workflow_id)
        async for _ in stream.subscribe(["status"]):
            break  # the workflow has started and published
        async with WorkflowStreamClient.create(client, workflow_id) as publisher:
            publisher.publish("notes", "from a client")
        await handle.signal(Narrator.proceed)
        await handle.result()
    notes = await collect(stream, topics=["notes"])
    assert [(i.data, i.producer) for i in notes] == [("from a client", "client")]
    assert await stream.get_offset() == notes[0].offset + 2  # then "end" from the workflow
    assert await collect(stream, from_end=True) == []
    with pytest.raises(WorkflowNotFoundError, match="already closed"):
        async with WorkflowStreamClient.create(client, workflow_id) as late:
            late.publish("notes", "too late")


async def test_bad_input_is_named(client: Client) -> None:
    stream = client.workflow_stream("no-such-workflow")
    with pytest.raises(WorkflowNotFoundError, match="no-such-workflow"):
        await collect(stream, wait_for_start=0)
    with pytest.raises(ValueError, match="from_offset=-1"):
        await collect(client.workflow_stream("x"), from_offset=-1)
    with pytest.raises(ValueError, match="topic ''"):
        client.workflow_stream("x").topic("")


async def test_retention_deletes_items_with_their_runs(client: Client, task_queue: str) -> None:
    workflow_id = f"chapters-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Chapters]):
        await client.execute_workflow(Chapters.run, args=[1, 2], id=workflow_id,
                                      task_queue=task_queue)
    assert len(await collect(client.workflow_stream(workflow_id))) == 2

    async def rows() -> tuple[int, int]:
        items = await client.store.fetch_sql(
            "SELECT COUNT(*) FROM workflow_stream_items WHERE workflow_id = ?", (workflow_id,))
        heads = await client.store.fetch_sql("SELECT COUNT(*) FROM workflow_stream_heads")
        return int(items[0][0]), int(heads[0][0])

    assert (await rows())[0] == 2
    assert await client.store.delete_closed_runs(time.time() + 60, 100) == 2
    assert await rows() == (0, 0)
    with pytest.raises(WorkflowNotFoundError):
        await collect(client.workflow_stream(workflow_id), wait_for_start=0)
