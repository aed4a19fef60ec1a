"""Plain-function activities in a real ``ProcessPoolExecutor``: results, heartbeats,
cancellation and failures cross the process boundary as temporalio's do (through a
``SharedStateManager`` made from a real ``multiprocessing.Manager``)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import multiprocessing.managers
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    RetryState,
    TimeoutError,
)
from stalwart.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    Interceptor,
    SharedStateManager,
    Worker,
)
from tests.helpers.waiting import eventually

from ._support import event_types, fast_retry

TIMEOUT = timedelta(seconds=30)


# -- activities: top level, so that they pickle -----------------------------------------------
@activity.defn
def inspects(n: int) -> dict[str, Any]:
    info = activity.info()
    converter = activity.payload_converter()
    refused = []
    for name, call in (("metric_meter", activity.metric_meter), ("client", activity.client)):
        try:
            call()
        except RuntimeError:
            refused.append(name)
    return {"square": n * n, "pid": os.getpid(), "type": info.activity_type,
            "workflow_id": info.workflow_id, "attempt": info.attempt,
            "round_trip": converter.from_payloads(converter.to_payloads([n]))[0],
            "refused": refused, "cancelled": activity.is_cancelled(),
            "shutdown": activity.is_worker_shutdown()}


@activity.defn
def counts_then_fails(n: int) -> list[Any]:
    info = activity.info()
    if info.attempt == 1:
        for i in range(n):
            activity.heartbeat("step", i)
        raise ApplicationError("fail after heartbeating, to be retried")
    return list(info.heartbeat_details)


@activity.defn
def outlives_its_heartbeat_timeout(beats: int) -> int:
    # Runs well past its heartbeat timeout (paced by waits on the cancellation event, which
    # stays unset): only heartbeats that reach the store keep it alive.
    for i in range(beats):
        activity.heartbeat(i)
        activity.wait_for_cancelled_sync(0.05)
    return beats


def _wait_for_file(path: Path) -> None:
    # Waits on the cancellation event (which stays unset here), not a bare sleep.
    for _ in range(1500):
        if path.exists():
            return
        activity.wait_for_cancelled_sync(0.02)
    raise AssertionError(f"{path} never appeared")


def _heartbeat_until_cancelled(directory: Path) -> None:
    for i in range(600):
        activity.heartbeat("waiting", i)
        if activity.is_cancelled():
            (directory / "saw-cancel").write_text("cancelled")
            raise CancelledError("the activity saw its cancellation")
        activity.wait_for_cancelled_sync(0.05)
    raise AssertionError("the cancellation never reached the activity")


@activity.defn
def runs_until_cancelled(directory: str) -> str:
    (Path(directory) / "started").write_text(str(os.getpid()))
    _heartbeat_until_cancelled(Path(directory))
    return "not cancelled"


@activity.defn
def stops_heartbeating(directory: str) -> str:
    activity.heartbeat("page", 3)
    (Path(directory) / "started").touch()
    # Silent past the heartbeat timeout, until the test has seen the timeout.
    _wait_for_file(Path(directory) / "go")
    _heartbeat_until_cancelled(Path(directory))
    return "not cancelled"


@activity.defn
def refuses(n: int) -> int:
    raise ApplicationError("no crunching today", {"n": n}, type="CrunchError",
                           non_retryable=True)


# -- workflows ------------------------------------------------------------------------------
@workflow.defn
class InspectWorkflow:
    @workflow.run
    async def run(self, n: int) -> dict[str, Any]:
        return await workflow.execute_activity(inspects, n, start_to_close_timeout=TIMEOUT)


@workflow.defn
class RetryWorkflow:
    @workflow.run
    async def run(self, n: int) -> list[Any]:
        return await workflow.execute_activity(
            counts_then_fails, n, start_to_close_timeout=TIMEOUT,
            heartbeat_timeout=timedelta(seconds=10), retry_policy=fast_retry())


@workflow.defn
class KeptAliveWorkflow:
    @workflow.run
    async def run(self, beats: int) -> int:
        return await workflow.execute_activity(
            outlives_its_heartbeat_timeout, beats, start_to_close_timeout=TIMEOUT,
            heartbeat_timeout=timedelta(seconds=1), retry_policy=RetryPolicy(maximum_attempts=1))


@workflow.defn
class CancelsItsActivityWorkflow:
    def __init__(self) -> None:
        self.stop = False

    @workflow.signal
    def stop_it(self) -> None:
        self.stop = True

    @workflow.run
    async def run(self, directory: str) -> list[Any]:
        handle = workflow.start_activity(
            runs_until_cancelled, directory, start_to_close_timeout=TIMEOUT,
            heartbeat_timeout=timedelta(seconds=0.5),
            cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED)
        await workflow.wait_condition(lambda: self.stop)
        handle.cancel()
        try:
            return [await handle]
        except ActivityError as error:
            return [type(error.cause).__name__, error.retry_state.name
                    if error.retry_state is not None else None]


@workflow.defn
class HeartbeatTimeoutWorkflow:
    @workflow.run
    async def run(self, directory: str) -> list[Any]:
        try:
            return [await workflow.execute_activity(
                stops_heartbeating, directory, start_to_close_timeout=TIMEOUT,
                heartbeat_timeout=timedelta(seconds=0.5),
                retry_policy=RetryPolicy(maximum_attempts=1))]
        except ActivityError as error:
            cause = error.cause
            assert isinstance(cause, TimeoutError) and cause.type is not None
            return [type(cause).__name__, cause.type.name, list(cause.last_heartbeat_details)]


@workflow.defn
class FailureWorkflow:
    @workflow.run
    async def run(self, n: int) -> list[Any]:
        try:
            await workflow.execute_activity(refuses, n, start_to_close_timeout=TIMEOUT)
        except ActivityError as error:
            cause = error.cause
            assert isinstance(cause, ApplicationError)
            remote = cause.cause
            return [type(cause).__name__, cause.message, cause.type, cause.non_retryable,
                    list(cause.details), error.retry_state.name
                    if error.retry_state is not None else None,
                    [type(remote).__name__, getattr(remote, "type", None),
                     "in refuses" in str(remote)]]
        return ["completed"]


# -- an interceptor in the worker's process -------------------------------------------------
class _RecordingOutbound(ActivityOutboundInterceptor):
    def __init__(self, next: ActivityOutboundInterceptor, seen: list[Any]) -> None:
        super().__init__(next)
        self._seen = seen

    def heartbeat(self, *details: Any) -> None:
        # Runs in the worker, in the activity's context (activity.info() works here).
        self._seen.append([activity.info().activity_type, os.getpid(), *details])
        self.next.heartbeat(*details)


class _RecordingInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, seen: list[Any]) -> None:
        super().__init__(next)
        self._seen = seen

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        super().init(_RecordingOutbound(outbound, self._seen))


class RecordsHeartbeats(Interceptor):
    def __init__(self) -> None:
        self.seen: list[Any] = []

    def intercept_activity(self, next: ActivityInboundInterceptor
                           ) -> ActivityInboundInterceptor:
        return _RecordingInbound(next, self.seen)


# -- fixtures: one manager and one pool for the module (starting processes is the slow part)
@pytest.fixture(scope="module")
def sync_manager() -> Iterator[multiprocessing.managers.SyncManager]:
    with multiprocessing.get_context("spawn").Manager() as manager:
        yield manager


@pytest.fixture(scope="module")
def shared(sync_manager: multiprocessing.managers.SyncManager) -> SharedStateManager:
    return SharedStateManager.create_from_multiprocessing(sync_manager)


@pytest.fixture(scope="module")
def pool() -> Iterator[concurrent.futures.ProcessPoolExecutor]:
    with concurrent.futures.ProcessPoolExecutor(
            2, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


def _worker(client: Client, task_queue: str, workflows: list[type], activities: list[Any],
            pool: concurrent.futures.Executor, shared: SharedStateManager,
            interceptors: tuple[Interceptor, ...] = ()) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=workflows, activities=activities,
                  activity_executor=pool, shared_state_manager=shared,
                  interceptors=interceptors)


# -- tests ----------------------------------------------------------------------------------
async def test_process_pool_activity_returns_its_result_from_another_process(
        client: Client, task_queue: str, pool: concurrent.futures.ProcessPoolExecutor,
        shared: SharedStateManager) -> None:
    async with _worker(client, task_queue, [InspectWorkflow], [inspects], pool, shared):
        result = await client.execute_workflow(InspectWorkflow.run, 7, id="pp-result",
                                               task_queue=task_queue)
    assert result.pop("pid") != os.getpid()
    assert result == {"square": 49, "type": "inspects", "workflow_id": "pp-result",
                      "attempt": 1, "round_trip": 7, "refused": ["metric_meter", "client"],
                      "cancelled": False, "shutdown": False}


async def test_process_pool_heartbeats_reach_the_store(
        client: Client, task_queue: str, pool: concurrent.futures.ProcessPoolExecutor,
        shared: SharedStateManager) -> None:
    recorder = RecordsHeartbeats()
    async with _worker(client, task_queue, [RetryWorkflow], [counts_then_fails], pool,
                       shared, (recorder,)):
        # The last heartbeat of the failed attempt is what the retry starts from.
        result = await client.execute_workflow(RetryWorkflow.run, 5, id="pp-heartbeat",
                                               task_queue=task_queue)
    assert result == ["step", 4]
    # Every heartbeat, in order, went through the worker's outbound interceptors (the store
    # write after them is throttled).
    assert recorder.seen == [["counts_then_fails", os.getpid(), "step", i] for i in range(5)]


async def test_process_pool_heartbeats_keep_the_activity_alive(
        client: Client, task_queue: str, pool: concurrent.futures.ProcessPoolExecutor,
        shared: SharedStateManager) -> None:
    async with _worker(client, task_queue, [KeptAliveWorkflow],
                       [outlives_its_heartbeat_timeout], pool, shared):
        result = await client.execute_workflow(KeptAliveWorkflow.run, 30, id="pp-alive",
                                               task_queue=task_queue)
    assert result == 30


async def test_process_pool_activity_sees_its_workflow_cancel_it(
        client: Client, task_queue: str, pool: concurrent.futures.ProcessPoolExecutor,
        shared: SharedStateManager, tmp_path: Path) -> None:
    async with _worker(client, task_queue, [CancelsItsActivityWorkflow],
                       [runs_until_cancelled], pool, shared):
        handle = await client.start_workflow(CancelsItsActivityWorkflow.run, str(tmp_path),
                                             id="pp-cancel", task_queue=task_queue)

        async def started() -> bool:
            return (tmp_path / "started").exists()

        await eventually(started, what="the activity to start in the pool")
        await handle.signal(CancelsItsActivityWorkflow.stop_it)
        assert await handle.result() == ["CancelledError", "CANCEL_REQUESTED"]
    assert (tmp_path / "saw-cancel").read_text() == "cancelled"
    assert "ActivityTaskCanceled" in await event_types(handle)


async def test_process_pool_heartbeat_timeout_records_details_and_cancels_the_activity(
        client: Client, task_queue: str, pool: concurrent.futures.ProcessPoolExecutor,
        shared: SharedStateManager, tmp_path: Path) -> None:
    async with _worker(client, task_queue, [HeartbeatTimeoutWorkflow], [stops_heartbeating],
                       pool, shared):
        result = await client.execute_workflow(HeartbeatTimeoutWorkflow.run, str(tmp_path),
                                               id="pp-heartbeat-timeout",
                                               task_queue=task_queue)
        assert result == ["TimeoutError", "HEARTBEAT", ["page", 3]]
        # The timed-out attempt's next heartbeat tells it it is no longer wanted.
        (tmp_path / "go").touch()

        async def saw_cancel() -> bool:
            return (tmp_path / "saw-cancel").exists()

        await eventually(saw_cancel, what="the timed-out activity to see its cancellation")


async def test_process_pool_exception_becomes_the_activity_error_cause(
        client: Client, task_queue: str, pool: concurrent.futures.ProcessPoolExecutor,
        shared: SharedStateManager) -> None:
    async with _worker(client, task_queue, [FailureWorkflow], [refuses], pool, shared):
        result = await client.execute_workflow(FailureWorkflow.run, 3, id="pp-failure",
                                               task_queue=task_queue)
    assert result == ["ApplicationError", "no crunching today", "CrunchError", True,
                      [{"n": 3}], RetryState.NON_RETRYABLE_FAILURE.name,
                      # The child's traceback, as concurrent.futures chains it (temporalio's
                      # failure converter carries it along the same way).
                      ["ApplicationError", "_RemoteTraceback", True]]


async def test_process_pool_without_shared_state_manager_is_refused(
        client: Client, task_queue: str, shared: SharedStateManager) -> None:
    executor = concurrent.futures.ProcessPoolExecutor(1)
    try:
        with pytest.raises(ValueError, match=r"activity_executor=.*ProcessPoolExecutor.* "
                           r"'inspects'.*shared_state_manager=SharedStateManager\."
                           r"create_from_multiprocessing"):
            Worker(client, task_queue=task_queue, activities=[inspects],
                   activity_executor=executor)

        def local_activity() -> None: ...

        with pytest.raises(TypeError, match=r"cannot be pickled.*top level"):
            Worker(client, task_queue=task_queue,
                   activities=[activity.defn(name="local")(local_activity)],
                   activity_executor=executor,
                   shared_state_manager=shared)
        with pytest.raises(TypeError, match=r"shared_state_manager=.*not a SharedStateManager"):
            Worker(client, task_queue=task_queue, activities=[inspects],
                   activity_executor=executor, shared_state_manager=object())
    finally:
        executor.shutdown()


@activity.defn
def waits_for_worker_shutdown(directory: str) -> str:
    (Path(directory) / "started").touch()
    activity.wait_for_worker_shutdown_sync(30)
    (Path(directory) / "shutdown-seen").write_text(str(activity.is_worker_shutdown()))
    return "finished within the grace period"


@workflow.defn
class ShutdownWorkflow:
    @workflow.run
    async def run(self, directory: str) -> str:
        return await workflow.execute_activity(waits_for_worker_shutdown, directory,
                                               start_to_close_timeout=TIMEOUT)


async def test_process_pool_activity_sees_the_worker_shut_down(
        client: Client, task_queue: str, pool: concurrent.futures.ProcessPoolExecutor,
        shared: SharedStateManager, tmp_path: Path) -> None:
    worker = Worker(client, task_queue=task_queue, workflows=[ShutdownWorkflow],
                    activities=[waits_for_worker_shutdown], activity_executor=pool,
                    shared_state_manager=shared,
                    graceful_shutdown_timeout=timedelta(seconds=20))
    async with worker:
        handle = await client.start_workflow(ShutdownWorkflow.run, str(tmp_path),
                                             id="pp-shutdown", task_queue=task_queue)

        async def started() -> bool:
            return (tmp_path / "started").exists()

        await eventually(started, what="the activity to start in the pool")
    # The activity finished inside the grace period: its result is recorded.
    assert (tmp_path / "shutdown-seen").read_text() == "True"
    assert "ActivityTaskCompleted" in await event_types(handle)
