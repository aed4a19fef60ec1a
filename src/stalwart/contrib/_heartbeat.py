"""Heartbeating for activities that wait on one long provider call (shared by integrations)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .. import activity

__all__ = ["heartbeating"]

T = TypeVar("T")


async def heartbeating(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work``, heartbeating at half the activity's heartbeat timeout, if it has one: a
    long but healthy call is told apart from a worker that died."""
    timeout = activity.info().heartbeat_timeout
    if not timeout:
        return await work()

    async def beat() -> None:
        while True:
            await asyncio.sleep(timeout.total_seconds() / 2)
            activity.heartbeat()

    beating = asyncio.get_running_loop().create_task(beat())
    try:
        return await work()
    finally:
        beating.cancel()
