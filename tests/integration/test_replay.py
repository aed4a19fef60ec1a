"""Replaying recorded histories: changed code is caught with a precise NondeterminismError, and
``workflow.patched`` lets new code replay old histories, offline and on a live worker."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowHistory
from stalwart.exceptions import NondeterminismError
from stalwart.worker import Replayer, Worker

from ._support import ACTIVITY_TIMEOUT, event_types, wait_for_event


@activity.defn
async def fetch_page(url: str) -> str:
    return f"<html>{url}</html>"


@activity.defn
async def fetch_page_cached(url: str) -> str:
    return f"<cached>{url}</cached>"


@workflow.defn(name="Crawler")
class CrawlerV1:
    def __init__(self) -> None:
        self.resume = False

    @workflow.signal
    def proceed(self) -> None:
        self.resume = True

    @workflow.run
    async def run(self, url: str) -> list[str]:
        first = await workflow.execute_activity(fetch_page, url,
                                                start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.wait_condition(lambda: self.resume)
        second = await workflow.execute_activity(fetch_page, url + "/2",
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        return [first, second]


@workflow.defn(name="Crawler")
class CrawlerChanged:
    """The first activity was swapped without a patch: old histories no longer match."""

    def __init__(self) -> None:
        self.resume = False

    @workflow.signal
    def proceed(self) -> None:
        self.resume = True

    @workflow.run
    async def run(self, url: str) -> list[str]:
        first = await workflow.execute_activity(fetch_page_cached, url,
                                                start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.wait_condition(lambda: self.resume)
        second = await workflow.execute_activity(fetch_page, url + "/2",
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        return [first, second]


@workflow.defn(name="Crawler")
class CrawlerPatched:
    """The same change, guarded by a patch: old runs keep the old activity."""

    def __init__(self) -> None:
        self.resume = False

    @workflow.signal
    def proceed(self) -> None:
        self.resume = True

    @workflow.run
    async def run(self, url: str) -> list[str]:
        if workflow.patched("use-cache"):
            first = await workflow.execute_activity(fetch_page_cached, url,
                                                    start_to_close_timeout=ACTIVITY_TIMEOUT)
        else:
            first = await workflow.execute_activity(fetch_page, url,
                                                    start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.wait_condition(lambda: self.resume)
        second = await workflow.execute_activity(fetch_page, url + "/2",
                                                 start_to_close_timeout=ACTIVITY_TIMEOUT)
        return [first, second]


@workflow.defn(name="Crawler")
class CrawlerWithExtraTimer:
    """Inserts a timer before the first activity: a different command at the same point."""

    def __init__(self) -> None:
        self.resume = False

    @workflow.signal
    def proceed(self) -> None:
        self.resume = True

    @workflow.run
    async def run(self, url: str) -> list[str]:
        await workflow.sleep(timedelta(seconds=1))
        first = await workflow.execute_activity(fetch_page, url,
                                                start_to_close_timeout=ACTIVITY_TIMEOUT)
        await workflow.wait_condition(lambda: self.resume)
        return [first]


_ACTIVITIES = [fetch_page, fetch_page_cached]


async def _v1_history(client: Client, task_queue: str, workflow_id: str) -> WorkflowHistory:
    """A completed history recorded by CrawlerV1, exported to JSON and read back."""
    async with Worker(client, task_queue=task_queue, workflows=[CrawlerV1],
                      activities=_ACTIVITIES):
        handle = await client.start_workflow(CrawlerV1.run, "example.org", id=workflow_id,
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted")
        await handle.signal(CrawlerV1.proceed)
        await handle.result()
    return WorkflowHistory.from_json(workflow_id, (await handle.fetch_history()).to_json())


async def test_replay_unchanged_code_passes(client: Client, task_queue: str) -> None:
    history = await _v1_history(client, task_queue, "replay-same")
    result = await Replayer(workflows=[CrawlerV1]).replay_workflow(history)
    assert result.replay_failure is None


async def test_replay_changed_activity_raises_nondeterminism_naming_both_commands(
        client: Client, task_queue: str) -> None:
    history = await _v1_history(client, task_queue, "replay-changed")
    with pytest.raises(NondeterminismError) as raised:
        await Replayer(workflows=[CrawlerChanged]).replay_workflow(history)
    message = str(raised.value)
    scheduled = next(e for e in history.events if e.event_type == "ActivityTaskScheduled")
    assert f"at event {scheduled.event_id}" in message
    assert "ActivityTaskScheduled(activity #1 'fetch_page')" in message
    assert "ActivityTaskScheduled(activity #1 'fetch_page_cached')" in message
    assert "replay-changed" in message
    assert "workflow.patched" in message


async def test_replay_inserted_timer_raises_nondeterminism(client: Client,
                                                           task_queue: str) -> None:
    history = await _v1_history(client, task_queue, "replay-timer")
    with pytest.raises(NondeterminismError) as raised:
        await Replayer(workflows=[CrawlerWithExtraTimer]).replay_workflow(history)
    message = str(raised.value)
    assert "TimerStarted(#1)" in message
    assert "ActivityTaskScheduled(activity #1 'fetch_page')" in message
    assert re.search(r"at event \d+", message)


async def test_replay_failure_can_be_returned_instead_of_raised(client: Client,
                                                                task_queue: str) -> None:
    history = await _v1_history(client, task_queue, "replay-collect")
    result = await Replayer(workflows=[CrawlerChanged]).replay_workflow(
        history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError)


async def test_replay_patched_code_replays_an_old_history(client: Client,
                                                          task_queue: str) -> None:
    history = await _v1_history(client, task_queue, "replay-patched")
    result = await Replayer(workflows=[CrawlerPatched]).replay_workflow(history)
    assert result.replay_failure is None


async def test_replay_patched_code_takes_the_new_branch_for_new_runs(client: Client,
                                                                     task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CrawlerPatched],
                      activities=_ACTIVITIES):
        handle = await client.start_workflow(CrawlerPatched.run, "example.org", id="new-run",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted")
        await handle.signal(CrawlerPatched.proceed)
        result = await handle.result()
    assert result == ["<cached>example.org</cached>", "<html>example.org/2</html>"]
    assert "MarkerRecorded" in await event_types(handle)


async def test_replay_patched_code_resumes_a_run_started_by_old_code(client: Client,
                                                                     task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CrawlerV1],
                      activities=_ACTIVITIES):
        handle = await client.start_workflow(CrawlerV1.run, "example.org", id="upgraded",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted")
    # A new deployment picks the run up: its first task replays the old history.
    await handle.signal(CrawlerPatched.proceed)
    async with Worker(client, task_queue=task_queue, workflows=[CrawlerPatched],
                      activities=_ACTIVITIES):
        result = await handle.result()
    assert result == ["<html>example.org</html>", "<html>example.org/2</html>"]
    assert "WorkflowTaskFailed" not in await event_types(handle)


async def test_replay_changed_code_on_a_live_worker_fails_the_task(client: Client,
                                                                   task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[CrawlerV1],
                      activities=_ACTIVITIES):
        handle = await client.start_workflow(CrawlerV1.run, "example.org", id="broken-deploy",
                                             task_queue=task_queue)
        await wait_for_event(handle, "ActivityTaskCompleted")
    await handle.signal(CrawlerChanged.proceed)
    async with Worker(client, task_queue=task_queue, workflows=[CrawlerChanged],
                      activities=_ACTIVITIES):
        await wait_for_event(handle, "WorkflowTaskFailed")
    history = await handle.fetch_history()
    failed = next(e for e in history.events if e.event_type == "WorkflowTaskFailed")
    assert "fetch_page_cached" in failed.attributes["failure"]["message"]
