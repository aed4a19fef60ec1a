"""Plain-function activities in another process (a ``ProcessPoolExecutor``).

Mirrors temporalio's ``SharedStateManager``: the activity runs in a child process with a copy
of its ``Info``; its heartbeats travel back over a manager queue that a thread in the worker
drains into the worker's normal heartbeat path; cancellation and worker shutdown reach it as
manager events that the worker sets.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import logging
import multiprocessing.managers
import pickle
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..converter import PayloadConverter
from .activity_context import ActivityContext, Info, reset_current, set_current, set_remote

logger = logging.getLogger(__name__)

# How long the drain thread blocks on an empty queue before checking whether any activity
# still needs it (it stops when none does).
_DRAIN_POLL_SECONDS = 0.5


class SharedHeartbeatSender(ABC):
    """Sends heartbeats from an activity running in another process (picklable)."""

    @abstractmethod
    def send_heartbeat(self, task_token: bytes, *details: Any) -> None:
        """Send a heartbeat for the attempt ``task_token`` with ``details``."""
        raise NotImplementedError


class SharedStateManager(ABC):
    """Cross-process primitives for plain-function activities whose ``activity_executor``
    is not a ``ThreadPoolExecutor`` (mirrors ``temporalio.worker.SharedStateManager``).

    One manager may serve several workers. :meth:`create_from_multiprocessing` gives the usual
    implementation.
    """

    @staticmethod
    def create_from_multiprocessing(
        mgr: multiprocessing.managers.SyncManager,
        queue_poller_executor: concurrent.futures.Executor | None = None,
    ) -> SharedStateManager:
        """A manager whose events and heartbeat queue live in ``mgr`` (usually
        ``multiprocessing.Manager()``).

        Args:
            mgr: The sync manager that makes the events and the queue.
            queue_poller_executor: Runs the thread draining the heartbeat queue; a
                one-thread ``ThreadPoolExecutor`` is made if None.
        """
        if not isinstance(mgr, multiprocessing.managers.SyncManager):
            raise TypeError("SharedStateManager.create_from_multiprocessing(mgr=...) takes a "
                            f"started multiprocessing SyncManager, got {mgr!r}; pass "
                            "multiprocessing.Manager()")
        return _MultiprocessingSharedStateManager(
            mgr, queue_poller_executor or concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="stalwart-heartbeat-queue"))

    @abstractmethod
    def new_event(self) -> threading.Event:
        """An event usable from other processes (set by the worker, read by the activity)."""
        raise NotImplementedError

    @abstractmethod
    async def register_heartbeater(self, task_token: bytes,
                                   heartbeat: Callable[..., None]) -> SharedHeartbeatSender:
        """Route heartbeats sent for ``task_token`` to ``heartbeat`` (called from any
        thread); returns the picklable sender the activity's process uses."""
        raise NotImplementedError

    @abstractmethod
    async def unregister_heartbeater(self, task_token: bytes) -> None:
        """Stop routing ``task_token``'s heartbeats, once every one already sent is
        delivered."""
        raise NotImplementedError


class _QueueHeartbeatSender(SharedHeartbeatSender):
    def __init__(self, heartbeats: queue.Queue[tuple[bytes, tuple[Any, ...] | None]]) -> None:
        self._heartbeats = heartbeats

    def send_heartbeat(self, task_token: bytes, *details: Any) -> None:
        # Blocks while the queue is full (the worker drains it continuously), so a heartbeat
        # is never dropped silently.
        self._heartbeats.put((task_token, details), True, 30)


class _MultiprocessingSharedStateManager(SharedStateManager):
    def __init__(self, mgr: multiprocessing.managers.SyncManager,
                 poller: concurrent.futures.Executor) -> None:
        self._mgr = mgr
        self._poller = poller
        self._queue: queue.Queue[tuple[bytes, tuple[Any, ...] | None]] = mgr.Queue(1000)
        self._lock = threading.Lock()
        self._routes: dict[bytes, Callable[..., None]] = {}
        self._flushed: dict[bytes, Callable[[], None]] = {}
        self._draining = False

    def new_event(self) -> threading.Event:
        return self._mgr.Event()

    async def register_heartbeater(self, task_token: bytes,
                                   heartbeat: Callable[..., None]) -> SharedHeartbeatSender:
        with self._lock:
            self._routes[task_token] = heartbeat
            self._ensure_draining()
        return _QueueHeartbeatSender(self._queue)

    def _ensure_draining(self) -> None:
        """Start the drain thread unless it runs (called under the lock). One at most: two
        would deliver one activity's heartbeats out of order."""
        if not self._draining:
            self._draining = True
            self._poller.submit(self._drain)

    async def unregister_heartbeater(self, task_token: bytes) -> None:
        # A marker behind the activity's last heartbeat: when the drain thread reaches it,
        # every heartbeat the activity sent has been delivered.
        loop = asyncio.get_running_loop()
        flushed = loop.create_future()

        def done() -> None:
            loop.call_soon_threadsafe(_resolve, flushed)

        with self._lock:
            self._flushed[task_token] = done
            # A drain thread that stopped on an error would leave the marker unread.
            self._ensure_draining()
        try:
            await loop.run_in_executor(None, self._queue.put, (task_token, None), True, 5)
            await flushed
        finally:
            with self._lock:
                self._flushed.pop(task_token, None)
                self._routes.pop(task_token, None)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._routes:
                    self._draining = False
                    return
            try:
                token, details = self._queue.get(True, _DRAIN_POLL_SECONDS)
            except queue.Empty:
                continue
            except Exception:
                logger.exception("the heartbeat queue of the shared state manager failed; "
                                 "heartbeats from process-pool activities stop")
                with self._lock:
                    self._draining = False
                return
            with self._lock:
                if details is None:
                    self._routes.pop(token, None)
                    target: Callable[..., None] | None = self._flushed.pop(token, None)
                else:
                    target = self._routes.get(token)
            if target is None:
                continue
            try:
                if details is None:
                    target()
                else:
                    target(*details)
            except Exception:
                logger.exception("delivering a heartbeat from a process-pool activity failed")


