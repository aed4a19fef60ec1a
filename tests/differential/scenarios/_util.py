"""Helpers for scenarios (not a scenario: the leading underscore keeps the harness off it)."""

import asyncio
from typing import Any


async def wait_for_query(handle: Any, query: str, expected: Any, tries: int = 200) -> None:
    """Wait until a query answers ``expected``: the workflow reached that point. Queries
    record no events, so waiting this way keeps the histories the same on both servers."""
    for _ in range(tries):
        if await handle.query(query) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"query {query!r} never answered {expected!r}")
