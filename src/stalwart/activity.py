"""Activity code: definitions and the in-activity API (mirrors ``temporalio.activity``).

Activities do the side effects: LLM calls, tool calls, database writes. They run at least once:
an attempt that was running when its worker died runs again. Their results are recorded exactly
once. Use ``info().idempotency_key`` with the APIs you call to make a repeated attempt harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast, overload

from ._engine import activity_context as _context
from ._engine.activity_context import ActivityCancellationDetails, Info
from ._metric_meter import MetricMeter
from ._model.definitions import define_activity
from .converter import PayloadConverter

if TYPE_CHECKING:
    from .client import Client

__all__ = [
    "ActivityCancellationDetails",
    "Info",
    "LoggerAdapter",
    "cancellation_details",
    "client",
    "defn",
    "heartbeat",
    "in_activity",
    "info",
    "is_cancelled",
    "is_worker_shutdown",
    "logger",
    "metric_meter",
    "payload_converter",
    "raise_complete_async",
    "shield_thread_cancel_exception",
    "wait_for_cancelled",
    "wait_for_cancelled_sync",
    "wait_for_worker_shutdown",
    "wait_for_worker_shutdown_sync",
]

CallableType = TypeVar("CallableType", bound=Callable[..., Any])


@overload
def defn(fn: CallableType) -> CallableType: ...


@overload
def defn(*, name: str | None = None, no_thread_cancel_exception: bool = False,
         dynamic: bool = False) -> Callable[[CallableType], CallableType]: ...


def defn(fn: Any = None, *, name: str | None = None, no_thread_cancel_exception: bool = False,
         dynamic: bool = False) -> Any:
    """Mark a function (``async def`` or plain) as an activity.

    Plain functions run on the worker's ``activity_executor`` (a thread pool unless given a
    process pool and a ``shared_state_manager``); async ones on its event loop.

    Args:
        name: Activity type name; defaults to the function name.
        no_thread_cancel_exception: Accepted for compatibility.
        dynamic: Accepted for compatibility.
    """
    def decorate(target: CallableType) -> CallableType:
        define_activity(target, name, dynamic)
        return target

    return decorate(fn) if fn is not None else decorate


def in_activity() -> bool:
    """Whether the caller runs inside an activity."""
    return _context.in_activity()


def info() -> Info:
    """Facts about the running attempt: ids, attempt number, last heartbeat details, ..."""
    return _context.current().info


def heartbeat(*details: Any) -> None:
    """Report progress. Details reach the next attempt if this one fails; a heartbeat also
    delivers a cancel request (see :func:`is_cancelled`). Throttled: cheap to call often."""
    context = _context.current()
    if context.outbound is not None:
        context.outbound.heartbeat(*details)
    else:
        context.heartbeat(details)


def is_cancelled() -> bool:
    """Whether cancellation was requested (learned through heartbeats)."""
    return _context.current().cancelled.is_set()


async def wait_for_cancelled() -> None:
    """Wait until cancellation is requested."""
    await _context.current().wait_cancelled()


def wait_for_cancelled_sync(timeout: float | None = None) -> None:
    """Block (in a plain-function activity) until cancellation is requested or timeout."""
    _context.current().cancelled.wait(timeout)


def raise_complete_async() -> NoReturn:
    """End this function without completing the activity; complete it later from any
    process with ``client.get_async_activity_handle(task_token=info().task_token)``.

    The attempt holds no worker slot meanwhile and is not retried if this worker dies; its
    start-to-close and heartbeat timeouts still apply.
    """
    raise _context.CompleteAsyncError()


def payload_converter() -> PayloadConverter:
    return _context.current().payload_converter


def client() -> Client:
    """The client of the worker running this activity (to signal, query or start
    workflows from it).

    Raises:
        RuntimeError: outside an activity, in one run without a worker (e.g. an
            ``ActivityEnvironment`` created without a client), or in one run in another
            process (a process pool executor).
    """
    context = _in_the_workers_process("activity.client()")
    found = context.client
    if found is None:
        raise RuntimeError("no client available: this activity runs outside a worker; give "
                           "ActivityEnvironment(client=...) one in tests")
    return cast("Client", found)


def _in_the_workers_process(call: str) -> _context.ActivityContext:
    """The current activity's context, refused to ``call`` where the activity runs in another
    process than its worker's (a process pool), which has neither the client nor the meters."""
    context = _context.current()
    if context.cross_process:
        raise RuntimeError(f"{call} is not available in an activity run in another process "
                           "(the worker's activity_executor is a process pool); make the "
                           "activity async def, or run it on a ThreadPoolExecutor")
    return context