def _resolve(future: asyncio.Future[Any]) -> None:
    if not future.done():
        future.set_result(None)


def check_process_activities(executor: concurrent.futures.Executor,
                             manager: SharedStateManager | None,
                             sync_activities: Iterable[tuple[str, Callable[..., Any]]]) -> None:
    """Refuse, at Worker construction, what would only fail once a task ran (temporalio
    refuses the same)."""
    interpreter_pool = getattr(concurrent.futures, "InterpreterPoolExecutor", None)
    if interpreter_pool is not None and isinstance(executor, interpreter_pool):
        raise ValueError(f"Worker activity_executor={executor!r}: an InterpreterPoolExecutor "
                         "is not supported; use a ThreadPoolExecutor or a "
                         "ProcessPoolExecutor")
    if manager is not None and not isinstance(manager, SharedStateManager):
        raise TypeError(f"Worker shared_state_manager={manager!r} is not a "
                        "SharedStateManager; pass SharedStateManager.create_from_"
                        "multiprocessing(multiprocessing.Manager())")
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return
    for name, fn in sync_activities:
        if manager is None:
            raise ValueError(
                f"Worker activity_executor={executor!r} is not a ThreadPoolExecutor, so "
                f"plain-function activity {name!r} runs outside this process and needs "
                "shared_state_manager= for its heartbeats and cancellation (got None); pass "
                "shared_state_manager=SharedStateManager.create_from_multiprocessing("
                "multiprocessing.Manager()), or make the activity async def")
        if isinstance(executor, concurrent.futures.ProcessPoolExecutor):
            try:
                pickle.dumps(fn)
            except Exception as error:
                raise TypeError(
                    f"activity {name!r} ({fn!r}) cannot be pickled, so it cannot run in "
                    f"activity_executor={executor!r}: {error}; define it at the top level "
                    "of a module") from error


class _ChildContext(ActivityContext):
    """The activity's context in the executor's process: what the worker sent along."""

    cross_process = True


def run_in_child(info: Info, sender: SharedHeartbeatSender, cancelled: threading.Event,
                 worker_shutdown: threading.Event,
                 payload_converter_class: type[PayloadConverter],
                 fn: Callable[..., Any], *args: Any) -> Any:
    """Runs in the executor's process (top level, so it pickles): set up the activity's
    context from what the worker sent, then call the activity."""
    token = info.task_token

    def heartbeat(details: Any) -> None:
        sender.send_heartbeat(token, *details)

    context = _ChildContext(info, payload_converter_class(), heartbeat, None)
    context.cancelled = cancelled
    context._worker_shutdown = worker_shutdown
    # The process is reused for other attempts: leave no context behind.
    reset = set_current(context)
    try:
        return fn(*args)
    finally:
        reset_current(reset)


async def run_in_process(manager: SharedStateManager, executor: concurrent.futures.Executor,
                         context: ActivityContext, worker_shutdown: threading.Event,
                         payload_converter_class: type[PayloadConverter],
                         fn: Callable[..., Any], args: Sequence[Any]) -> Any:
    """Run a plain-function activity in ``executor``'s process; called in the activity's
    task on the worker's loop."""
    loop = asyncio.get_running_loop()
    info = context.info
    # Heartbeats from the other process go through the outbound interceptors in the
    # activity's own context, as one made in this process does.
    activity_context = contextvars.copy_context()

    def deliver(*details: Any) -> None:  # on the manager's drain thread
        loop.call_soon_threadsafe(_heartbeat, context, details, context=activity_context)

    sender = await manager.register_heartbeater(info.task_token, deliver)
    try:
        # A round trip to the manager's process on the loop (as temporalio's): short, and
        # only for activities that run elsewhere.
        cancelled = manager.new_event()
        context.remote_cancelled = cancelled
        context.remote_shutdown = worker_shutdown
        # Either may have happened while the event was being made.
        if context.cancelled.is_set():
            set_remote(cancelled)
        if context.worker_shutdown.is_set():
            set_remote(worker_shutdown)
        return await loop.run_in_executor(executor, run_in_child, info, sender, cancelled,
                                          worker_shutdown, payload_converter_class, fn,
                                          *args)
    finally:
        await manager.unregister_heartbeater(info.task_token)


def _heartbeat(context: ActivityContext, details: tuple[Any, ...]) -> None:
    if context.outbound is not None:
        context.outbound.heartbeat(*details)
    else:
        context.heartbeat(details)
