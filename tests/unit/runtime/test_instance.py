"""WorkflowInstance as a pure state machine: history events in, commands out."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart._model.events import EventType
from stalwart._runtime.instance import WorkflowInstance, WorkflowTaskError
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, ApplicationError

from .harness import (
    START_TIME,
    Run,
    activity_completed,
    activity_failed,
    cancel_requested,
    decode,
    signaled,
    started_event,
    timer_fired,
    types_of,
)

MakeRun = Callable[..., Run]


@activity.defn
async def greet(name: str) -> str:
    return f"hello {name}"


@dataclass
class Order:
    item: str
    quantity: int


@activity.defn(name="price-order")
async def price(order: Order) -> Order:
    return order


@workflow.defn
class GreetThenSleep:
    @workflow.run
    async def run(self, name: str) -> str:
        greeting: str = await workflow.execute_activity(
            greet, name, start_to_close_timeout=timedelta(seconds=5),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(maximum_attempts=3))
        await workflow.sleep(timedelta(minutes=1))
        return greeting + "!"


def test_activate_started_schedules_activity_with_seq_type_and_timeouts(
        make_run: MakeRun) -> None:
    run = make_run(GreetThenSleep, "ada")

    commands = run.start()

    assert types_of(commands) == [EventType.ACTIVITY_TASK_SCHEDULED]
    attrs = commands[0].attributes
    assert attrs["seq"] == 1
    assert attrs["activity_id"] == "1"
    assert attrs["activity_type"] == "greet"
    assert attrs["task_queue"] == "tq"
    assert attrs["start_to_close_timeout"] == 5.0
    assert attrs["heartbeat_timeout"] == 2.0
    assert attrs["schedule_to_close_timeout"] is None
    assert attrs["retry_policy"]["maximum_attempts"] == 3
    assert [decode(p) for p in attrs["input"]] == ["ada"]


def test_activate_activity_completed_then_timer_fired_completes_with_result(
        make_run: MakeRun) -> None:
    run = make_run(GreetThenSleep, "ada")
    run.start()

    after_activity = run.step(activity_completed(1, "hello ada"))
    assert types_of(after_activity) == [EventType.TIMER_STARTED]
    assert after_activity[0].attributes["seq"] == 1
    assert after_activity[0].attributes["start_to_fire_timeout"] == 60

    after_timer = run.step(timer_fired(1), advance=60)
    assert types_of(after_timer) == [EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert decode(after_timer[0].attributes["result"]) == "hello ada!"
    assert run.instance.completed


def test_activate_without_inputs_while_blocked_produces_nothing(make_run: MakeRun) -> None:
    run = make_run(GreetThenSleep, "ada")
    run.start()

    assert run.step() == []


def test_activate_result_for_unknown_seq_is_ignored(make_run: MakeRun) -> None:
    run = make_run(GreetThenSleep, "ada")
    run.start()

    assert run.step(activity_completed(99, "stray")) == []
    assert types_of(run.step(activity_completed(1, "hi"))) == [EventType.TIMER_STARTED]


@workflow.defn(name="orders")
class OrderWorkflow:
    @workflow.run
    async def run(self, order: Order) -> Order:
        priced: Order = await workflow.execute_activity(
            price, order, schedule_to_close_timeout=timedelta(seconds=30))
        assert isinstance(priced, Order)
        return Order(priced.item.upper(), priced.quantity * 2)


def test_activate_decodes_input_and_activity_result_by_type_hints(make_run: MakeRun) -> None:
    run = make_run(OrderWorkflow, Order("tea", 2))

    scheduled = run.start()
    assert scheduled[0].attributes["activity_type"] == "price-order"
    assert scheduled[0].attributes["schedule_to_close_timeout"] == 30.0
    assert decode(scheduled[0].attributes["input"][0], Order) == Order("tea", 2)

    done = run.step(activity_completed(1, Order("tea", 3)))
    assert decode(done[0].attributes["result"], Order) == Order("TEA", 6)


def test_activate_undecodable_input_fails_the_workflow_task(make_run: MakeRun) -> None:
    # As on Temporal: not a workflow failure; the task is retried until the types fit.
    run = make_run(OrderWorkflow, "not an order")

    with pytest.raises(WorkflowTaskError) as caught:
        run.start()

    assert isinstance(caught.value.cause, RuntimeError)
    assert "Failed decoding arguments" in str(caught.value)
    assert "orders" in str(caught.value)
    assert not run.instance.completed


@workflow.defn
class CatchesActivityFailure:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity("flaky", start_to_close_timeout=timedelta(seconds=1))
        except ActivityError as error:
            cause = error.__cause__
            assert isinstance(cause, ApplicationError)
            return f"{cause.type}: {cause.message}"
        return "no error"


def test_activate_activity_failure_raises_activity_error_with_cause(make_run: MakeRun) -> None:
    run = make_run(CatchesActivityFailure)
    run.start()
    failure = {
        "message": "activity failed", "activity_failure_info": {"activity_type": "flaky"},
        "cause": {"message": "boom", "application_failure_info": {
            "type": "Boom", "non_retryable": True, "details": []}},
    }

    commands = run.step(activity_failed(1, failure))

    assert decode(commands[0].attributes["result"]) == "Boom: boom"


@workflow.defn
class FailsWithApplicationError:
    @workflow.run
    async def run(self) -> None:
        raise ApplicationError("no stock", {"sku": 7}, type="OutOfStock", non_retryable=True)


@workflow.defn
class FailsWithPlainError:
    @workflow.run
    async def run(self) -> None:
        raise ValueError("a bug in workflow code")


class DeclaredFailure(Exception):
    pass


@workflow.defn(failure_exception_types=[DeclaredFailure])
class FailsWithDeclaredError:
    @workflow.run
    async def run(self) -> None:
        raise DeclaredFailure("declared")


def test_activate_application_error_fails_workflow(make_run: MakeRun) -> None:
    run = make_run(FailsWithApplicationError)

    commands = run.start()

    assert types_of(commands) == [EventType.WORKFLOW_EXECUTION_FAILED]
    failure = commands[0].attributes["failure"]
    assert failure["message"] == "no stock"
    info = failure["application_failure_info"]
    assert info["type"] == "OutOfStock"
    assert info["non_retryable"] is True
    assert [decode(d) for d in info["details"]] == [{"sku": 7}]
    assert run.instance.completed


def test_activate_plain_exception_raises_workflow_task_error(make_run: MakeRun) -> None:
    run = make_run(FailsWithPlainError)

    with pytest.raises(WorkflowTaskError) as caught:
        run.start()

    assert isinstance(caught.value.cause, ValueError)
    assert "ValueError: a bug in workflow code" in str(caught.value)
    assert "ApplicationError" in str(caught.value)
    assert not run.instance.completed


def test_activate_declared_failure_exception_type_fails_workflow(make_run: MakeRun) -> None:
    run = make_run(FailsWithDeclaredError)

    commands = run.start()

    assert types_of(commands) == [EventType.WORKFLOW_EXECUTION_FAILED]
    assert commands[0].attributes["failure"]["application_failure_info"]["type"] == \
        "DeclaredFailure"


@workflow.defn
class ReturnsUnserializable:
    @workflow.run
    async def run(self) -> object:
        return object()


def test_activate_unserializable_result_raises_workflow_task_error(make_run: MakeRun) -> None:
    run = make_run(ReturnsUnserializable)

    with pytest.raises(WorkflowTaskError, match="cannot be serialized"):
        run.start()


@workflow.defn
class ActivityWithoutTimeout:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(greet, "x")


def test_activate_activity_without_timeout_names_the_missing_option(make_run: MakeRun) -> None:
    run = make_run(ActivityWithoutTimeout)

    with pytest.raises(WorkflowTaskError) as caught:
        run.start()

    assert isinstance(caught.value.cause, ValueError)
    assert "start_to_close_timeout" in str(caught.value.cause)
    assert "'greet'" in str(caught.value.cause)


def test_activate_default_activity_timeout_fills_in(make_run: MakeRun) -> None:
    run = make_run(ActivityWithoutTimeout)
    run.instance.default_activity_timeout = timedelta(seconds=42)

    commands = run.start()

    assert commands[0].attributes["start_to_close_timeout"] == 42.0


@workflow.defn
class ContinuesAsNew:
    @workflow.run
    async def run(self, count: int) -> int:
        if count < 3:
            workflow.continue_as_new(count + 1, execution_timeout=timedelta(hours=1))
        return count


def test_activate_continue_as_new_produces_command_with_new_input(make_run: MakeRun) -> None:
    run = make_run(ContinuesAsNew, 1)

    commands = run.start()

    assert types_of(commands) == [EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW]
    attrs = commands[0].attributes
    assert attrs["workflow_type"] == "ContinuesAsNew"
    assert attrs["task_queue"] == "tq"
    # Stalwart's execution_timeout on continue_as_new is the next run's run timeout.
    assert attrs["run_timeout"] == 3600.0
    assert [decode(p) for p in attrs["input"]] == [2]


@workflow.defn
class CatchesEverything:
    @workflow.run
    async def run(self) -> str:
        try:
            workflow.continue_as_new("again")
        except Exception:
            return "swallowed"
        return "unreachable"


def test_activate_continue_as_new_is_not_swallowed_by_except_exception(
        make_run: MakeRun) -> None:
    run = make_run(CatchesEverything)

    assert types_of(run.start()) == [EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW]


@workflow.defn
class Patched:
    @workflow.run
    async def run(self) -> str:
        first = workflow.patched("new-path")
        again = workflow.patched("new-path")
        return f"{first}/{again}"


def test_activate_patched_records_one_marker_and_takes_new_path(make_run: MakeRun) -> None:
    run = make_run(Patched)

    commands = run.start()

    assert types_of(commands) == [EventType.MARKER_RECORDED,
                                  EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert commands[0].attributes == {"marker_name": "core_patch", "patch_id": "new-path",
                                      "deprecated": False}
    assert decode(commands[1].attributes["result"]) == "True/True"


@workflow.defn
class WithSignals:
    def __init__(self) -> None:
        self.items: list[str] = []
        self.done = False

    @workflow.signal
    def add(self, item: str) -> None:
        self.items.append(item)

    @workflow.signal(name="finish")
    async def finish(self) -> None:
        await asyncio.sleep(0)
        self.done = True

    @workflow.run
    async def run(self) -> list[str]:
        await workflow.wait_condition(lambda: self.done)
        return self.items


def test_activate_signals_run_handlers_and_wake_wait_condition(make_run: MakeRun) -> None:
    run = make_run(WithSignals)
    assert run.start() == []

    assert run.step(signaled("add", "a"), signaled("add", "b")) == []
    commands = run.step(signaled("add", "c"), signaled("finish"))

    assert decode(commands[0].attributes["result"]) == ["a", "b", "c"]


@workflow.defn
class CountsWhileWaiting:
    """Counts signals and updates; returns the count its activity's result wakes it to
    read."""

    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.execute_activity(greet, "x", start_to_close_timeout=timedelta(seconds=5))
        return self.count

    @workflow.signal
    def tick(self) -> None:
        self.count += 1

    @workflow.update
    def bump(self) -> int:
        self.count += 1
        return self.count


def test_activate_applies_signals_before_resolutions_as_temporalio(make_run: MakeRun) -> None:
    # A signal recorded after the activity's result, in the same task: temporalio applies
    # signals first, so the code the result wakes sees the signal's effect.
    run = make_run(CountsWhileWaiting)
    run.start()
    commands = run.step(signaled("tick"), activity_completed(1, "hello x"), signaled("tick"))
    assert decode(commands[0].attributes["result"]) == 2


def test_activate_applies_updates_before_resolutions_as_temporalio(make_run: MakeRun) -> None:
    # An update admitted in the task that brings the activity's result: temporalio applies
    # updates with the signals, before resolutions, so the code the result wakes sees it.
    run = make_run(CountsWhileWaiting)
    run.start()
    commands = run.step(activity_completed(1, "hello x"),
                        updates=[{"update_id": "u1", "name": "bump", "input": []}])
    assert types_of(commands) == [EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED,
                                  EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert decode(commands[-1].attributes["result"]) == 1


def test_activate_signal_in_first_task_is_delivered_before_run(make_run: MakeRun) -> None:
    run = make_run(WithSignals)

    commands = run.step(started_event(WithSignals), signaled("add", "early"),
                        signaled("finish"))

    assert decode(commands[0].attributes["result"]) == ["early"]


def test_activate_signal_with_wrong_argument_type_is_dropped(make_run: MakeRun) -> None:
    run = make_run(WithSignals)
    run.start()

    commands = run.step(signaled("add", {"not": "a string"}), signaled("add", "ok"),
                        signaled("finish"))

    assert decode(commands[0].attributes["result"]) == ["ok"]


@workflow.defn
class FailingSignalHandler:
    @workflow.signal
    def explode(self) -> None:
        raise RuntimeError("handler bug")

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


def test_activate_plain_error_in_signal_handler_fails_the_task(make_run: MakeRun) -> None:
    run = make_run(FailingSignalHandler)
    run.start()

    with pytest.raises(WorkflowTaskError, match="a signal handler raised RuntimeError"):
        run.step(signaled("explode"))


@workflow.defn
class WaitsForever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


def test_activate_cancel_request_cancels_workflow(make_run: MakeRun) -> None:
    run = make_run(WaitsForever)
    run.start()

    commands = run.step(cancel_requested())

    assert types_of(commands) == [EventType.WORKFLOW_EXECUTION_CANCELED]
    assert run.instance.cancel_requested


@workflow.defn
class CleansUpOnCancel:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.sleep(3600)
        except asyncio.CancelledError:
            return "cleaned up"
        return "slept"


def test_activate_cancel_request_can_be_handled_by_workflow_code(make_run: MakeRun) -> None:
    run = make_run(CleansUpOnCancel)
    assert types_of(run.start()) == [EventType.TIMER_STARTED]

    commands = run.step(cancel_requested())

    assert types_of(commands) == [EventType.TIMER_CANCELED,
                                  EventType.WORKFLOW_EXECUTION_COMPLETED]
    assert decode(commands[1].attributes["result"]) == "cleaned up"


@workflow.defn
class ReportsInfo:
    @workflow.run
    async def run(self) -> dict[str, object]:
        first_now = workflow.now().timestamp()
        await workflow.sleep(10)
        info = workflow.info()
        return {
            "workflow_id": info.workflow_id, "run_id": info.run_id,
            "workflow_type": info.workflow_type, "task_queue": info.task_queue,
            "start_time": info.start_time.timestamp(), "first_now": first_now,
            "now": workflow.time(), "history_length": info.get_current_history_length(),
            "replaying": workflow.unsafe.is_replaying(),
        }


def test_activate_info_and_time_come_from_history(make_run: MakeRun) -> None:
    run = make_run(ReportsInfo, workflow_id="order-9")
    run.start()

    commands = run.step(timer_fired(1), advance=10)

    result = decode(commands[0].attributes["result"])
    assert result == {
        "workflow_id": "order-9", "run_id": "run-1", "workflow_type": "ReportsInfo",
        "task_queue": "tq", "start_time": START_TIME, "first_now": START_TIME,
        # As Temporal counts: Started, task 2-4, TimerStarted, TimerFired, task 7-8.
        "now": START_TIME + 10, "history_length": 8, "replaying": False,
    }


@workflow.defn
class KeepsInfo:
    @workflow.run
    async def run(self) -> list[int]:
        kept = copy.deepcopy(workflow.info())
        first = kept.get_current_history_length()
        await workflow.sleep(10)
        return [first, kept.get_current_history_length()]


def test_info_kept_from_an_earlier_task_reads_the_run_now(make_run: MakeRun) -> None:
    # workflow.info() refers to its run: a copy made in the first task reports the history
    # as it is when asked, as temporalio's does.
    run = make_run(KeepsInfo)
    run.start()

    commands = run.step(timer_fired(1), advance=10)

    assert decode(commands[0].attributes["result"]) == [3, 8]


def test_activate_after_evict_is_refused(make_run: MakeRun) -> None:
    run = make_run(GreetThenSleep, "ada")
    run.start()
    run.instance.evict()

    with pytest.raises(RuntimeError, match="evicted"):
        run.step(activity_completed(1, "hi"))


def test_activate_outside_workflow_api_raises_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not in workflow code"):
        workflow.info()


def test_instance_constructed_without_history_has_placeholder_info(
        make_instance: Callable[..., WorkflowInstance]) -> None:
    instance = make_instance(GreetThenSleep, workflow_id="x", run_id="r")

    assert instance.info.workflow_id == "x"
    assert instance.info.run_id == "r"
    assert instance.activate([], now=START_TIME, replaying=False) == []

