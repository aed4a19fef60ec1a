"""WorkflowEnvironment with temporalio's shape and time-skipping semantics.

Temporal's time-skipping test server cannot run here (it is downloaded at first use), so these
check the documented behaviour of ``temporalio.testing.WorkflowEnvironment.start_time_skipping``:
time is locked (wall-clock pace) until a started handle's result is awaited or the environment
sleeps; ``sleep`` fires every timer on the way at its own time; ``get_current_time`` is a
coroutine.
"""

from __future__ import annotations

import inspect
import itertools
from datetime import datetime, timedelta

import pytest

from stalwart import workflow
from stalwart.testing import WorkflowEnvironment
from stalwart.worker import Worker
from tests.helpers.waiting import eventually


@workflow.defn
class Ticks:
    def __init__(self) -> None:
        self.times: list[str] = []

    @workflow.run
    async def run(self, count: int) -> list[str]:
        for _ in range(count):
            await workflow.sleep(timedelta(minutes=10))
            self.times.append(workflow.now().isoformat())
        return self.times

    @workflow.query
    def ticks(self) -> list[str]:
        return self.times


def test_environment_methods_have_temporalios_sync_or_async_shape() -> None:
    coroutines = {"start_local", "start_time_skipping", "start_time_skipping_v2",
                  "get_current_time", "sleep", "shutdown",
                  "connect_client", "__aenter__", "__aexit__", "fast_forward",
                  "get_time_skipping_info"}
    for name in coroutines:
        assert inspect.iscoroutinefunction(getattr(WorkflowEnvironment, name)), name
    for name in ("from_client", "auto_time_skipping_disabled", "with_time_skipping_disabled"):
        assert not inspect.iscoroutinefunction(getattr(WorkflowEnvironment, name)), name


async def test_time_is_locked_until_a_result_is_awaited() -> None:
    async with await WorkflowEnvironment.start_time_skipping() as env:
        start = await env.get_current_time()
        assert isinstance(start, datetime) and start.tzinfo is not None
        async with Worker(env.client, task_queue="q", workflows=[Ticks]):
            handle = await env.client.start_workflow(Ticks.run, 3, id="locked", task_queue="q")

            async def timer_started() -> bool:
                return "TimerStarted" in [str(e.event_type) for e in
                                         (await handle.fetch_history()).events]

            await eventually(timer_started, what="the first timer")
            # A query round trip with everything idle: no skipping while time is locked.
            assert await handle.query(Ticks.ticks) == []
            assert await env.get_current_time() - start < timedelta(minutes=10)
            times = await handle.result()
        assert len(times) == 3
        assert await env.get_current_time() - start >= timedelta(minutes=30)


async def test_sleep_fires_each_timer_at_its_own_time() -> None:
    async with await WorkflowEnvironment.start_time_skipping() as env, \
            Worker(env.client, task_queue="q", workflows=[Ticks]):
        handle = await env.client.start_workflow(Ticks.run, 5, id="slept", task_queue="q")
        start = await env.get_current_time()
        await env.sleep(timedelta(minutes=35))
        times = [datetime.fromisoformat(t) for t in await handle.query(Ticks.ticks)]
        assert len(times) == 3
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(timedelta(minutes=10) <= gap < timedelta(minutes=11) for gap in gaps)
        assert await env.get_current_time() - start >= timedelta(minutes=35)
        await handle.terminate()


async def test_auto_time_skipping_disabled_is_a_context_manager() -> None:
    async with await WorkflowEnvironment.start_time_skipping() as env:
        with env.auto_time_skipping_disabled():
            assert env._auto_time_skipping is False
        assert env._auto_time_skipping is True
        other = await env.connect_client()
        assert other.store is env.client.store


async def test_local_environment_time_is_the_system_time() -> None:
    async with await WorkflowEnvironment.start_local() as env:
        assert not env.supports_time_skipping
        before = datetime.now().astimezone()
        assert await env.get_current_time() >= before - timedelta(seconds=1)


async def test_sleep_without_workers_just_advances_time() -> None:
    async with await WorkflowEnvironment.start_time_skipping() as env:
        await env.client.start_workflow(Ticks.run, 1, id="unworked", task_queue="nobody")
        start = await env.get_current_time()
        await env.sleep(3600)
        assert await env.get_current_time() - start >= timedelta(hours=1)


async def test_v2_only_methods_behave_as_on_temporalios_v1_environments() -> None:
    async with await WorkflowEnvironment.start_time_skipping() as env:
        assert not env.supports_time_skipping_v2
        handle = env.client.get_workflow_handle("any")
        with pytest.raises(RuntimeError, match="start_time_skipping_v2"):
            await env.fast_forward(handle, timedelta(minutes=1))
        with pytest.raises(RuntimeError, match="start_time_skipping_v2"):
            await env.get_time_skipping_info(handle)
        with env.with_time_skipping_disabled():
            assert env.supports_time_skipping  # nothing to disable: a no-op
