"""Per-workflow time skipping (temporalio 1.35's V2: ``TimeSkipper``, ``TimeSkippingConfig``,
``WorkflowEnvironment.start_time_skipping_v2``).

What these expect is what ``TimeSkipper`` does against Temporal's dev server 1.32 (with
``frontend.WorkflowTimeSkippingEnabled``): a workflow started with skipping enabled skips past
its timers on its own (no result needs awaiting); one started with ``enabled=False`` still has
time-skipping info, with the server's default limit of 200 skips; ``fast_forward`` moves a
workflow ahead by a duration, returns True when the target is reached and False when the
workflow closes first, and turns skipping off for it afterwards; ``max_session_skip_count``
stops skipping after that many skips. ``env.sleep`` and ``get_current_time()`` without a
handle raise, as in temporalio. (The differential harness does not run these: its workers are
built from the scenario's client, and Stalwart's skipper needs workers built from its own.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from stalwart import workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.testing import TimeSkipper, TimeSkippingConfig, WorkflowEnvironment
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


def _minutes(times: list[str]) -> list[int]:
    start = datetime.fromisoformat(times[0])
    return [round((datetime.fromisoformat(t) - start).total_seconds() / 60) for t in times]


async def test_v2_workflow_skips_past_its_timers_without_an_awaited_result() -> None:
    async with await WorkflowEnvironment.start_time_skipping_v2() as env, \
            Worker(env.client, task_queue="q", workflows=[Ticks]):
        assert env.supports_time_skipping_v2 and not env.supports_time_skipping_v1
        handle = await env.client.start_workflow(Ticks.run, 50, id="long",
                                                 task_queue="q")
        start = await env.get_current_time(handle)

        async def closed() -> bool:
            status = (await handle.describe()).status
            return status == WorkflowExecutionStatus.COMPLETED

        # Nobody awaits the result: the workflow's own settings make its 500 minutes pass.
        # 50 workflow tasks in a row: generous for a machine loaded by other work.
        await eventually(closed, timeout=60, what="the workflow of 50 timers to complete")
        times = await handle.result()
        assert len(times) == 50
        assert await env.get_current_time(handle) - start >= timedelta(minutes=500)
        info = await env.get_time_skipping_info(handle)
        assert info is not None and info.effective_config.enabled
        assert info.current_session_skip_count >= 50


async def test_v2_fast_forward_moves_a_workflow_ahead_and_then_stops_skipping() -> None:
    async with await WorkflowEnvironment.start_time_skipping_v2(
            ts_config=TimeSkippingConfig(enabled=False)) as env, \
            Worker(env.client, task_queue="q", workflows=[Ticks]):
        handle = await env.client.start_workflow(Ticks.run, 5, id="ff", task_queue="q")
        info = await env.get_time_skipping_info(handle)
        assert info is not None and not info.effective_config.enabled
        assert info.effective_config.max_session_skip_count == 200
        start = await env.get_current_time(handle)
        assert await env.fast_forward(handle, timedelta(minutes=25)) is True
        assert _minutes(await handle.query(Ticks.ticks)) == [0, 10]
        assert await env.get_current_time(handle) - start >= timedelta(minutes=25)
        info = await env.get_time_skipping_info(handle)
        assert info is not None and info.fast_forward_info is not None
        assert info.fast_forward_info.has_completed
        assert info.fast_forward_info.fast_forward_duration == timedelta(minutes=25)
        # Reached: skipping is off again, so the third timer waits for real time.
        assert not info.effective_config.enabled
        assert await env.fast_forward(handle, 600.0) is True
        assert len(await handle.query(Ticks.ticks)) == 3


async def test_v2_fast_forward_returns_false_when_the_workflow_closes_first() -> None:
    async with await WorkflowEnvironment.start_time_skipping_v2(
            ts_config=TimeSkippingConfig(enabled=False)) as env, \
            Worker(env.client, task_queue="q", workflows=[Ticks]):
        short = await env.client.start_workflow(Ticks.run, 1, id="short", task_queue="q")
        assert await env.fast_forward(short, timedelta(hours=1)) is False
        assert len(await short.result()) == 1
        unbounded = await env.client.start_workflow(Ticks.run, 3, id="unbounded",
                                                    task_queue="q")
        assert await env.fast_forward(unbounded) is False
        assert len(await unbounded.result()) == 3


async def test_v2_max_session_skip_count_turns_skipping_off() -> None:
    config = TimeSkippingConfig(max_session_skip_count=2)
    async with await WorkflowEnvironment.start_time_skipping_v2(ts_config=config) as env, \
            Worker(env.client, task_queue="q", workflows=[Ticks]):
        handle = await env.client.start_workflow(Ticks.run, 5, id="capped", task_queue="q")

        async def switched_off() -> bool:
            info = await env.get_time_skipping_info(handle)
            return info is not None and not info.effective_config.enabled

        await eventually(switched_off, timeout=60, what="skipping to turn itself off")
        assert len(await handle.query(Ticks.ticks)) == 2


async def test_v2_workflows_started_with_skipping_disabled_get_no_settings() -> None:
    async with await WorkflowEnvironment.start_time_skipping_v2() as env:
        with env.with_time_skipping_disabled():
            handle = await env.client.start_workflow(Ticks.run, 1, id="plain", task_queue="q")
        assert await env.get_time_skipping_info(handle) is None


async def test_v2_environment_refuses_v1_calls_with_temporalios_errors() -> None:
    async with await WorkflowEnvironment.start_time_skipping_v2() as env:
        with pytest.raises(RuntimeError, match="fast_forward"):
            await env.sleep(1)
        with pytest.raises(RuntimeError, match="handle"):
            await env.get_current_time()
        with pytest.raises(RuntimeError, match="with_time_skipping_disabled"), \
                env.auto_time_skipping_disabled():
            pass
    async with await WorkflowEnvironment.start_local() as local:
        handle = local.client.get_workflow_handle("any")
        with pytest.raises(RuntimeError, match="start_time_skipping_v2"):
            await local.fast_forward(handle, 1)
        with pytest.raises(RuntimeError, match="start_time_skipping_v2"):
            await local.get_time_skipping_info(handle)


async def test_time_skipper_wraps_a_client_and_leaves_the_original_alone(tmp_path: object
                                                                        ) -> None:
    client = await Client.connect(f"sqlite:///{tmp_path}/skipper.db")
    try:
        skipper = TimeSkipper(client)
        assert skipper.client is not client and skipper.config == TimeSkippingConfig()
        assert not client._clock.skips and skipper.client._clock.skips
        async with Worker(skipper.client, task_queue="q", workflows=[Ticks]):
            assert len(await skipper.client.execute_workflow(
                Ticks.run, 30, id="wrapped", task_queue="q")) == 30
        await skipper._stop()
    finally:
        await client.close()


def test_time_skipping_config_refuses_a_fast_forward_with_skipping_off() -> None:
    from stalwart._time_skipper import FastForwardConfig

    with pytest.raises(ValueError, match="enabled is False"):
        TimeSkippingConfig(enabled=False,
                           fast_forward_config=FastForwardConfig("x", timedelta(1)))
    with pytest.raises(ValueError, match="max_session_skip_count"):
        TimeSkippingConfig(max_session_skip_count=-1)
