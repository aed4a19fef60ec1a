"""asyncio inside workflow code: tasks, gather, timeouts and cancellation become commands."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from stalwart import workflow
from stalwart._model.events import EventType
from stalwart._runtime.instance import WorkflowTaskError
from stalwart.exceptions import ActivityError

from .harness import Run, activity_completed, activity_failed, decode, timer_fired, types_of

MakeRun = Callable[..., Run]
FIVE_SECONDS = timedelta(seconds=5)


@workflow.defn
class GathersTwo:
    @workflow.run
    async def run(self) -> list[str]:
        results = await asyncio.gather(
            workflow.execute_activity("a", start_to_close_timeout=FIVE_SECONDS),
            workflow.execute_activity("b", start_to_close_timeout=FIVE_SECONDS),
        )
        return list(results)


def test_gather_schedules_both_activities_in_one_task(make_run: MakeRun) -> None:
    run = make_run(GathersTwo)

    commands = run.start()

    assert types_of(commands) == [EventType.ACTIVITY_TASK_SCHEDULED] * 2
    assert [(c.attributes["seq"], c.attributes["activity_type"]) for c in commands] == \
        [(1, "a"), (2, "b")]


def test_gather_results_keep_call_order_whatever_the_completion_order(
        make_run: MakeRun) -> None:
    run = make_run(GathersTwo)
    run.start()

    assert run.step(activity_completed(2, "second")) == []
    commands = run.step(activity_completed(1, "first"))

    assert decode(commands[0].attributes["result"]) == ["first", "second"]


@workflow.defn
class CreatesTasks:
    @workflow.run
    async def run(self) -> list[str]:
        order: list[str] = []

        async def branch(name: str, delay: float) -> str:
            await asyncio.sleep(delay)
            order.append(name)
            return name

        slow = asyncio.create_task(branch("slow", 20))
        fast = asyncio.get_running_loop().create_task(branch("fast", 10))
        await asyncio.wait([slow, fast])
        return order


def test_create_task_timers_fire_in_history_order(make_run: MakeRun) -> None:
    run = make_run(CreatesTasks)

    started = run.start()
    assert [(c.event_type, c.attributes["start_to_fire_timeout"]) for c in started] == [
        (EventType.TIMER_STARTED, 20), (EventType.TIMER_STARTED, 10)]

    assert run.step(timer_fired(2), advance=10) == []
    commands = run.step(timer_fired(1), advance=10)
    assert decode(commands[0].attributes["result"]) == ["fast", "slow"]


@workflow.defn
class WaitsForActivityWithTimeout:
    @workflow.run
    async def run(self) -> str:
        try:
            return await asyncio.wait_for(
                workflow.execute_activity("slow", start_to_close_timeout=FIVE_SECONDS), 30)
        except TimeoutError:
            return "timed out"
        except ActivityError as error:
            # Temporal's outcome too: the timed-out wait cancels the activity (TRY_CANCEL),
            # whose handle resolves with ActivityError before wait_for can turn the
            # cancellation into TimeoutError.
            return f"activity cancelled: {type(error.cause).__name__}"


def test_wait_for_timeout_becomes_timer(make_run: MakeRun) -> None:
    run = make_run(WaitsForActivityWithTimeout)

    commands = run.start()

    # wait_for arms its timeout before the wrapped coroutine first runs.
    assert types_of(commands) == [EventType.TIMER_STARTED, EventType.ACTIVITY_TASK_SCHEDULED]
    assert commands[0].attributes["start_to_fire_timeout"] == 30
    assert commands[1].attributes["activity_type"] == "slow"


def test_wait_for_timer_fired_cancels_activity_and_raises_timeout(make_run: MakeRun) -> None:
    run = make_run(WaitsForActivityWithTimeout)
    run.start()

    commands = run.step(timer_fired(1), advance=30)

    assert types_of(commands) == [EventType.ACTIVITY_TASK_CANCEL_REQUESTED,
                                  EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert commands[0].attributes == {"seq": 1}
    assert decode(commands[1].attributes["result"]) == "activity cancelled: CancelledError"


def test_wait_for_result_in_time_cancels_timer(make_run: MakeRun) -> None:
    run = make_run(WaitsForActivityWithTimeout)
    run.start()

    commands = run.step(activity_completed(1, "made it"))

    assert types_of(commands) == [EventType.TIMER_CANCELED,
                                  EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert commands[0].attributes == {"seq": 1}
    assert decode(commands[1].attributes["result"]) == "made it"


@workflow.defn
class WaitConditionWithTimeout:
    def __init__(self) -> None:
        self.ready = False

    @workflow.signal
    def go(self) -> None:
        self.ready = True

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self.ready, timeout=timedelta(minutes=5))
        except TimeoutError:
            return "gave up"
        return "ready"


def test_wait_condition_timeout_is_a_durable_timer(make_run: MakeRun) -> None:
    run = make_run(WaitConditionWithTimeout)

    started = run.start()
    assert types_of(started) == [EventType.TIMER_STARTED]
    assert started[0].attributes["start_to_fire_timeout"] == 300

    commands = run.step(timer_fired(1), advance=300)
    assert decode(commands[0].attributes["result"]) == "gave up"


@workflow.defn
class CancelsSleep:
    @workflow.run
    async def run(self) -> str:
        sleeper = asyncio.create_task(asyncio.sleep(3600))
        await asyncio.sleep(0)
        sleeper.cancel()
        try:
            await sleeper
        except asyncio.CancelledError:
            return "cancelled"
        return "slept"


def test_cancelling_sleep_task_emits_timer_canceled(make_run: MakeRun) -> None:
    run = make_run(CancelsSleep)

    commands = run.start()

    assert types_of(commands) == [EventType.TIMER_STARTED, EventType.TIMER_CANCELED,
                                  EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert commands[0].attributes["seq"] == commands[1].attributes["seq"] == 1
    assert decode(commands[2].attributes["result"]) == "cancelled"


@workflow.defn
class ZeroSleep:
    @workflow.run
    async def run(self) -> str:
        await asyncio.sleep(0)
        await workflow.sleep(timedelta(0))
        await asyncio.sleep(timedelta(seconds=2))  # type: ignore[call-overload]
        return "done"


def test_sleep_zero_records_nothing_and_asyncio_sleep_accepts_timedelta(
        make_run: MakeRun) -> None:
    run = make_run(ZeroSleep)

    commands = run.start()

    assert types_of(commands) == [EventType.TIMER_STARTED]
    assert commands[0].attributes["start_to_fire_timeout"] == 2.0


@workflow.defn
class DrawsRandomness:
    @workflow.run
    async def run(self) -> list[Any]:
        first = [str(workflow.uuid4()), workflow.random().random(),
                 workflow.random().randint(0, 10**9)]
        await workflow.sleep(1)
        return [*first, str(workflow.uuid4())]


def _draws(make_run: MakeRun, seed: int) -> list[Any]:
    run = make_run(DrawsRandomness, random_seed=seed)
    run.start()
    return list(decode(run.step(timer_fired(1))[0].attributes["result"]))


def test_uuid4_and_random_are_deterministic_per_seed(make_run: MakeRun) -> None:
    first = _draws(make_run, 1234)
    second = _draws(make_run, 1234)
    other = _draws(make_run, 4321)

    assert first == second
    assert first != other
    assert uuid.UUID(first[0]).version == 4
    assert first[0] != first[3]


@workflow.defn
class UsesExecutor:
    @workflow.run
    async def run(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, print, "hi")


@workflow.defn
class UsesToThread:
    @workflow.run
    async def run(self) -> None:
        await asyncio.to_thread(print, "hi")


@workflow.defn
class OpensConnection:
    @workflow.run
    async def run(self) -> None:
        await asyncio.open_connection("127.0.0.1", 9)


@workflow.defn
class StartsSubprocess:
    @workflow.run
    async def run(self) -> None:
        await asyncio.create_subprocess_exec("true")


@workflow.defn
class RunsLoopDirectly:
    @workflow.run
    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loop.run_until_complete(loop.create_future())


@pytest.mark.parametrize(("cls", "what"), [
    (UsesExecutor, "loop.run_in_executor"),
    (UsesToThread, "asyncio.to_thread"),
    (OpensConnection, "network access"),
    (StartsSubprocess, "starting a subprocess"),
    (RunsLoopDirectly, "running the workflow loop directly"),
])
def test_forbidden_loop_operation_fails_task_with_clear_message(
        make_run: MakeRun, cls: type, what: str) -> None:
    run = make_run(cls)

    with pytest.raises(WorkflowTaskError) as caught:
        run.start()

    cause = caught.value.cause
    assert isinstance(cause, RuntimeError)
    assert what in str(cause)
    assert "not allowed in workflow code" in str(cause)
    assert "execute_activity" in str(cause)


@workflow.defn
class ActivityCancelledByHandle:
    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity("long", start_to_close_timeout=FIVE_SECONDS,
                                         cancellation_type=workflow.ActivityCancellationType
                                         .ABANDON)
        await asyncio.sleep(0)
        handle.cancel()
        try:
            await handle
        except ActivityError as error:
            return f"abandoned: {type(error.cause).__name__}"
        return "finished"


def test_abandoned_activity_cancel_records_no_cancel_request(make_run: MakeRun) -> None:
    run = make_run(ActivityCancelledByHandle)

    commands = run.start()

    assert types_of(commands) == [EventType.ACTIVITY_TASK_SCHEDULED,
                                  EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert decode(commands[1].attributes["result"]) == "abandoned: CancelledError"


@workflow.defn
class WaitsForActivityCancellation:
    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity(
            "long", start_to_close_timeout=FIVE_SECONDS,
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        await asyncio.sleep(1)
        handle.cancel()
        try:
            await handle
        except ActivityError as error:
            return f"activity ended: {type(error.__cause__).__name__}"
        return "finished"


def test_wait_cancellation_completed_keeps_handle_pending_until_activity_reports(
        make_run: MakeRun) -> None:
    run = make_run(WaitsForActivityCancellation)
    assert types_of(run.start()) == [EventType.ACTIVITY_TASK_SCHEDULED, EventType.TIMER_STARTED]

    requested = run.step(timer_fired(1))
    assert types_of(requested) == [EventType.ACTIVITY_TASK_CANCEL_REQUESTED]

    canceled = {"message": "Activity cancelled", "activity_failure_info": {"activity_id": "1"},
                "cause": {"message": "Activity cancelled", "canceled_failure_info": {}}}
    commands = run.step(activity_failed(1, canceled, EventType.ACTIVITY_TASK_CANCELED))
    assert decode(commands[0].attributes["result"]) == "activity ended: CancelledError"


@workflow.defn
class TryCancelActivity:
    @workflow.run
    async def run(self) -> str:
        handle = workflow.start_activity("long", start_to_close_timeout=FIVE_SECONDS)
        await asyncio.sleep(1)
        handle.cancel()
        try:
            await handle
        except ActivityError:
            await asyncio.sleep(1)
            return "cancelled"
        return "finished"


def test_try_cancel_resolves_at_once_and_ignores_later_result(make_run: MakeRun) -> None:
    run = make_run(TryCancelActivity)
    run.start()

    requested = run.step(timer_fired(1))
    assert types_of(requested) == [EventType.ACTIVITY_TASK_CANCEL_REQUESTED,
                                   EventType.TIMER_STARTED]

    # The activity finished anyway before it saw the request: the workflow has moved on.
    assert run.step(activity_completed(1, "late")) == []
    commands = run.step(timer_fired(2))
    assert decode(commands[0].attributes["result"]) == "cancelled"
