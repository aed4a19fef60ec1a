"""``wait_closed``: a close committed by this process hands its waiters the closed row with the
wake-up, exactly as a read after the commit returns it; a close nobody announces is still seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stalwart._model.events import Command, EventType
from stalwart._store import wakeup
from stalwart._store.base import ExecutionRow, ExecutionStatus
from stalwart._store.blocking import open_blocking
from stalwart._store.database import DatabaseStore
from stalwart._store.tx import Tx, dumps

from .helpers import QUEUE, T0, claim_one, complete, complete_workflow, payload, start

# Only guards against a hung test; never what a test measures.
HANG_GUARD = 30.0

RICH = {"memo": {"note": payload("kept")},
        "search_attributes": {"CustomKeywordField": {"type": "Keyword", "value": "k"}}}


class Reads:
    """Counts the store's reads of a run's row (``wait_closed``'s only read), and tells when
    the first is done."""

    def __init__(self, store: DatabaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows: list[ExecutionRow] = []
        self.first = asyncio.Event()
        point = store._driver.point

        async def counting(fn: Callable[..., Any], *args: Any) -> Any:
            result = await point(fn, *args)
            if isinstance(result, ExecutionRow):
                self.rows.append(result)
                self.first.set()
            return result
        monkeypatch.setattr(store._driver, "point", counting)


async def _closes_by_task(store: DatabaseStore, run_id: str, command: Command) -> None:
    claim = await claim_one(store, T0)
    assert claim.run_id == run_id
    assert (await complete(store, claim, [command], T0 + 1, new_run_id="run-next")).accepted


CLOSES: dict[str, Callable[[DatabaseStore, str], Awaitable[Any]]] = {
    "completed": lambda store, run_id: _closes_by_task(store, run_id, complete_workflow(
        {"nested": [1, 2.5, None, "ü"]})),
    "failed": lambda store, run_id: _closes_by_task(store, run_id, Command(
        EventType.WORKFLOW_EXECUTION_FAILED, {"failure": {
            "message": "boom", "source": "Test", "application_failure_info": {"type": "X"}}})),
    "continued as new": lambda store, run_id: _closes_by_task(store, run_id, Command(
        EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW, {
            "workflow_type": "Wf", "task_queue": QUEUE, "input": [payload(2)],
            "execution_timeout": None})),
    "terminated": lambda store, run_id: store.terminate_workflow(
        "wf-1", run_id, "enough", [payload("why")], "client", T0 + 1),
    "timed out": lambda store, run_id: store.time_out_executions(T0 + 5, 10),
}


@pytest.mark.parametrize("close", list(CLOSES))
async def test_wait_closed_is_handed_the_closed_row_instead_of_reading_it(
        store: DatabaseStore, monkeypatch: pytest.MonkeyPatch, close: str) -> None:
    run_id = await start(store, "wf-1", execution_timeout=5, **RICH)
    reads = Reads(store, monkeypatch)
    waiting = asyncio.create_task(store.wait_closed(run_id, None))
    await asyncio.wait_for(reads.first.wait(), HANG_GUARD)

    await CLOSES[close](store, run_id)

    row = await asyncio.wait_for(waiting, HANG_GUARD)
    # Only the first look read the row; the close's wake-up brought it.
    assert [r.status for r in reads.rows] == [ExecutionStatus.RUNNING]
    assert row is not None and row.status != ExecutionStatus.RUNNING
    assert row == await store.get_execution(None, run_id)
    assert row.memo == RICH["memo"]
    assert row.history_length == len(await store.get_history(run_id))
    if close == "continued as new":
        assert row.next_run_id == "run-next"


async def test_a_close_no_wake_up_announces_is_still_seen(
        store: DatabaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """As if the process that closed the run crashed between its commit and telling the
    others: on PostgreSQL the waiter looks again on its own; on SQLite the writer sees the
    commit in the file's change counter."""
    monkeypatch.setattr(wakeup, "LOOK_AGAIN_SECONDS", 0.05)
    run_id = await start(store, "wf-1")
    reads = Reads(store, monkeypatch)
    waiting = asyncio.create_task(store.wait_closed(run_id, None))
    await asyncio.wait_for(reads.first.wait(), HANG_GUARD)

    def close_silently(tx: Tx) -> None:
        # No ``tx.wake``: the commit announces nothing, in this process or to others.
        tx.run("UPDATE executions SET status = ?, close_time = ?, result = ? WHERE run_id = ?",
               (ExecutionStatus.COMPLETED, T0 + 1, dumps(payload("quiet")), run_id))

    other = open_blocking(store.url)
    try:
        await asyncio.get_running_loop().run_in_executor(None, other.write, close_silently)
    finally:
        other.close()

    row = await asyncio.wait_for(waiting, HANG_GUARD)
    assert row is not None
    assert (row.status, row.result) == (ExecutionStatus.COMPLETED, payload("quiet"))
    assert row == await store.get_execution(None, run_id)
