"""Test environments (mirrors ``temporalio.testing``).

``WorkflowEnvironment.start_local()`` gives a client on a temporary SQLite store;
``start_time_skipping()`` does the same with a clock that jumps to the next timer or timeout
whenever every workflow is waiting on time, so a workflow that sleeps for a week finishes in
milliseconds. ``ActivityEnvironment`` runs one activity function outside any worker, capturing
heartbeats and letting a test inject cancellation.
"""

from __future__ import annotations

import asyncio
import inspect
import shutil
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from ._engine.activity_context import ActivityContext, Info, set_current
from ._engine.clock import SkippingClock
from .client import Client
from .converter import DataConverter

__all__ = ["ActivityEnvironment", "WorkflowEnvironment"]


class WorkflowEnvironment:
    """A store, a client, and (for time skipping) a clock the environment controls."""

    def __init__(self, client: Client, *, directory: str | None = None,
                 clock: SkippingClock | None = None) -> None:
        self._client = client
        self._directory = directory
        self._clock = clock
        self._skipper: asyncio.Task[None] | None = None
        if clock is not None:
            self._skipper = asyncio.get_running_loop().create_task(self._skip_forever())

    @staticmethod
    async def start_local(*, data_converter: DataConverter = DataConverter.default,
                          namespace: str = "default", **_: Any) -> WorkflowEnvironment:
        """An environment on a fresh SQLite file in a temporary directory, in real time."""
        directory = tempfile.mkdtemp(prefix="stalwart-test-")
        client = await Client.connect(f"sqlite:///{Path(directory) / 'stalwart.db'}",
                                      namespace=namespace, data_converter=data_converter)
        return WorkflowEnvironment(client, directory=directory)

    @staticmethod
    async def start_time_skipping(*, data_converter: DataConverter = DataConverter.default,
                                  **_: Any) -> WorkflowEnvironment:
        """Like :meth:`start_local`, but time jumps ahead whenever everything is waiting."""
        env = await WorkflowEnvironment.start_local(data_converter=data_converter)
        clock = SkippingClock()
        env._client._clock = clock
        return WorkflowEnvironment(env._client, directory=env._directory, clock=clock)

    @staticmethod
    def from_client(client: Client) -> WorkflowEnvironment:
        """An environment around an existing client (the caller owns its store)."""
        return WorkflowEnvironment(client)

    @property
    def client(self) -> Client:
        return self._client

    @property
    def supports_time_skipping(self) -> bool:
        return self._clock is not None

    def get_current_time(self) -> datetime:
        return datetime.fromtimestamp(self._client._clock.now(), UTC)

    async def sleep(self, duration: timedelta | float) -> None:
        """Advance time by ``duration`` (instantly when skipping, really otherwise)."""
        seconds = duration.total_seconds() if isinstance(duration, timedelta) else duration
        if self._clock is None:
            await asyncio.sleep(seconds)
            return
        self._clock.advance_to(self._clock.now() + seconds)
        self._wake_sweepers()

    def _wake_sweepers(self) -> None:
        notifier = getattr(self._client.store, "notifier", None)
        if notifier is not None:
            notifier.publish([("deadline", "*"), ("workflow_task", "*"), ("activity_task", "*")])

    async def _is_idle(self) -> bool:
        workers = list(self._client._workers)
        if not workers or not all(w._is_idle() for w in workers if w.is_running):
            return False
        store = self._client.store
        now = self._client._clock.now()
        return not await store.has_ready_work(now)

    async def _skip_forever(self) -> None:
        assert self._clock is not None
        clock = self._clock
        while True:
            # Settle: require idleness twice in a row so in-flight hand-offs finish first.
            await asyncio.sleep(0.005)
            if not await self._is_idle():
                continue
            await asyncio.sleep(0.005)
            if not await self._is_idle():
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
        for worker in list(self._client._workers):
            if worker.is_running:
                await worker.shutdown()
        if self._directory is not None:
            await self._client.close()
            shutil.rmtree(self._directory, ignore_errors=True)

    async def __aenter__(self) -> WorkflowEnvironment:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.shutdown()


class ActivityEnvironment:
    """Runs one activity function with a test context.

    Attributes:
        info: The ``activity.info()`` the function sees.
        on_heartbeat: Called with the details of every ``activity.heartbeat(...)``.
        heartbeats: Every heartbeat's details, in order.
    """

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.info = Info(
            activity_id="test", activity_type="unknown", attempt=1,
            current_attempt_scheduled_time=now, heartbeat_details=[], heartbeat_timeout=None,
            is_local=False, schedule_to_close_timeout=timedelta(seconds=1),
            scheduled_time=now, start_to_close_timeout=timedelta(seconds=1), started_time=now,
            task_queue="test", task_token=b"test", workflow_id="test",
            workflow_namespace="default", workflow_run_id="test-run",
            workflow_type="test", idempotency_key="test/test-run/test")
        self.on_heartbeat: Callable[..., None] = lambda *details: None
        self.heartbeats: list[Sequence[Any]] = []
        self.payload_converter = DataConverter.default.payload_converter
        self._context: ActivityContext | None = None

    def _record(self, details: Sequence[Any]) -> None:
        self.heartbeats.append(tuple(details))
        self.on_heartbeat(*details)

    def cancel(self, reason: str = "cancelled by the test") -> None:
        """Request cancellation, as a heartbeat from a real worker would deliver it."""
        if self._context is None:
            raise RuntimeError("no activity is running in this environment")
        self._context.mark_cancelled(reason)

    def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)``; for an async function, returns an awaitable."""
        if inspect.iscoroutinefunction(fn):
            return self._run_async(fn, *args)
        context = ActivityContext(self.info, self.payload_converter, self._record, None)
        self._context = context
        token = set_current(context)
        try:
            return fn(*args)
        finally:
            from ._engine import activity_context

            activity_context._current.reset(token)

    async def _run_async(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        context = ActivityContext(self.info, self.payload_converter, self._record, loop)
        self._context = context

        async def body() -> Any:
            set_current(context)
            return await fn(*args)

        task = loop.create_task(body())
        context.task = task
        return await task

