"""The context an activity runs in: its Info, heartbeats and cancellation.

Set by the engine in a context variable for the duration of one attempt; read by the public
``stalwart.activity`` functions. Works for async activities and for plain functions running on
the worker's thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ctypes
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..common import Priority, RetryPolicy
from ..converter import PayloadConverter


@dataclass(frozen=True)
class Info:
    """Facts about the running activity attempt (mirrors ``temporalio.activity.Info``)."""

    activity_id: str
    activity_type: str
    attempt: int
    current_attempt_scheduled_time: datetime
    heartbeat_details: Sequence[Any]
    heartbeat_timeout: timedelta | None
    is_local: bool
    schedule_to_close_timeout: timedelta | None
    scheduled_time: datetime
    start_to_close_timeout: timedelta | None
    started_time: datetime
    task_queue: str
    task_token: bytes
    # None for an activity started from a client rather than by a workflow.
    workflow_id: str | None
    # Deprecated in temporalio in favour of ``namespace``, and typed as there.
    workflow_namespace: str | None
    workflow_run_id: str | None
    workflow_type: str | None
    retry_policy: RetryPolicy | None = None
    # The activity's own priority, as Temporal reports it (not the workflow's it inherits).
    priority: Priority = field(default_factory=Priority)
    idempotency_key: str = field(default="")
    """Stable across every attempt of this activity execution: pass it to the APIs you call
    (payments, emails, LLM providers that take one) so a retried attempt is recognised."""
    namespace: str = "default"
    activity_run_id: str | None = None
    """The run of an activity started from a client; None inside a workflow."""

    @property
    def in_workflow(self) -> bool:
        """Whether a workflow started this activity (False: started from a client)."""
        return self.workflow_id is not None


@dataclass(frozen=True)
class ActivityCancellationDetails:
    """Why an activity was cancelled (mirrors ``temporalio.activity``)."""

    not_found: bool = False
    cancel_requested: bool = False
    paused: bool = False
    reset: bool = False
    timed_out: bool = False
    worker_shutdown: bool = False


_EVENT_LOCK = threading.Lock()


class ThreadCancelRaiser:
    """Raises cancellation into a plain-function activity's thread, as temporalio does: at
    the thread's next Python instruction (a blocking call is not interrupted; it raises when
    the call returns), unless inside ``activity.shield_thread_cancel_exception()``, whose end
    raises it instead. Only while the activity runs in its thread: never into the pool's next
    work."""

    def __init__(self, exception: type[BaseException]) -> None:
        self._exception = exception
        self._lock = threading.Lock()
        self._thread_id: int | None = None
        self._pending = False
        self._shield_depth = 0

    @contextlib.contextmanager
    def running_here(self) -> Iterator[None]:
        """Around the activity function, in its thread."""
        with self._lock:
            self._thread_id = threading.get_ident()
            self._raise_if_pending()
        try:
            yield
        finally:
            with self._lock:
                self._thread_id = None
                self._pending = False

    def cancel(self) -> None:
        with self._lock:
            self._pending = True
            self._raise_if_pending()

    @contextlib.contextmanager
    def shielded(self) -> Iterator[None]:
        with self._lock:
            self._shield_depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._shield_depth -= 1
                self._raise_if_pending()

    def _raise_if_pending(self) -> None:
        if self._thread_id is None or not self._pending or self._shield_depth:
            return
        self._pending = False
        if self._thread_id == threading.get_ident():
            raise self._exception("Activity cancelled")
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self._thread_id),
                                                   ctypes.py_object(self._exception))
logger = logging.getLogger(__name__)


class ActivityContext:
    # True in the context a plain-function activity gets in a process pool's process.
    cross_process = False
    # For an activity running in another process: the cross-process events (manager
    # proxies) that mirror ``cancelled`` and ``worker_shutdown`` there.
    remote_cancelled: Any = None
    remote_shutdown: Any = None

    def __init__(self, info: Info, payload_converter: PayloadConverter,
                 heartbeat: Callable[[Sequence[Any]], None],
                 loop: asyncio.AbstractEventLoop | None, client: Any = None) -> None:
        self.info = info
        self.payload_converter = payload_converter
        self._heartbeat = heartbeat
        self.loop = loop
        self.cancelled = threading.Event()
        self.cancel_reason: str | None = None
        self._waiters: list[asyncio.Future[None]] = []
        self.last_heartbeat_details: Sequence[Any] = ()
        self.task: asyncio.Task[Any] | None = None
        self.outbound: Any = None  # the activity outbound interceptor chain, once built
        self.client = client
        self.cancellation_details: ActivityCancellationDetails | None = None
        self._worker_shutdown: threading.Event | None = None
        self._shutdown_waiters: list[asyncio.Future[None]] = []
        # Set while the activity is a plain function running in a thread of this process.
        self.thread_raiser: ThreadCancelRaiser | None = None

    @property
    def worker_shutdown(self) -> threading.Event:
        """Set once the worker begins shutting down. Made on first use (an Event costs a
        Condition and a lock, and most attempts never ask), under a lock because the worker's
        loop and a sync activity's thread may ask at once."""
        event = self._worker_shutdown
        if event is None:
            with _EVENT_LOCK:
                event = self._worker_shutdown
                if event is None:
                    event = self._worker_shutdown = threading.Event()
        return event

    def heartbeat(self, details: Sequence[Any]) -> None:
        self.last_heartbeat_details = details
        self._heartbeat(details)

    def mark_worker_shutdown(self) -> None:
        """The worker began shutting down: tell the activity (it is not cancelled yet)."""
        if self.worker_shutdown.is_set():
            return
        self.worker_shutdown.set()
        if self.remote_shutdown is not None:
            set_remote(self.remote_shutdown)
        for waiter in self._shutdown_waiters:
            waiter.get_loop().call_soon_threadsafe(_resolve, waiter)

    async def wait_worker_shutdown(self) -> None:
        if self.worker_shutdown.is_set():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._shutdown_waiters.append(waiter)
        try:
            await waiter
        finally:
            self._shutdown_waiters.remove(waiter)

    def mark_cancelled(self, reason: str,
                       details: ActivityCancellationDetails | None = None) -> None:
        """Deliver cancellation: the flag, and CancelledError into the activity's code (its
        task if async, its thread if a plain function in a thread pool)."""
        if self.cancelled.is_set():
            return
        self.cancel_reason = reason
        self.cancellation_details = details or ActivityCancellationDetails(
            cancel_requested=True)
        self.cancelled.set()
        if self.remote_cancelled is not None:
            set_remote(self.remote_cancelled)
        for waiter in self._waiters:
            waiter.get_loop().call_soon_threadsafe(_resolve, waiter)
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.thread_raiser is not None:
            self.thread_raiser.cancel()


    async def wait_cancelled(self) -> None:
        if self.cancelled.is_set():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            self._waiters.remove(waiter)


def set_remote(event: Any) -> None:
    """Set a cross-process event; the manager holding it may already be gone (its owner
    shut it down before the worker), which must not break the worker's own bookkeeping."""
    try:
        event.set()
    except Exception as error:
        logger.warning("could not tell a process-pool activity (its shared state manager "
                       "failed: %s)", error)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class CompleteAsyncError(BaseException):
    """Raised by ``activity.raise_complete_async()``: the result will come from elsewhere."""


_current: contextvars.ContextVar[ActivityContext] = contextvars.ContextVar("stalwart_activity")


def current() -> ActivityContext:
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError("not in an activity: this function works only inside an "
                           "@activity.defn function while a worker runs it") from None


def in_activity() -> bool:
    return _current.get(None) is not None


def set_current(context: ActivityContext) -> contextvars.Token[ActivityContext]:
    return _current.set(context)


def reset_current(token: contextvars.Token[ActivityContext]) -> None:
    _current.reset(token)
