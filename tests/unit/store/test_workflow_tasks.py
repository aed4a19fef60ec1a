"""Starting workflows, claiming and completing workflow tasks, and lease fencing."""

from __future__ import annotations

import pytest

from stalwart._model.events import Command, EventType
from stalwart._store.base import ExecutionStatus
from stalwart._store.database import DatabaseStore
from stalwart._store.ops.executions import AFFINITY_GRACE_SECONDS
from stalwart.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from stalwart.exceptions import WorkflowAlreadyStartedError, WorkflowNotFoundError

from .helpers import (
    QUEUE,
    T0,
    WORKER,
    claim_one,
    complete,
    complete_workflow,
    count_rows,
    event_ids,
    event_types,
    payload,
    schedule,
    start,
    start_request,
    start_timer,
)


async def test_start_workflow_records_started_event_and_workflow_task(
        store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")

    execution = await store.get_execution("wf-1", None)
    assert execution is not None
    assert execution.run_id == run_id
    assert execution.status == ExecutionStatus.RUNNING
    assert execution.first_run_id == run_id
    assert execution.history_length == 1
    history = await store.get_history(run_id)
    assert event_types(history) == [EventType.WORKFLOW_EXECUTION_STARTED]
    attrs = history[0].attributes
    assert attrs["workflow_id"] == "wf-1"
    assert attrs["workflow_type"] == "Wf"
    assert attrs["task_queue"] == QUEUE
    assert attrs["input"] == [payload("in")]
    assert attrs["random_seed"] == 11
    claim = await claim_one(store, T0)
    assert (claim.run_id, claim.workflow_id, claim.attempt, claim.history_length) == \
        (run_id, "wf-1", 1, 1)


async def test_start_workflow_same_id_while_running_is_refused(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")

    with pytest.raises(WorkflowAlreadyStartedError) as caught:
        await store.start_workflow(start_request("wf-1", run_id="other-run"), T0)

    assert caught.value.workflow_id == "wf-1"
    assert caught.value.run_id == run_id
    assert "'wf-1'" in str(caught.value)
    assert await store.get_execution("wf-1", "other-run") is None


async def test_start_workflow_use_existing_returns_running_run(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")

    result = await store.start_workflow(start_request(
        "wf-1", run_id="other-run",
        id_conflict_policy=int(WorkflowIDConflictPolicy.USE_EXISTING)), T0)

    assert (result.run_id, result.started) == (run_id, False)


async def test_start_workflow_after_close_obeys_reuse_policy(store: DatabaseStore) -> None:
    await start(store, "wf-1")
    claim = await claim_one(store, T0)
    assert (await complete(store, claim, [complete_workflow()], T0)).accepted

    with pytest.raises(WorkflowAlreadyStartedError, match="REJECT_DUPLICATE"):
        await store.start_workflow(start_request(
            "wf-1", run_id="second",
            id_reuse_policy=int(WorkflowIDReusePolicy.REJECT_DUPLICATE)), T0 + 1)
    again = await store.start_workflow(start_request("wf-1", run_id="third"), T0 + 2)

    assert (again.run_id, again.started) == ("third", True)


async def test_complete_workflow_task_moves_inbox_into_history_with_consecutive_ids(
        store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    first = await claim_one(store, T0)
    assert (await complete(store, first, [schedule(1), start_timer(1, 30)], T0)).accepted
    await store.signal_workflow("wf-1", None, "note", [payload("a")], "client", T0 + 1)
    await store.signal_workflow("wf-1", run_id, "note", [payload("b")], "client", T0 + 2)

    second = await claim_one(store, T0 + 3)
    assert [e.event_type for e in second.inbox] == [EventType.WORKFLOW_EXECUTION_SIGNALED] * 2
    assert second.history_length == 4
    result = await complete(store, second, [complete_workflow()], T0 + 3)

    assert result.accepted
    history = await store.get_history(run_id)
    assert event_ids(history) == list(range(1, 9))
    assert event_types(history) == [
        EventType.WORKFLOW_EXECUTION_STARTED, EventType.WORKFLOW_TASK_COMPLETED,
        EventType.ACTIVITY_TASK_SCHEDULED, EventType.TIMER_STARTED,
        EventType.WORKFLOW_EXECUTION_SIGNALED, EventType.WORKFLOW_EXECUTION_SIGNALED,
        EventType.WORKFLOW_TASK_COMPLETED, EventType.WORKFLOW_EXECUTION_COMPLETED,
    ]
    assert [e.attributes["input"] for e in history[4:6]] == [[payload("a")], [payload("b")]]
    assert history[6].attributes["workflow_time"] == T0 + 3
    assert await store.get_inbox(run_id) == []
    execution = await store.get_execution("wf-1", run_id)
    assert execution is not None
    assert execution.status == ExecutionStatus.COMPLETED
    assert execution.result == payload("done")
    assert execution.history_length == 8
    # Closing a run leaves no work behind for it.
    for table in ("workflow_tasks", "activity_tasks", "timers", "inbox"):
        assert await count_rows(store, table, "run_id = ?", run_id) == 0, table


async def test_complete_workflow_task_leaves_later_inbox_events_for_next_task(
        store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    first = await claim_one(store, T0)
    # Arrives after the claim: not part of this task's input.
    await store.signal_workflow("wf-1", None, "late", [], "client", T0 + 1)

    result = await complete(store, first, [start_timer(1, 60)], T0 + 2)

    assert result.accepted
    assert result.next_task is not None
    assert [e.event_type for e in result.next_task.inbox] == \
        [EventType.WORKFLOW_EXECUTION_SIGNALED]
    assert result.next_task.history_length == 3
    assert event_ids(await store.get_history(run_id)) == [1, 2, 3]


async def test_complete_workflow_task_with_wrong_worker_is_refused(
        store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0, worker=WORKER)

    result = await complete(store, claim, [complete_workflow()], T0, worker="intruder")

    assert (result.accepted, result.reason) == (False, "lease lost")
    assert event_ids(await store.get_history(run_id)) == [1]
    assert (await complete(store, claim, [schedule(1)], T0, worker=WORKER)).accepted


async def test_expired_lease_is_reclaimed_and_old_owner_is_fenced(store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    stale = await claim_one(store, T0, worker="slow-worker", lease_seconds=5)
    assert await store.claim_workflow_tasks(QUEUE, "fast-worker", T0 + 4, 5, 1) == []

    fresh = await claim_one(store, T0 + 6, worker="fast-worker")
    refused = await complete(store, stale, [schedule(1)], T0 + 7, worker="slow-worker")
    accepted = await complete(store, fresh, [start_timer(1, 5)], T0 + 7, worker="fast-worker")

    assert not refused.accepted
    assert accepted.accepted
    assert event_types(await store.get_history(run_id)) == [
        EventType.WORKFLOW_EXECUTION_STARTED, EventType.WORKFLOW_TASK_COMPLETED,
        EventType.TIMER_STARTED]


async def test_closing_while_a_signal_waits_is_refused_so_workflow_sees_it(
        store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0)
    await store.signal_workflow("wf-1", None, "late", [], "client", T0 + 1)

    result = await complete(store, claim, [complete_workflow()], T0 + 2)

    assert (result.accepted, result.reason) == (False, "unhandled signal")
    # Offered again to the worker that holds the run (see test_affinity.py), then to anyone.
    assert await store.claim_workflow_tasks(QUEUE, "worker-b", T0 + 2, 10, 1) == []
    retry = await claim_one(store, T0 + 2 + AFFINITY_GRACE_SECONDS, worker="worker-b")
    assert [e.event_type for e in retry.inbox] == [EventType.WORKFLOW_EXECUTION_SIGNALED]
    assert (await store.get_execution("wf-1", run_id)) is not None


async def test_fail_workflow_task_records_failure_once_and_delays_retry(
        store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    failure = {"message": "bug in workflow code"}

    first = await claim_one(store, T0)
    await store.fail_workflow_task(run_id, "intruder", failure, T0 + 1, T0)
    assert await store.claim_workflow_tasks(QUEUE, WORKER, T0 + 5, 10, 1) == []
    await store.fail_workflow_task(run_id, WORKER, failure, T0 + 1, T0)
    assert await store.claim_workflow_tasks(QUEUE, WORKER, T0 + 0.5, 10, 1) == []
    second = await claim_one(store, T0 + 1)
    await store.fail_workflow_task(run_id, WORKER, failure, T0 + 3, T0 + 1)
    third = await claim_one(store, T0 + 3)

    assert (first.attempt, second.attempt, third.attempt) == (1, 2, 3)
    history = await store.get_history(run_id)
    assert event_types(history) == [EventType.WORKFLOW_EXECUTION_STARTED,
                                    EventType.WORKFLOW_TASK_FAILED]
    assert history[1].attributes["failure"] == failure
    result = await complete(store, third, [schedule(1)], T0 + 3)
    assert result.accepted
    assert event_ids(await store.get_history(run_id)) == [1, 2, 3, 4]


async def test_signal_to_closed_or_unknown_workflow_is_refused(store: DatabaseStore) -> None:
    await start(store, "wf-1")
    claim = await claim_one(store, T0)
    await complete(store, claim, [complete_workflow()], T0)

    with pytest.raises(WorkflowNotFoundError, match="already closed"):
        await store.signal_workflow("wf-1", None, "s", [], "client", T0 + 1)
    with pytest.raises(WorkflowNotFoundError, match="'nope'"):
        await store.signal_workflow("nope", None, "s", [], "client", T0 + 1)


async def test_continue_as_new_closes_run_and_starts_next_with_same_id(
        store: DatabaseStore) -> None:
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0)
    command = Command(EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW, {
        "workflow_type": "Wf", "task_queue": QUEUE, "input": [payload(2)],
        "execution_timeout": None})

    result = await complete(store, claim, [command], T0 + 1, new_run_id="run-2",
                            new_run_seed=99)

    assert result.accepted
    old = await store.get_execution("wf-1", run_id)
    new = await store.get_execution("wf-1", None)
    assert old is not None and new is not None
    assert (old.status, old.next_run_id) == (ExecutionStatus.CONTINUED_AS_NEW, "run-2")
    assert (new.run_id, new.status, new.first_run_id, new.continued_run_id) == \
        ("run-2", ExecutionStatus.RUNNING, run_id, run_id)
    started = (await store.get_history("run-2"))[0]
    assert started.attributes["input"] == [payload(2)]
    assert started.attributes["random_seed"] == 99
    assert (await store.get_history(run_id))[-1].attributes["new_execution_run_id"] == "run-2"


async def test_workflow_id_prefix_lists_exactly_the_ids_that_start_with_it(
        store: DatabaseStore) -> None:
    # Compared by code point on both databases, whatever the database's collation: an id that
    # differs only in case or punctuation is not a match.
    for workflow_id in ("ab-1", "aB-2", "ab", "a-b", "ac-3", "abé"):
        await start(store, workflow_id)

    rows = await store.list_executions(workflow_id_prefix="ab")

    assert sorted(r.workflow_id for r in rows) == ["ab", "ab-1", "abé"]
