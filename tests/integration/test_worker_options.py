"""temporalio's worker options that Stalwart honours: a plugin's ``configure_worker`` sees them
and what it sets is what the worker does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from stalwart import activity, workflow
from stalwart._engine.activity_worker import _Heartbeater
from stalwart._engine.clock import Clock
from stalwart._store.base import ActivityTaskClaim
from stalwart.client import Client
from stalwart.plugin import SimplePlugin
from stalwart.worker import (
    Interceptor,
    PatchActivationInput,
    StartActivityInput,
    Worker,
    WorkerConfig,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from tests.helpers.waiting import eventually

ASKED: list[tuple[str, str]] = []
EAGER_OFF: list[bool] = []


@activity.defn
def echo(value: str) -> str:
    return value


@workflow.defn
class Patched:
    @workflow.run
    async def run(self) -> list[bool]:
        first = workflow.patched("new-path")
        again = workflow.patched("new-path")  # memoized: the callback is asked once
        other = workflow.patched("other-path")
        await workflow.execute_activity(echo, "x", start_to_close_timeout=timedelta(seconds=5))
        return [first, again, other]


def only_other_path(input: PatchActivationInput) -> bool:
    ASKED.append((input.workflow_info.workflow_id, input.patch_id))
    return input.patch_id == "other-path"


class SeesEager(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        EAGER_OFF.append(input.disable_eager_execution)
        return self.next.start_activity(input)


class SeesEagerInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(SeesEager(outbound))


class WatchEager(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return SeesEagerInbound


class SetsOptions(SimplePlugin):
    def __init__(self) -> None:
        super().__init__("options")
        self.seen_rate: list[float | None] = []

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        # What temporalio plugins do: read the options given, set others.
        config = super().configure_worker(config)
        self.seen_rate.append(config["max_activities_per_second"])
        config["patch_activation_callback"] = only_other_path
        config["disable_eager_activity_execution"] = True
        config["default_heartbeat_throttle_interval"] = timedelta(seconds=7)
        return config


async def test_a_plugin_sets_patch_activation_and_eager_options(
        client: Client, task_queue: str) -> None:
    ASKED.clear()
    EAGER_OFF.clear()
    plugin = SetsOptions()
    worker = Worker(client, task_queue=task_queue, workflows=[Patched], activities=[echo],
                    plugins=[plugin], interceptors=[WatchEager()],
                    max_activities_per_second=None)
    assert plugin.seen_rate == [None]
    assert worker.config(active_config=True)["disable_eager_activity_execution"] is True
    assert worker._activity_worker.heartbeat_throttle == (60.0, 7.0)
    async with worker:
        handle = await client.start_workflow(Patched.run, id="patched", task_queue=task_queue)
        assert await handle.result() == [False, False, True]
        history = await handle.fetch_history()
    assert ASKED == [("patched", "new-path"), ("patched", "other-path")]
    markers = [e.attributes for e in history.events if e.event_type == "MarkerRecorded"]
    assert len(markers) == 1  # only the activated patch is recorded
    assert EAGER_OFF == [True]
    assert worker.is_shutdown


def test_reservations_must_be_positive(client: Client, task_queue: str) -> None:
    with pytest.raises(ValueError, match="disable_eager_activity_execution"):
        Worker(client, task_queue=task_queue, activities=[echo],
               max_eager_activity_reservations_per_workflow_task=0)
    with pytest.raises(ValueError, match="max_activities_per_second must be positive"):
        Worker(client, task_queue=task_queue, activities=[echo], max_activities_per_second=0)


async def test_a_failing_worker_loop_is_fatal(client: Client, task_queue: str) -> None:
    seen: list[BaseException] = []

    async def on_fatal_error(error: BaseException) -> None:
        seen.append(error)

    worker = Worker(client, task_queue=task_queue, activities=[echo],
                    on_fatal_error=on_fatal_error)

    async def broken(stopping: asyncio.Event) -> None:
        raise RuntimeError("the store went away")

    worker._sweeper.run_forever = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="the store went away"):
        await worker.run()
    assert [str(e) for e in seen] == ["the store went away"]
    assert worker.is_shutdown and not worker.is_running


class Lingering(SimplePlugin):
    """A plugin whose code after the worker stops never finishes on its own."""

    def __init__(self) -> None:
        super().__init__("lingering")
        self.cancelled = False

    async def run_worker(self, worker: Worker,
                         next: Callable[[Worker], Awaitable[None]]) -> None:
        await next(worker)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_plugin_code_after_the_worker_is_cancelled_after_the_timeout(
        client: Client, task_queue: str) -> None:
    plugin = Lingering()
    async with Worker(client, task_queue=task_queue, activities=[echo], plugins=[plugin],
                      plugin_shutdown_timeout=timedelta(milliseconds=50)) as worker:
        pass
    assert plugin.cancelled and worker.is_shutdown


class FrozenClock(Clock):
    """Time stands still until the test moves it (from a minute ahead: what the client
    writes at real time is already due for the worker)."""

    def __init__(self) -> None:
        self.at = time.time() + 60

    def now(self) -> float:
        return self.at


STARTED: list[str] = []


@activity.defn
async def record(name: str) -> str:
    STARTED.append(name)
    return name


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self) -> list[str]:
        handles = [workflow.start_activity(record, f"a{i}",
                                           start_to_close_timeout=timedelta(seconds=30))
                   for i in range(3)]
        return [await h for h in handles]


async def test_max_activities_per_second_spaces_this_workers_starts(
        client: Client, task_queue: str) -> None:
    STARTED.clear()
    clock = FrozenClock()
    async with Worker(client, task_queue=task_queue, workflows=[FanOut], activities=[record],
                      clock=clock, max_activities_per_second=1.0):
        handle = await client.start_workflow(FanOut.run, id="fan-out", task_queue=task_queue)
        for count in (1, 2, 3):
            async def started(count: int = count) -> bool:
                return len(STARTED) >= count

            await eventually(started, what=f"{count} activities started")
            # The bucket holds one start; a new one comes only when the clock moves on.
            assert len(STARTED) == count
            clock.at += 1.0
        assert sorted(await handle.result()) == ["a0", "a1", "a2"]


def test_heartbeat_throttle_follows_temporals_rule(client: Client, task_queue: str) -> None:
    worker = Worker(client, task_queue=task_queue, activities=[echo],
                    max_heartbeat_throttle_interval=timedelta(seconds=20),
                    default_heartbeat_throttle_interval=timedelta(seconds=5))
    loop = asyncio.new_event_loop()
    try:
        def interval(heartbeat_timeout: float | None) -> float:
            claim = ActivityTaskClaim(
                run_id="r", seq=1, workflow_id="w", workflow_type="W", activity_type="echo",
                activity_id="1", task_queue=task_queue, input=[],
                options={"heartbeat_timeout": heartbeat_timeout}, attempt=1, scheduled_at=0,
                attempt_scheduled_at=0, started_at=0, heartbeat_details=[])
            return _Heartbeater(worker._activity_worker, claim, loop)._interval

        # 80 % of the heartbeat timeout, at most the maximum; the default without one.
        assert [interval(10.0), interval(100.0), interval(None)] == [8.0, 20.0, 5.0]
    finally:
        loop.close()
