"""Test environments (mirrors ``temporalio.testing``).

``WorkflowEnvironment.start_local()`` gives a client on a temporary SQLite store;
``start_time_skipping()`` does the same with a clock that jumps to the next timer or timeout
whenever every workflow is waiting on time, so a workflow that sleeps for a week finishes in
milliseconds; ``start_time_skipping_v2()`` lets each started workflow drive the skipping
(temporalio's V2, through a :class:`TimeSkipper`). ``ActivityEnvironment`` runs one activity
function outside any worker, capturing heartbeats and letting a test inject cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from ._engine.activity_context import (
    ActivityCancellationDetails,
    ActivityContext,
    Info,
    reset_current,
    set_current,
)
from ._engine.clock import SkippingClock
from ._time_skipper import (
    TimeSkipper,
    TimeSkippingConfig,
    TimeSkippingInfo,
    any_worker_running,
    settle,
    wake_sweepers,
)
from .client import Client, OutboundInterceptor, StartWorkflowInput, WorkflowHandle
from .converter import DataConverter

__all__ = ["ActivityEnvironment", "TimeSkipper", "TimeSkippingConfig", "WorkflowEnvironment"]


class WorkflowEnvironment:
    """A store, a client, and (for time skipping) a clock the environment controls.

    Time skipping follows temporalio's time-skipping environment: time is *locked* (it runs at
    wall-clock pace) except while a ``result()`` of a handle this environment's client started
    is awaited (``execute_workflow`` included) or :meth:`sleep` runs; then, whenever every
    worker is idle, the clock jumps to the next timer or timeout.
    """

    def __init__(self, client: Client, *, directory: str | None = None,
                 clock: SkippingClock | None = None,
                 time_skipper: TimeSkipper | None = None) -> None:
        self._client = time_skipper.client if time_skipper is not None else client
        self._closing_client = client
        self._directory = directory
        self._clock = clock
        self._ts_skipper = time_skipper
        self._skipper: asyncio.Task[None] | None = None
        self._auto_time_skipping = True
        self._unlocked = 0
        self._unlocked_changed = asyncio.Event()
        if clock is not None:
            client._outbound = _TimeSkippingOutbound(client._outbound, self)
            self._skipper = asyncio.get_running_loop().create_task(self._skip_forever())

    @classmethod
    async def start_local(cls, *, namespace: str = "default",
                          data_converter: DataConverter = DataConverter.default,
                          interceptors: Sequence[Any] = (), identity: str | None = None,
                          **_: Any) -> WorkflowEnvironment:
        """An environment on a fresh SQLite file in a temporary directory, in real time.
        temporalio's dev-server options (``ip``, ``port``, ``ui``, ``dev_server_*`` …) are
        accepted and ignored: there is no server to start."""
        directory = tempfile.mkdtemp(prefix="stalwart-test-")
        client = await Client.connect(f"sqlite:///{Path(directory) / 'stalwart.db'}",
                                      namespace=namespace, data_converter=data_converter,
                                      interceptors=interceptors, identity=identity)
        return cls(client, directory=directory)

    @classmethod
    async def start_time_skipping(cls, *, data_converter: DataConverter = DataConverter.default,
                                  interceptors: Sequence[Any] = (), identity: str | None = None,
                                  **_: Any) -> WorkflowEnvironment:
        """Like :meth:`start_local`, but time skips ahead (see the class docstring)."""
        directory = tempfile.mkdtemp(prefix="stalwart-test-")
        client = await Client.connect(f"sqlite:///{Path(directory) / 'stalwart.db'}",
                                      data_converter=data_converter,
                                      interceptors=interceptors, identity=identity)
        clock = SkippingClock()
        client._clock = clock
        return cls(client, directory=directory, clock=clock)

    @classmethod
    async def start_time_skipping_v2(cls, *, ts_config: TimeSkippingConfig = TimeSkippingConfig(),
                                     data_converter: DataConverter = DataConverter.default,
                                     interceptors: Sequence[Any] = (),
                                     identity: str | None = None, namespace: str = "default",
                                     **_: Any) -> WorkflowEnvironment:
        """Like :meth:`start_local`, with the client wrapped in a :class:`TimeSkipper`: every
        workflow :attr:`client` starts gets ``ts_config`` and skips time on its own (no result
        needs awaiting); :meth:`fast_forward` moves a running workflow ahead. Stalwart keeps one
        clock for the environment, not one per workflow (see docs/testing.md)."""
        directory = tempfile.mkdtemp(prefix="stalwart-test-")
        client = await Client.connect(f"sqlite:///{Path(directory) / 'stalwart.db'}",
                                      namespace=namespace, data_converter=data_converter,
                                      interceptors=interceptors, identity=identity)
        client._clock = SkippingClock()
        return cls(client, directory=directory,
                   time_skipper=TimeSkipper(client, config=ts_config))

    @classmethod
    def from_client(cls, client: Client) -> WorkflowEnvironment:
        """An environment around an existing client (the caller owns its store)."""
        return cls(client)

    @property
    def client(self) -> Client:
        return self._client

    async def connect_client(self, **kwargs: Any) -> Client:
        """Another client on this environment's store (``Client.connect`` keyword arguments
        override the environment's namespace and data converter)."""
        options: dict[str, Any] = {"namespace": self._client.namespace,
                                   "data_converter": self._client.data_converter}
        options.update(kwargs)
        client = Client(self._client.store, **options)
        client._clock = self._client._clock
        if self._clock is not None:
            client._outbound = _TimeSkippingOutbound(client._outbound, self)
        return client

    @property
    def supports_time_skipping(self) -> bool:
        return self._clock is not None or self._ts_skipper is not None

    @property
    def supports_time_skipping_v1(self) -> bool:
        return self._clock is not None

    @property
    def supports_time_skipping_v2(self) -> bool:
        return self._ts_skipper is not None

    async def get_current_time(self, handle: WorkflowHandle[Any, Any] | None = None) -> datetime:
        """The environment's time: the skipping clock's, else the system's. On a V2
        environment a ``handle`` is required, as in temporalio (the workflow's time)."""
        if self._ts_skipper is not None:
            if handle is None:
                raise RuntimeError("env.get_current_time requires a workflow handle in "
                                   "time-skipping V2 environments; each workflow has its own "
                                   "virtual clock")
            return await self._ts_skipper.get_current_time(handle)
        return datetime.fromtimestamp(self._client._clock.now(), UTC)

    async def sleep(self, duration: timedelta | float) -> None:
        """Let ``duration`` pass: in real time, or (time skipping) at once, firing every
        timer and timeout on the way at its own time."""
        if self._ts_skipper is not None:
            raise RuntimeError("env.sleep is not supported in time-skipping V2 environments; "
                               "use env.fast_forward(handle, duration) on a specific workflow")
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
        if self._clock is None:
            await asyncio.sleep(seconds)
            return
        clock = self._clock
        target = clock.now() + seconds
        while True:
            await self._settle()
            due = await self._client.store.next_due_time(clock.now())
            if due is None or due > target:
                break
            if due > clock.now():
                clock.advance_to(due + 0.001)
            self._wake_sweepers()
        clock.advance_to(target)
        self._wake_sweepers()
        await self._settle()

    @contextlib.contextmanager
    def auto_time_skipping_disabled(self) -> Iterator[None]:
        """Within the block, awaiting a result does not skip time (it runs at wall-clock
        pace); :meth:`sleep` still does. Unsupported on V2 environments, as in temporalio."""
        if self._ts_skipper is not None:
            raise RuntimeError("env.auto_time_skipping_disabled is not supported in "
                               "time-skipping V2 environments; use "
                               "env.with_time_skipping_disabled() to suspend time-skipping "
                               "config stamping on newly-started workflows")
        previous = self._auto_time_skipping
        self._auto_time_skipping = False
        try:
            yield
        finally:
            self._auto_time_skipping = previous

    async def fast_forward(self, handle: WorkflowHandle[Any, Any],
                           duration: timedelta | float | None = None, /) -> bool:
        """Move the workflow's time ahead by ``duration`` and wait until it has (V2 only; see
        :meth:`TimeSkipper.fast_forward`).

        Raises:
            RuntimeError: not a :meth:`start_time_skipping_v2` environment.
        """
        if self._ts_skipper is None:
            raise RuntimeError("fast_forward requires a time-skipping environment; use "
                               "WorkflowEnvironment.start_time_skipping_v2()")
        return await self._ts_skipper.fast_forward(handle, duration)

    async def get_time_skipping_info(self, handle: WorkflowHandle[Any, Any]
                                     ) -> TimeSkippingInfo | None:
        """The workflow's time-skipping state, ``None`` if never enabled (V2 only).

        Raises:
            RuntimeError: not a :meth:`start_time_skipping_v2` environment.
        """
        if self._ts_skipper is None:
            raise RuntimeError("get_time_skipping_info requires a V2 time-skipping "
                               "environment; use WorkflowEnvironment.start_time_skipping_v2()")
        return await self._ts_skipper.get_time_skipping_info(handle)

    @contextlib.contextmanager
    def with_time_skipping_disabled(self) -> Iterator[None]:
        """Workflows started inside the block get no time-skipping settings (V2); a no-op on
        other environments, as in temporalio."""
        if self._ts_skipper is None:
            yield
            return
        with self._ts_skipper.with_time_skipping_disabled():
            yield

    @contextlib.asynccontextmanager
    async def time_skipping_unlocked(self) -> AsyncIterator[None]:
        """Skip time while the block runs (what awaiting a result does)."""
        if self._clock is None or not self._auto_time_skipping:
            yield
            return
        async with self._unlock():
            yield

    @contextlib.asynccontextmanager
    async def _unlock(self) -> AsyncIterator[None]:
        self._unlocked += 1
        self._unlocked_changed.set()
        try:
            yield
        finally:
            self._unlocked -= 1

    def _wake_sweepers(self) -> None:
        wake_sweepers(self._client)

    async def _settle(self) -> None:
        await settle(self._client)

    async def _skip_forever(self) -> None:
        assert self._clock is not None
        clock = self._clock
        while True:
            if self._unlocked <= 0:
                self._unlocked_changed.clear()
                await self._unlocked_changed.wait()
                continue
            if not any_worker_running(self._client):
                # Nothing would run what skipped time makes due: wait for a worker.
                await asyncio.sleep(0.005)
                continue
            await self._settle()
            if self._unlocked <= 0:
                continue
            due = await self._client.store.next_due_time(clock.now())
            if due is None or due <= clock.now():
                continue
            clock.advance_to(due + 0.001)
            self._wake_sweepers()

    async def shutdown(self) -> None:
        if self._skipper is not None:
            self._skipper.cancel()
            await asyncio.gather(self._skipper, return_exceptions=True)
        if self._ts_skipper is not None:
            await self._ts_skipper._stop()
        for worker in list(self._client._workers):
            if worker.is_running:
                await worker.shutdown()
        if self._directory is not None:
            await self._closing_client.close()
            shutil.rmtree(self._directory, ignore_errors=True)

    async def __aenter__(self) -> WorkflowEnvironment:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.shutdown()


