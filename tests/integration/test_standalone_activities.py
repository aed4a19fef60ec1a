"""Activities started from a client (temporalio 1.35's ``Client.start_activity``): run by the
same workers as a workflow's activities, recorded durably, listed and counted, on both
stores."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from stalwart import activity
from stalwart.client import (
    ActivityExecutionStatus,
    ActivityFailureError,
    AsyncActivityCancelledError,
    Client,
)
from stalwart.common import ActivityIDConflictPolicy, ActivityIDReusePolicy, RetryPolicy
from stalwart.exceptions import (
    ActivityAlreadyStartedError,
    ApplicationError,
    CancelledError,
    TerminatedError,
    TimeoutError,
)
from stalwart.worker import Worker

FAST_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=10), backoff_coefficient=1.0)
TIMEOUT = timedelta(seconds=30)

# Threading events: each test runs on its own loop, and the worker's loop is the test's.
_released = threading.Event()
_running = threading.Event()


@activity.defn
async def greet(name: str) -> str:
    info = activity.info()
    return (f"hello {name} (in_workflow={info.in_workflow}, "
            f"run={info.activity_run_id is not None}, attempt={info.attempt})")


@activity.defn
async def flaky(times: int) -> int:
    if activity.info().attempt <= times:
        raise RuntimeError(f"attempt {activity.info().attempt} failed")
    return activity.info().attempt


@activity.defn
async def broken() -> None:
    raise ApplicationError("no stock", type="Broken", non_retryable=True)


@activity.defn
async def wait_released() -> str:
    """Heartbeats until released (or cancelled)."""
    _running.set()
    while not _released.is_set():
        activity.heartbeat("waiting")
        await asyncio.sleep(0.02)
    return "released"


ACTIVITIES = [greet, flaky, broken, wait_released]


def _worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, activities=ACTIVITIES)


async def _wait_started(client: Client, activity_id: str) -> None:
    assert await asyncio.to_thread(_running.wait, 30), f"activity {activity_id} never started"
    _running.clear()
    description = await client.get_activity_handle(activity_id).describe()
    assert description.run_state is not None and description.run_state.name in (
        "STARTED", "CANCEL_REQUESTED")


async def test_start_and_result(client: Client, task_queue: str) -> None:
    async with _worker(client, task_queue):
        handle = await client.start_activity(greet, "ada", id="greet-1",
                                             task_queue=task_queue,
                                             start_to_close_timeout=TIMEOUT)
        assert handle.id == "greet-1" and handle.run_id is not None
        assert await handle.result() == "hello ada (in_workflow=False, run=True, attempt=1)"
        assert await client.execute_activity(
            "greet", args=["bob"], id="greet-2", task_queue=task_queue,
            schedule_to_close_timeout=TIMEOUT) == \
            "hello bob (in_workflow=False, run=True, attempt=1)"
        description = await client.get_activity_handle("greet-1").describe(
            include_input=True, include_outcome=True)
    assert description.status == ActivityExecutionStatus.COMPLETED
    assert description.activity_type == "greet" and description.task_queue == task_queue
    assert description.attempt == 1 and description.close_time is not None
    assert await description.input([str]) == ["ada"]
    assert await description.result(str) == \
        "hello ada (in_workflow=False, run=True, attempt=1)"


async def test_retries_then_failure(client: Client, task_queue: str) -> None:
    async with _worker(client, task_queue):
        assert await client.execute_activity(flaky, 2, id="flaky", task_queue=task_queue,
                                             start_to_close_timeout=TIMEOUT,
                                             retry_policy=FAST_RETRY) == 3
        handle = await client.start_activity(broken, id="broken", task_queue=task_queue,
                                             start_to_close_timeout=TIMEOUT)
        with pytest.raises(ActivityFailureError) as raised:
            await handle.result()
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == "Broken"
    assert cause.message == "no stock"
    description = await handle.describe(include_last_failure=True)
    assert description.status == ActivityExecutionStatus.FAILED
    flaky_description = await client.get_activity_handle("flaky").describe()
    assert flaky_description.attempt == 3


async def test_id_conflict_and_reuse_policies(client: Client, task_queue: str) -> None:
    options = dict(task_queue=task_queue, start_to_close_timeout=TIMEOUT)
    first = await client.start_activity(greet, "x", id="dup", **options)  # no worker yet
    with pytest.raises(ActivityAlreadyStartedError) as raised:
        await client.start_activity(greet, "x", id="dup", **options)
    assert raised.value.activity_id == "dup" and raised.value.run_id == first.run_id
    same = await client.start_activity(
        greet, "x", id="dup", id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING,
        **options)
    assert same.run_id == first.run_id
    async with _worker(client, task_queue):
        await first.result()
    with pytest.raises(ActivityAlreadyStartedError):
        await client.start_activity(
            greet, "x", id="dup", id_reuse_policy=ActivityIDReusePolicy.REJECT_DUPLICATE,
            **options)
    with pytest.raises(ActivityAlreadyStartedError):
        await client.start_activity(
            greet, "x", id="dup",
            id_reuse_policy=ActivityIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY, **options)
    again = await client.start_activity(greet, "x", id="dup", **options)
    assert again.run_id != first.run_id
    # A handle without a run follows the latest run of the id.
    assert (await client.get_activity_handle("dup").describe()).activity_run_id == \
        again.run_id


async def test_cancel_running_and_pending(client: Client, task_queue: str) -> None:
    _released.clear()
    _running.clear()
    pending = await client.start_activity(greet, "later", id="pending",
                                          task_queue=task_queue,
                                          start_to_close_timeout=TIMEOUT,
                                          start_delay=timedelta(hours=1))
    await pending.cancel(reason="not needed")
    with pytest.raises(ActivityFailureError) as raised:
        await pending.result()
    assert isinstance(raised.value.cause, CancelledError)
    assert raised.value.cause.message == "Activity canceled"  # Temporal's wording
    async with _worker(client, task_queue):
        running = await client.start_activity(wait_released, id="running",
                                              task_queue=task_queue,
                                              start_to_close_timeout=TIMEOUT,
                                              heartbeat_timeout=TIMEOUT)
        await _wait_started(client, "running")
        await running.cancel(reason="stop")
        with pytest.raises(ActivityFailureError) as raised:
            await running.result()
    assert isinstance(raised.value.cause, CancelledError)
    description = await running.describe(include_heartbeat_details=True)
    assert description.status == ActivityExecutionStatus.CANCELED
    assert description.canceled_reason == "stop"
    assert description.total_heartbeat_count >= 1
    assert await description.heartbeat_details([str]) == ["waiting"]


async def test_terminate_and_timeout(client: Client, task_queue: str) -> None:
    _released.clear()
    _running.clear()
    async with _worker(client, task_queue):
        doomed = await client.start_activity(wait_released, id="doomed",
                                             task_queue=task_queue,
                                             start_to_close_timeout=TIMEOUT)
        await _wait_started(client, "doomed")
        await doomed.terminate(reason="enough")
        with pytest.raises(ActivityFailureError) as raised:
            await doomed.result()
        assert isinstance(raised.value.cause, TerminatedError)
        assert (await doomed.describe()).status == ActivityExecutionStatus.TERMINATED
        slow = await client.start_activity(
            wait_released, id="slow", task_queue=task_queue,
            start_to_close_timeout=timedelta(milliseconds=300),
            retry_policy=RetryPolicy(maximum_attempts=1))
        with pytest.raises(ActivityFailureError) as raised:
            await slow.result()
        assert isinstance(raised.value.cause, TimeoutError)
        assert (await slow.describe()).status == ActivityExecutionStatus.TIMED_OUT
        _released.set()


async def test_list_and_count(client: Client, task_queue: str) -> None:
    async with _worker(client, task_queue):
        for n in range(3):
            await client.execute_activity(greet, str(n), id=f"listed-{n}",
                                          task_queue=task_queue,
                                          start_to_close_timeout=TIMEOUT)
        with pytest.raises(ActivityFailureError):
            await client.execute_activity(broken, id="listed-broken", task_queue=task_queue,
                                          start_to_close_timeout=TIMEOUT)
    assert (await client.count_activities()).count == 4
    assert (await client.count_activities(
        "ActivityType = 'greet' AND ExecutionStatus = 'Completed'")).count == 3
    failed = [a async for a in client.list_activities("ExecutionStatus = 'Failed'")]
    assert [a.activity_id for a in failed] == ["listed-broken"]
    assert failed[0].status == ActivityExecutionStatus.FAILED
    ordered = [a.activity_id async for a in client.list_activities(
        "ActivityId STARTS_WITH 'listed-' ORDER BY ActivityId ASC", page_size=2)]
    assert ordered == ["listed-0", "listed-1", "listed-2", "listed-broken"]
    limited = [a async for a in client.list_activities("", limit=1)]
    assert len(limited) == 1
    grouped = await client.count_activities("GROUP BY ExecutionStatus")
    assert grouped.count == 4
    assert [(g.count, list(g.group_values)) for g in grouped.groups] == [
        (3, ["Completed"]), (1, ["Failed"])]
    assert [a.activity_id async for a in client.list_activities(
        "ExecutionStatus = 'Failed' GROUP BY ExecutionStatus")] == ["listed-broken"]
    # A workflow's fields match nothing here, as on Temporal.
    assert (await client.count_activities("WorkflowId = 'x'")).count == 0
    with pytest.raises(ValueError, match="unknown field 'Nope'"):
        await client.count_activities("Nope = 'x'")
    with pytest.raises(ValueError, match="GROUP BY takes only ExecutionStatus"):
        await client.count_activities("GROUP BY ActivityType")


async def test_bad_input_is_named(client: Client, task_queue: str) -> None:
    with pytest.raises(ValueError, match="start_to_close_timeout or schedule_to_close"):
        await client.start_activity(greet, "x", id="a", task_queue=task_queue)
    with pytest.raises(ValueError, match="id is required"):
        await client.start_activity(greet, "x", id="", task_queue=task_queue,
                                    start_to_close_timeout=TIMEOUT)
    with pytest.raises(ValueError, match="heartbeat_timeout must be a positive timedelta"):
        await client.start_activity(greet, "x", id="a", task_queue=task_queue,
                                    start_to_close_timeout=TIMEOUT,
                                    heartbeat_timeout=timedelta(0))


async def test_data_converter_failure_and_wrapper_methods(client: Client) -> None:
    converter = client.data_converter
    payloads = await converter.encode_wrapper(["a", 2])
    assert await converter.decode_wrapper(payloads, [str, int]) == ["a", 2]
    assert await converter.decode_wrapper(None) == []
    failure: dict[str, object] = {"stale": True}
    await converter.encode_failure(ApplicationError("boom", "detail", type="Kind"), failure)
    assert "stale" not in failure and failure["message"] == "boom"
    error = await converter.decode_failure(failure)
    assert isinstance(error, ApplicationError) and error.type == "Kind"
    assert error.details == ("detail",)


async def test_async_activity_handle_with_context(client: Client) -> None:
    from stalwart.client import ActivitySerializationContext

    handle = client.get_async_activity_handle(workflow_id="wf", activity_id="a")
    context = ActivitySerializationContext(
        namespace="default", activity_id="a", activity_type=None, activity_task_queue=None,
        workflow_id="wf", workflow_type=None, is_local=False)
    # The default converter takes no context: the same handle comes back.
    assert handle.with_context(context) is handle


async def test_workflow_cancel_reason_is_recorded(client: Client, task_queue: str) -> None:
    from stalwart import workflow

    @workflow.defn(name="Idle")
    class Idle:
        @workflow.run
        async def run(self) -> None:
            await workflow.wait_condition(lambda: False)

    handle = await client.start_workflow("Idle", id="idle", task_queue=task_queue)
    await handle.cancel(reason="user asked")
    description = await handle.describe()
    inbox = await client.store.get_inbox(description.run_id)
    assert [(e.event_type, e.attributes.get("cause")) for e in inbox] == [
        ("WorkflowExecutionCancelRequested", "user asked")]


async def test_pause_and_unpause(client: Client, task_queue: str) -> None:
    handle = await client.start_activity(greet, "p", id="paused", task_queue=task_queue,
                                         start_to_close_timeout=TIMEOUT)
    await handle.pause(reason="hold on")
    description = await handle.describe()
    assert description.status == ActivityExecutionStatus.PAUSED
    assert description.run_state is not None and description.run_state.name == "PAUSED"
    # Nothing to claim on its queue while it is paused.
    assert await client.store.claim_activity_tasks(task_queue, "probe", 1e12, 10) == []
    await handle.unpause()
    assert (await handle.describe()).status == ActivityExecutionStatus.RUNNING
    async with _worker(client, task_queue):
        assert await handle.result() == "hello p (in_workflow=False, run=True, attempt=1)"
    with pytest.raises(Exception, match="closed"):
        await handle.pause()
    jittered = await client.start_activity(greet, "j", id="jittered", task_queue=task_queue,
                                           start_to_close_timeout=TIMEOUT)
    await jittered.pause()
    before = datetime.now(UTC)
    await jittered.unpause(jitter=timedelta(hours=1))
    due = (await jittered.describe()).next_attempt_schedule_time
    assert due is not None and before <= due <= datetime.now(UTC) + timedelta(hours=1)


async def test_update_and_restore_options(client: Client, task_queue: str) -> None:
    from stalwart.client import ActivityOptionsKeys

    handle = await client.start_activity(greet, "o", id="options", task_queue="elsewhere",
                                         start_to_close_timeout=TIMEOUT)
    options = await handle.update_options([
        ActivityOptionsKeys.task_queue.value_set(task_queue),
        ActivityOptionsKeys.heartbeat_timeout.value_set(timedelta(seconds=5)),
        ActivityOptionsKeys.retry_policy.value_set(RetryPolicy(maximum_attempts=2)),
    ])
    assert options.task_queue == task_queue
    assert options.heartbeat_timeout == timedelta(seconds=5)
    assert options.retry_policy is not None and options.retry_policy.maximum_attempts == 2
    description = await handle.describe()
    assert description.task_queue == task_queue
    assert description.heartbeat_timeout == timedelta(seconds=5)
    with pytest.raises(ValueError, match="neither start_to_close_timeout"):
        await handle.update_options([ActivityOptionsKeys.start_to_close_timeout.value_unset()])
    with pytest.raises(ValueError, match="more than one update"):
        await handle.update_options([ActivityOptionsKeys.start_delay.value_unset()] * 2)
    restored = await handle.restore_original_options()
    assert restored.task_queue == "elsewhere" and restored.heartbeat_timeout is None
    await handle.update_options([ActivityOptionsKeys.task_queue.value_set(task_queue)])
    async with _worker(client, task_queue):
        assert await handle.result() == "hello o (in_workflow=False, run=True, attempt=1)"


@activity.defn
async def approve() -> str:
    activity.raise_complete_async()


async def test_async_completion_of_a_standalone_activity(client: Client,
                                                         task_queue: str) -> None:
    async with _worker(client, task_queue), \
            Worker(client, task_queue=f"{task_queue}-approve", activities=[approve]):
        handle = await client.start_activity(approve, id="approval",
                                             task_queue=f"{task_queue}-approve",
                                             start_to_close_timeout=TIMEOUT)
        waiter = client.get_async_activity_handle(activity_id="approval")
        for _ in range(3000):  # until the worker handed the attempt over to async completion
            try:
                await waiter.heartbeat("still thinking")
                break
            except AsyncActivityCancelledError:  # not handed over yet: poll the store again
                await asyncio.sleep(0.01)
        await waiter.complete("approved")
        assert await handle.result() == "approved"
    with pytest.raises(AsyncActivityCancelledError, match="no longer pending"):
        await waiter.complete("again")


async def test_racing_starts_of_one_id_start_one_run(db_url: str, task_queue: str) -> None:
    clients = [await Client.connect(db_url) for _ in range(4)]
    try:
        outcomes = await asyncio.gather(*[
            c.start_activity(greet, "r", id="raced", task_queue=task_queue,
                             start_to_close_timeout=TIMEOUT) for c in clients],
            return_exceptions=True)
    finally:
        for c in clients:
            await c.close()
    started = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, ActivityAlreadyStartedError)]
    assert len(started) == 1 and len(refused) == 3, outcomes
    assert {r.run_id for r in refused} == {started[0].run_id}


async def test_retention_deletes_closed_activities(client: Client, task_queue: str) -> None:
    async with _worker(client, task_queue):
        await client.execute_activity(greet, "old", id="old", task_queue=task_queue,
                                      start_to_close_timeout=TIMEOUT)
    await client.start_activity(greet, "open", id="open", task_queue=task_queue,
                                start_to_close_timeout=TIMEOUT)
    assert await client.store.delete_closed_runs(1e12, 100) == 1
    assert [a.activity_id async for a in client.list_activities("")] == ["open"]


class Charge:
    """An activity as a callable class, and one as a method."""

    def __init__(self, fee: int) -> None:
        self.fee = fee

    @activity.defn(name="charge")
    async def __call__(self, amount: int) -> int:
        return amount + self.fee

    @activity.defn(name="refund")
    async def refund(self, amount: int) -> int:
        return -amount


async def test_class_and_method_activities(client: Client, task_queue: str) -> None:
    charge = Charge(fee=2)
    async with Worker(client, task_queue=task_queue, activities=[charge, charge.refund]):
        assert await client.execute_activity_class(
            Charge, 40, id="charge", task_queue=task_queue,
            start_to_close_timeout=TIMEOUT) == 42
        handle = await client.start_activity_class(Charge, 1, id="charge-2",
                                                   task_queue=task_queue,
                                                   start_to_close_timeout=TIMEOUT)
        assert await handle.result() == 3
        assert await client.execute_activity_method(
            Charge.refund, 5, id="refund", task_queue=task_queue,
            start_to_close_timeout=TIMEOUT) == -5
