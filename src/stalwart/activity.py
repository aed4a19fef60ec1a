"""Activity code: definitions and the in-activity API (mirrors ``temporalio.activity``).

Activities do the side effects: LLM calls, tool calls, database writes. They run at least once:
an attempt that was running when its worker died runs again. Their results are recorded exactly
once. Use ``info().idempotency_key`` with the APIs you call to make a repeated attempt harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any, NoReturn, TypeVar, overload

from ._engine import activity_context as _context
from ._engine.activity_context import Info
from ._model.definitions import define_activity
from .converter import PayloadConverter

__all__ = [
    "Info",
    "defn",
    "heartbeat",
    "in_activity",
    "info",
    "is_cancelled",
    "logger",
    "payload_converter",
    "raise_complete_async",
    "wait_for_cancelled",
    "wait_for_cancelled_sync",
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

    Plain functions run on the worker's thread pool; async ones on its event loop.

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


class LoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """Adds the activity's ids to every record logged inside an activity."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        if _context.in_activity():
            activity_info = _context.current().info
            extra = dict(kwargs.get("extra") or {})
            extra.update(activity_id=activity_info.activity_id,
                         activity_type=activity_info.activity_type,
                         attempt=activity_info.attempt, workflow_id=activity_info.workflow_id,
                         workflow_run_id=activity_info.workflow_run_id)
            kwargs["extra"] = extra
            msg = (f"{msg} ({{'activity_id': {activity_info.activity_id!r}, 'activity_type': "
                   f"{activity_info.activity_type!r}, 'attempt': {activity_info.attempt}, "
                   f"'workflow_id': {activity_info.workflow_id!r}}})")
        return msg, kwargs


logger = LoggerAdapter(logging.getLogger("stalwart.activity"), {})
