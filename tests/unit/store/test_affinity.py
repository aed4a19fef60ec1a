"""A workflow task made for a run's new input is offered first to the worker that completed the
run's last workflow task (its cache holds the run), for a bounded time, while that worker is
registered; then, or once it is gone, to anyone."""

from __future__ import annotations

from stalwart._model.events import EventType
from stalwart._store.base import WorkerRow
from stalwart._store.database import DatabaseStore
from stalwart._store.ops.executions import AFFINITY_GRACE_SECONDS
from stalwart._store.wakeup import AFFINE_TASK

from .helpers import (
    QUEUE,
    T0,
    WORKER,
    claim_one,
    complete,
    payload,
    schedule,
    start,
    start_timer,
)

OTHER = "worker-b"


async def register(store: DatabaseStore, worker_id: str) -> None:
    await store.register_worker(WorkerRow(worker_id, worker_id, QUEUE, "elsewhere", 0, "", T0))


async def sleeping_run(store: DatabaseStore, worker: str = WORKER) -> str:
    """A run whose last workflow task ``worker`` completed, waiting on a 10 s timer."""
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0, worker=worker)
    assert (await complete(store, claim, [start_timer(1, 10)], T0, worker=worker)).accepted
    return run_id


async def test_a_fired_timer_is_offered_to_the_worker_that_ran_the_run(
        store: DatabaseStore) -> None:
    await register(store, WORKER)
    await register(store, OTHER)
    await sleeping_run(store)
    affine = store.subscribe((AFFINE_TASK, WORKER))
    queue = store.subscribe(("workflow_task", QUEUE))
    try:
        assert await store.fire_due_timers(T0 + 10, 100) == 1
        # Only the affine worker's poller is woken (a commit's wake-ups are published together:
        # once one is, the others would be).
        assert await affine.wait(10)
        assert not queue.event.is_set()
    finally:
        affine.close()
        queue.close()
    assert await store.claim_workflow_tasks(QUEUE, OTHER, T0 + 10, 10, 1) == []
    claim = await claim_one(store, T0 + 10)
    assert [e.event_type for e in claim.inbox] == [EventType.TIMER_FIRED]


async def test_an_affine_task_nobody_claims_is_anyones_after_the_grace(
        store: DatabaseStore) -> None:
    await register(store, WORKER)
    await register(store, OTHER)
    await sleeping_run(store)
    await store.fire_due_timers(T0 + 10, 100)
    # The sweepers wake when the task becomes anyone's.
    assert await store.next_due_time(T0 + 10) == T0 + 10 + AFFINITY_GRACE_SECONDS
    just_before = T0 + 10 + AFFINITY_GRACE_SECONDS * 0.99
    assert await store.claim_workflow_tasks(QUEUE, OTHER, just_before, 10, 1) == []
    claim = await claim_one(store, T0 + 10 + AFFINITY_GRACE_SECONDS, worker=OTHER)
    assert [e.event_type for e in claim.inbox] == [EventType.TIMER_FIRED]


async def test_a_task_for_an_unregistered_worker_is_anyones(store: DatabaseStore) -> None:
    await register(store, OTHER)
    await sleeping_run(store)  # WORKER never registered (or unregistered since)
    await store.fire_due_timers(T0 + 10, 100)
    await claim_one(store, T0 + 10, worker=OTHER)


async def test_a_worker_that_leaves_gives_up_the_tasks_offered_to_it(
        store: DatabaseStore) -> None:
    await register(store, WORKER)
    await register(store, OTHER)
    await sleeping_run(store)
    await store.fire_due_timers(T0 + 10, 100)
    queue = store.subscribe(("workflow_task", QUEUE))
    try:
        await store.unregister_worker(WORKER)
        assert await queue.wait(10)
    finally:
        queue.close()
    await claim_one(store, T0 + 10, worker=OTHER)


async def test_a_dead_workers_offered_tasks_are_handed_over(store: DatabaseStore) -> None:
    await register(store, WORKER)
    await register(store, OTHER)
    await sleeping_run(store)
    await store.fire_due_timers(T0 + 10, 100)
    await store.release_workflow_tasks_of_worker(WORKER, T0 + 10)
    await claim_one(store, T0 + 10, worker=OTHER)


async def test_a_signal_is_offered_to_the_worker_that_ran_the_run(
        store: DatabaseStore) -> None:
    await register(store, WORKER)
    await register(store, OTHER)
    await sleeping_run(store)
    await store.signal_workflow("wf-1", None, "poke", [], "client", T0 + 1)
    assert await store.claim_workflow_tasks(QUEUE, OTHER, T0 + 1, 10, 1) == []
    claim = await claim_one(store, T0 + 1)
    assert [e.event_type for e in claim.inbox] == [EventType.WORKFLOW_EXECUTION_SIGNALED]


async def test_an_activity_result_from_another_worker_is_offered_to_the_runs_worker(
        store: DatabaseStore) -> None:
    await register(store, WORKER)
    await register(store, OTHER)
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0)
    await complete(store, claim, [schedule(1)], T0)
    [activity] = await store.claim_activity_tasks(QUEUE, OTHER, T0, 1)
    # OTHER ran the activity but has not the run cached: it does not take the workflow task.
    accepted, taken = await store.complete_activity_task(
        run_id, 1, activity.attempt, OTHER, payload(1), OTHER, T0 + 1, False)
    assert accepted and taken is None
    assert await store.claim_workflow_tasks(QUEUE, OTHER, T0 + 1, 10, 1) == []
    claim = await claim_one(store, T0 + 1)
    assert [e.event_type for e in claim.inbox] == [EventType.ACTIVITY_TASK_COMPLETED]


async def test_the_run_follows_the_worker_that_completed_its_last_task(
        store: DatabaseStore) -> None:
    await register(store, WORKER)
    await register(store, OTHER)
    await sleeping_run(store)
    await store.fire_due_timers(T0 + 10, 100)
    # WORKER does not claim in time: OTHER takes the run over, and the next timer is its.
    late = T0 + 10 + AFFINITY_GRACE_SECONDS
    claim = await claim_one(store, late, worker=OTHER)
    await complete(store, claim, [start_timer(2, 10)], late, worker=OTHER)
    await store.fire_due_timers(late + 10, 100)
    assert await store.claim_workflow_tasks(QUEUE, WORKER, late + 10, 10, 1) == []
    await claim_one(store, late + 10, worker=OTHER)