def metric_meter() -> MetricMeter:
    """A meter for this activity's own metrics (on ``stalwart.metrics``' ``/metrics`` page),
    labelled with namespace, task queue and activity type.

    Raises:
        RuntimeError: in an activity run in another process (a process pool executor), as
            in temporalio: metrics recorded there would never reach the worker's.
    """
    activity_info = _in_the_workers_process("activity.metric_meter()").info
    return MetricMeter({"namespace": activity_info.namespace,
                        "task_queue": activity_info.task_queue,
                        "activity_type": activity_info.activity_type})


def is_worker_shutdown() -> bool:
    """Whether the worker running this activity has begun shutting down."""
    return _context.current().worker_shutdown.is_set()


async def wait_for_worker_shutdown() -> None:
    """Wait until the worker running this activity begins shutting down."""
    await _context.current().wait_worker_shutdown()


def wait_for_worker_shutdown_sync(timeout: timedelta | float | None = None) -> None:
    """Block (in a plain-function activity) until the worker begins shutting down or
    ``timeout`` passes."""
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    _context.current().worker_shutdown.wait(seconds)


def cancellation_details() -> ActivityCancellationDetails | None:
    """Why this activity was cancelled (None while it is not)."""
    return _context.current().cancellation_details


@contextmanager
def shield_thread_cancel_exception() -> Iterator[None]:
    """Hold back the ``CancelledError`` that cancellation raises into a plain-function
    activity's thread until the (outermost) block ends, then raise it there. Does nothing in
    async activities and in activities run in other processes."""
    raiser = _context.current().thread_raiser
    if raiser is None:
        yield
    else:
        with raiser.shielded():
            yield


class LoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """Adds the activity's details to every record logged inside an activity, as
    temporalio's adapter does.

    Attributes:
        activity_info_on_message: append the details (activity_id, activity_type, attempt,
            namespace, task_queue, workflow_id, workflow_run_id, workflow_type) to the
            message. Default True.
        activity_info_on_extra: put them on the record as ``temporal_activity``. Default
            True.
        full_activity_info_on_extra: put the whole ``activity.info()`` on the record as
            ``activity_info``. Default False.
    """

    def __init__(self, logger: logging.Logger, extra: Any = None) -> None:
        super().__init__(logger, extra or {})
        self.activity_info_on_message = True
        self.activity_info_on_extra = True
        self.full_activity_info_on_extra = False

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        if not _context.in_activity():
            return msg, kwargs
        info = _context.current().info
        details = {
            "activity_id": info.activity_id, "activity_type": info.activity_type,
            "attempt": info.attempt, "namespace": info.namespace,
            "task_queue": info.task_queue, "workflow_id": info.workflow_id,
            "workflow_run_id": info.workflow_run_id, "workflow_type": info.workflow_type}
        if self.activity_info_on_message:
            msg = f"{msg} ({details})"
        if self.activity_info_on_extra or self.full_activity_info_on_extra:
            extra = dict(kwargs.get("extra") or {})
            if self.activity_info_on_extra:
                extra["temporal_activity"] = details
            if self.full_activity_info_on_extra:
                extra["activity_info"] = info
            kwargs["extra"] = extra
        return msg, kwargs

    @property
    def base_logger(self) -> logging.Logger:
        """The wrapped logger, to add handlers or formatters to."""
        return self.logger


logger = LoggerAdapter(logging.getLogger("stalwart.activity"), {})
