"""Durable timers, execution timeouts, and the next moment the sweeper must wake."""

from __future__ import annotations

from stalwart._model.events import Command, EventType
from stalwart._store.base import ExecutionStatus
from stalwart._store.database import DatabaseStore

from .helpers import (
    QUEUE,
    T0,
    claim_one,
    complete,
    count_rows,
    event_types,
    payload,
    schedule,
    start,
    start_timer,
)


async def test_fire_due_timers_fires_only_due_timers(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0)
    await complete(store, claim, [start_timer(1, 10), start_timer(2, 60)], T0)

    assert await store.fire_due_timers(T0 + 9.9, 100) == 0
    assert await store.fire_due_timers(T0 + 10, 100) == 1
    assert await store.fire_due_timers(T0 + 10, 100) == 0

    (fired,) = await store.get_inbox(run_id)
    assert (fired.event_type, fired.attributes["seq"], fired.timestamp) == \
        (EventType.TIMER_FIRED, 1, T0 + 10)
    wake = await claim_one(store, T0 + 10)
    assert [e.attributes["seq"] for e in wake.inbox] == [1]


async def test_fire_due_timers_respects_limit_in_fire_order(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0)
    await complete(store, claim, [start_timer(1, 30), start_timer(2, 10), start_timer(3, 20)],
                   T0)

    assert await store.fire_due_timers(T0 + 100, 2) == 2
    assert await store.fire_due_timers(T0 + 100, 2) == 1

    assert [e.attributes["seq"] for e in await store.get_inbox(run_id)] == [2, 3, 1]


async def test_canceled_timer_never_fires(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0)
    await complete(store, claim, [start_timer(1, 10)], T0)
    await store.signal_workflow("wf-1", None, "hurry", [], "client", T0 + 1)
    claim = await claim_one(store, T0 + 1)

    await complete(store, claim, [Command(EventType.TIMER_CANCELED, {"seq": 1})], T0 + 1)

    assert await store.fire_due_timers(T0 + 1000, 100) == 0
    assert await store.get_inbox(run_id) == []


async def test_time_out_executions_closes_expired_runs(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1", execution_timeout=60)
    other = await start(store, "wf-2", execution_timeout=600)
    claim = await store.claim_workflow_tasks(QUEUE, "w", T0, 10, 5)
    by_run = {c.run_id: c for c in claim}
    await complete(store, by_run[run_id], [schedule(1), start_timer(1, 3600)], T0, worker="w")

    assert await store.time_out_executions(T0 + 59, 10) == 0
    assert await store.time_out_executions(T0 + 60, 10) == 1
    assert await store.time_out_executions(T0 + 60, 10) == 0

    execution = await store.get_execution("wf-1", run_id)
    assert execution is not None
    assert execution.status == ExecutionStatus.TIMED_OUT
    assert execution.close_time == T0 + 60
    assert execution.failure is not None
    assert "timeout_failure_info" in execution.failure
    history = await store.get_history(run_id)
    assert event_types(history)[-1] == EventType.WORKFLOW_EXECUTION_TIMED_OUT
    assert [e.event_id for e in history] == list(range(1, len(history) + 1))
    for table in ("workflow_tasks", "activity_tasks", "timers", "inbox"):
        assert await count_rows(store, table, "run_id = ?", run_id) == 0, table
    still_running = await store.get_execution("wf-2", other)
    assert still_running is not None
    assert still_running.status == ExecutionStatus.RUNNING
    # A late completion from the worker that held the run's task cannot reopen it.
    late = await complete(store, by_run[run_id], [], T0 + 61, worker="w")
    assert not late.accepted


async def test_wait_closed_returns_closed_row(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1", execution_timeout=5)
    assert await store.wait_closed(run_id, 0.01) is None

    await store.time_out_executions(T0 + 5, 10)

    closed = await store.wait_closed(run_id, 5)
    assert closed is not None
    assert closed.status == ExecutionStatus.TIMED_OUT


async def test_next_due_time_is_earliest_pending_deadline(store: DatabaseStore) -> None:
    await start(store, "wf-1", execution_timeout=500)
    claim = await claim_one(store, T0)
    await complete(store, claim, [start_timer(1, 120), schedule(1, start_to_close=None,
                                                                schedule_to_close=90)], T0)

    assert await store.next_due_time(T0) == T0 + 90
    (activity,) = await store.claim_activity_tasks(QUEUE, "w", T0, 1)
    await store.complete_activity_task(activity.run_id, 1, 1, "w", payload(None), "w", T0 + 1,
                                       False)
    assert await store.next_due_time(T0 + 1) == T0 + 120
    await store.fire_due_timers(T0 + 120, 10)
    assert await store.next_due_time(T0 + 120) == T0 + 500
