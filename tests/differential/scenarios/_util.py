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


_TASK_ENDS = ("EVENT_TYPE_WORKFLOW_TASK_COMPLETED", "EVENT_TYPE_WORKFLOW_TASK_FAILED",
              "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT")


async def settle(handle: Any, tries: int = 400) -> None:
    """Wait until every workflow task the run has scheduled has ended (the inputs sent so
    far are handled), reading the history, which records nothing for the reading.

    Where an input lands in Temporal's history depends on the state of the workflow task
    when it arrives: while a task is scheduled but not started it joins that task (after
    its WorkflowTaskScheduled), otherwise it schedules a task of its own. Sending the next
    input only once the run is settled makes the sequence the same on every run, and the
    same on both servers (Stalwart runs the first task inside the start; Temporal's worker
    picks it up a moment later)."""
    for _ in range(tries):
        history = await handle.fetch_history()
        types = [e["eventType"] for e in history.to_json_dict()["events"]]
        scheduled = types.count("EVENT_TYPE_WORKFLOW_TASK_SCHEDULED")
        ended = sum(types.count(t) for t in _TASK_ENDS)
        closed = any(t.startswith("EVENT_TYPE_WORKFLOW_EXECUTION_") and t.endswith(
            ("COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT", "CONTINUED_AS_NEW"))
            and "UPDATE" not in t for t in types)
        if closed or (ended and ended >= scheduled):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the workflow never settled: a workflow task stayed open")


async def wait_for_events(handle: Any, event_type: str, count: int, tries: int = 400) -> None:
    """Wait until the run's history holds ``count`` events of ``event_type`` (its full name,
    ``EVENT_TYPE_...``). Unlike a query, reading the history reaches no workflow task: a
    query that arrives while Temporal's worker runs a local activity makes the worker end
    its workflow task early, which moves events in Temporal's history only (and only when
    the machine is slow enough for the query to find the local activity running)."""
    for _ in range(tries):
        history = await handle.fetch_history()
        types = [e["eventType"] for e in history.to_json_dict()["events"]]
        if types.count(event_type) >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the history never held {count} {event_type}")


async def eventual_count(client: Any, query: str, expected: int) -> int:
    """The count of ``query`` once it is ``expected`` (visibility is eventually consistent on
    Temporal), or the last count seen."""
    count = -1
    for _ in range(200):
        count = (await client.count_workflows(query)).count
        if count == expected:
            return count
        await asyncio.sleep(0.05)
    return count
