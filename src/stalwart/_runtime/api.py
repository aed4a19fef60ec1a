"""Finding the workflow instance behind the public ``stalwart.workflow`` functions."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .loop import WorkflowEventLoop

if TYPE_CHECKING:
    # Only named: the instance module imports the public workflow functions that use this.
    from .instance import WorkflowInstance


def current() -> WorkflowInstance:
    """The instance whose activation is running, or a clear error outside workflow code."""
    loop = asyncio.events._get_running_loop()
    if isinstance(loop, WorkflowEventLoop):
        return loop.instance
    raise RuntimeError(
        "not in workflow code: this function works only inside a @workflow.defn class's "
        "methods while a worker runs them"
    )


def in_workflow() -> bool:
    return isinstance(asyncio.events._get_running_loop(), WorkflowEventLoop)


# The summary of the timer the code starts next (workflow.sleep(summary=), the timeout of
# wait_condition(timeout_summary=)), recorded as its event's user metadata.
_TIMER_SUMMARY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stalwart_timer_summary", default=None)


@contextmanager
def timer_summary(summary: str | None) -> Iterator[None]:
    token = _TIMER_SUMMARY.set(summary)
    try:
        yield
    finally:
        _TIMER_SUMMARY.reset(token)


def next_timer_summary() -> str | None:
    return _TIMER_SUMMARY.get()
