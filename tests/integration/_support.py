"""Small helpers shared by the integration tests: history inspection and common options."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stalwart.client import WorkflowHandle
from stalwart.common import RetryPolicy
from tests.helpers.waiting import eventually

# Generous: a timeout here only guards against a hung test, it is never what a test measures.
ACTIVITY_TIMEOUT = timedelta(seconds=10)

def fast_retry(maximum_attempts: int = 0, **kwargs: Any) -> RetryPolicy:
    """Retries fast enough to keep the suite quick, still through the real retry path."""
    return RetryPolicy(initial_interval=timedelta(milliseconds=20),
                       maximum_interval=timedelta(milliseconds=50),
                       maximum_attempts=maximum_attempts, **kwargs)


async def event_types(handle: WorkflowHandle[Any, Any]) -> list[str]:
    history = await handle.fetch_history()
    return [str(event.event_type) for event in history.events]


async def wait_for_event(handle: WorkflowHandle[Any, Any], event_type: str,
                         timeout: float = 10.0) -> None:
    """Wait until the run's history holds an event of ``event_type``."""
    async def check() -> bool:
        return event_type in await event_types(handle)

    await eventually(check, timeout=timeout, what=f"{event_type} in the history of {handle.id}")
