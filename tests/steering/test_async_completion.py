"""Activities completed from elsewhere: ``activity.raise_complete_async()`` and the client's
``get_async_activity_handle``."""

from __future__ import annotations

import asyncio

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.exceptions import ActivityError, ApplicationError, AsyncActivityCancelledError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

from ._support import ACTIVITY_TIMEOUT, NO_RETRY, RESULT_TIMEOUT

# Task tokens handed out by the activity, as a real one would hand them to a human or a queue.
tokens: list[bytes] = []


@activity.defn
async def ask_a_human(question: str) -> str:
    tokens.append(activity.info().task_token)
    activity.raise_complete_async()


@workflow.defn
class Approval:
    @workflow.run
    async def run(self, question: str) -> str:
        try:
            answer = await workflow.execute_activity(
                ask_a_human, question, start_to_close_timeout=ACTIVITY_TIMEOUT,
                retry_policy=NO_RETRY)
        except ActivityError as error:
            return f"failed: {error.cause}"
        return f"answer: {answer}"


def approval_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[Approval],
                  activities=[ask_a_human])


async def wait_for_token() -> bytes:
    async def check() -> bool:
        return bool(tokens)

    await eventually(check, what="the activity to hand out its task token")
    return tokens[-1]


@pytest.fixture(autouse=True)
def _reset() -> None:
    tokens.clear()


async def test_async_completion_from_same_client(client: Client, task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, "ship it?", id="wf",
                                             task_queue=task_queue)
        token = await wait_for_token()
        await client.get_async_activity_handle(task_token=token).complete("yes")
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "answer: yes"


async def test_async_completion_from_separate_client(client: Client, db_url: str,
                                                     task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, "ship it?", id="wf",
                                             task_queue=task_queue)
        token = await wait_for_token()
        other = await Client.connect(db_url)
        try:
            async_handle = other.get_async_activity_handle(task_token=token)
            await async_handle.heartbeat("still thinking")
            await async_handle.complete("after a while, yes")
        finally:
            await other.close()
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == \
            "answer: after a while, yes"
    types = [str(e.event_type) for e in (await handle.fetch_history()).events]
    assert types.count("ActivityTaskCompleted") == 1


async def test_async_completion_fail(client: Client, task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, "ship it?", id="wf",
                                             task_queue=task_queue)
        token = await wait_for_token()
        await client.get_async_activity_handle(task_token=token).fail(
            ApplicationError("the human said no", non_retryable=True))
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == \
            "failed: the human said no"


async def test_async_completion_twice_is_refused(client: Client, task_queue: str) -> None:
    async with approval_worker(client, task_queue):
        handle = await client.start_workflow(Approval.run, "ship it?", id="wf",
                                             task_queue=task_queue)
        token = await wait_for_token()
        async_handle = client.get_async_activity_handle(task_token=token)
        await async_handle.complete("first")
        with pytest.raises(AsyncActivityCancelledError):
            await async_handle.complete("second")
        with pytest.raises(AsyncActivityCancelledError):
            await async_handle.heartbeat()
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "answer: first"


async def test_async_completion_bad_token_is_rejected(client: Client) -> None:
    with pytest.raises(ValueError, match="task_token"):
        client.get_async_activity_handle(task_token=b"not-a-token")


@activity.defn
async def heartbeat_before_handing_over(question: str) -> str:
    # As temporalio's sample does from a thread it starts: the token's first heartbeat may
    # reach the store before this worker has handed the attempt over to async completion.
    handle = activity.client().get_async_activity_handle(task_token=activity.info().task_token)
    await handle.heartbeat("still thinking")
    tokens.append(activity.info().task_token)
    activity.raise_complete_async()


@workflow.defn
class EarlyHeartbeat:
    @workflow.run
    async def run(self, question: str) -> str:
        return await workflow.execute_activity(
            heartbeat_before_handing_over, question, start_to_close_timeout=ACTIVITY_TIMEOUT,
            retry_policy=NO_RETRY)


async def test_a_token_heartbeat_before_the_worker_hands_the_attempt_over_is_taken(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[EarlyHeartbeat],
                      activities=[heartbeat_before_handing_over]):
        handle = await client.start_workflow(EarlyHeartbeat.run, "q", id="early-heartbeat",
                                             task_queue=task_queue)
        token = await wait_for_token()
        await client.get_async_activity_handle(task_token=token).complete("42")
        assert await asyncio.wait_for(handle.result(), RESULT_TIMEOUT) == "42"
    pending = [e for e in (await handle.fetch_history()).events
               if str(e.event_type) == "ActivityTaskCompleted"]
    assert len(pending) == 1
