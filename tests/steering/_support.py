"""Helpers shared by the steering tests: history inspection and waiting on real state."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stalwart.client import WorkflowExecutionStatus, WorkflowHandle
from stalwart.common import RetryPolicy
from stalwart.exceptions import WorkflowNotFoundError
from tests.helpers.waiting import eventually

# Generous: a timeout here only guards against a hung test, it is never what a test measures.
ACTIVITY_TIMEOUT = timedelta(seconds=10)
# Results a test waits for; a hang fails the test instead of blocking the suite.
RESULT_TIMEOUT = 15.0
NO_RETRY = RetryPolicy(maximum_attempts=1)


def fast_retry(maximum_attempts: int = 0) -> RetryPolicy:
    """Retries fast enough to keep the suite quick, still through the real retry path."""
    return RetryPolicy(initial_interval=timedelta(milliseconds=20),
                       maximum_interval=timedelta(milliseconds=50),
                       maximum_attempts=maximum_attempts)


async def event_types(handle: WorkflowHandle[Any, Any]) -> list[str]:
    history = await handle.fetch_history()
    return [str(event.event_type) for event in history.events]


async def wait_for_event(handle: WorkflowHandle[Any, Any], event_type: str, *, count: int = 1,
                         timeout: float = 10.0) -> None:
    """Wait until the run's history holds ``count`` events of ``event_type``."""
    async def check() -> bool:
        return (await event_types(handle)).count(event_type) >= count

    await eventually(check, timeout=timeout, what=f"{count} x {event_type} in {handle.id}")


async def wait_for_status(handle: WorkflowHandle[Any, Any], status: WorkflowExecutionStatus, *,
                          timeout: float = 10.0) -> None:
    async def check() -> bool:
        try:
            return (await handle.describe()).status == status
        except WorkflowNotFoundError:
            return False  # not started yet

    await eventually(check, timeout=timeout, what=f"{handle.id} to be {status.name}")