class _TimeSkippingOutbound(OutboundInterceptor):
    """Hands out handles whose ``result()`` unlocks time skipping while it waits."""

    def __init__(self, next: OutboundInterceptor, env: WorkflowEnvironment) -> None:
        super().__init__(next)
        self._env = env

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        return _TimeSkippingWorkflowHandle(handle, self._env)


class _TimeSkippingWorkflowHandle(WorkflowHandle[Any, Any]):
    def __init__(self, handle: WorkflowHandle[Any, Any], env: WorkflowEnvironment) -> None:
        super().__init__(handle._client, handle.id, run_id=handle.run_id,
                         result_run_id=handle.result_run_id,
                         first_execution_run_id=handle.first_execution_run_id,
                         result_type=handle._result_type)
        self._env = env

    async def result(self, *, follow_runs: bool = True, rpc_timeout: timedelta | None = None,
                     **kwargs: Any) -> Any:
        async with self._env.time_skipping_unlocked():
            return await super().result(follow_runs=follow_runs, rpc_timeout=rpc_timeout,
                                        **kwargs)


class ActivityEnvironment:
    """Runs one activity function with a test context.

    Attributes:
        info: The ``activity.info()`` the function sees.
        on_heartbeat: Called with the details of every ``activity.heartbeat(...)``.
        heartbeats: Every heartbeat's details, in order.
        payload_converter: What ``activity.payload_converter()`` returns.
    """

    def __init__(self, client: Client | None = None) -> None:
        self.info = ActivityEnvironment.default_info()
        self.on_heartbeat: Callable[..., None] = lambda *details: None
        self.heartbeats: list[Sequence[Any]] = []
        self.payload_converter = DataConverter.default.payload_converter
        self._client = client
        self._context: ActivityContext | None = None
        self._worker_shutdown = False

    @staticmethod
    def default_info() -> Info:
        """The ``activity.info()`` a new environment starts with."""
        now = datetime.now(UTC)
        return Info(
            activity_id="test", activity_type="unknown", attempt=1,
            current_attempt_scheduled_time=now, heartbeat_details=[], heartbeat_timeout=None,
            is_local=False, schedule_to_close_timeout=timedelta(seconds=1),
            scheduled_time=now, start_to_close_timeout=timedelta(seconds=1), started_time=now,
            task_queue="test", task_token=b"test", workflow_id="test",
            workflow_namespace="default", workflow_run_id="test-run",
            workflow_type="test", idempotency_key="test/test-run/test")

    def _record(self, details: Sequence[Any]) -> None:
        self.heartbeats.append(tuple(details))
        self.on_heartbeat(*details)

    def cancel(self, cancellation_details: ActivityCancellationDetails | str =
               ActivityCancellationDetails(cancel_requested=True)) -> None:
        """Request cancellation, as a heartbeat from a real worker would deliver it."""
        if self._context is None:
            raise RuntimeError("no activity is running in this environment")
        if isinstance(cancellation_details, str):
            self._context.mark_cancelled(cancellation_details)
        else:
            self._context.mark_cancelled("cancelled by the test", cancellation_details)

    def worker_shutdown(self) -> None:
        """Tell the running activity its worker is shutting down."""
        self._worker_shutdown = True
        if self._context is not None:
            self._context.mark_worker_shutdown()

    def _new_context(self, loop: asyncio.AbstractEventLoop | None) -> ActivityContext:
        context = ActivityContext(self.info, self.payload_converter, self._record, loop,
                                  self._client)
        if self._worker_shutdown:
            context.mark_worker_shutdown()
        self._context = context
        return context

    def run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)``; for an async function, returns an awaitable."""
        call = type(fn).__call__ if not inspect.isfunction(fn) else fn
        if inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call):
            return self._run_async(fn, *args, **kwargs)
        token = set_current(self._new_context(None))
        try:
            return fn(*args, **kwargs)
        finally:
            reset_current(token)

    async def _run_async(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        context = self._new_context(loop)

        async def body() -> Any:
            set_current(context)
            return await fn(*args, **kwargs)

        task = loop.create_task(body())
        context.task = task
        return await task
