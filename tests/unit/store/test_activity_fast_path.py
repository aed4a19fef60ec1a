"""An activity's result committed with the workflow task it causes (the worker's fast path):
"committed" only when nothing else waits for the run and the worker's copy of it is current,
"fallback" (the result recorded the ordinary way, a workflow task made) or "lost" otherwise.

Where the driver guesses (PostgreSQL: the run as the worker last committed it, checked by the
server with the writes), every case must come out exactly as when it reads first; the guess
only saves the round trip of the reads (counted on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from stalwart._model.events import EventType
from stalwart._store.base import CompletionResult, ExecutionStatus, WorkflowTaskCompletion
from stalwart._store.database import DatabaseStore
from tests.helpers.postgres import WRITER_THREADS, count_round_trips

from .helpers import (
    QUEUE,
    T0,
    WORKER,
    claim_one,
    complete,
    complete_workflow,
    decided,
    event_types,
    payload,
    schedule,
    start,
)

STARTED = T0 + 1


async def _one_activity(store: DatabaseStore, workflow_id: str = "wf"
                        ) -> tuple[str, CompletionResult, Any]:
    """A run whose first task scheduled activity 1, leased by ``WORKER`` (attempt 1)."""
    run_id = await start(store, workflow_id)
    claim = await claim_one(store, T0)
    first = await complete(store, claim, [schedule(1)], T0)
    assert first.accepted and first.run_row is not None
    claims = await store.claim_activity_tasks(QUEUE, WORKER, STARTED, 10)
    assert [(c.run_id, c.seq, c.attempt) for c in claims] == [(run_id, 1, 1)]
    return run_id, first, claim


def _closing(claim: Any, first: CompletionResult, **changes: Any) -> WorkflowTaskCompletion:
    completion = WorkflowTaskCompletion(
        run_id=claim.run_id, worker_id=WORKER, identity=WORKER, inbox_max_id=0,
        workflow_time=T0 + 2, decisions=decided(claim, [complete_workflow("r")]),
        history_length=first.history_length, run_row=first.run_row)
    for name, value in changes.items():
        setattr(completion, name, value)
    return completion


def _round_trips(store: DatabaseStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """PostgreSQL's round trips of the store's writes from here on; always 0 on SQLite."""
    if store.url.startswith("postgres"):
        return count_round_trips(monkeypatch, threads=WRITER_THREADS)
    return [0]


async def test_a_quiet_run_commits_the_result_and_the_close_together(
        store: DatabaseStore, monkeypatch: pytest.MonkeyPatch) -> None:
    run_id, first, claim = await _one_activity(store)
    round_trips = _round_trips(store, monkeypatch)
    outcome, committed, claimed = await store.complete_activity_and_workflow_task(
        1, 1, payload("ok"), STARTED, _closing(claim, first), T0 + 2)
    assert outcome == "committed" and committed is not None and claimed is None
    if store.url.startswith("postgres"):
        assert round_trips[0] == 1  # the commit's: the reads were guessed
    history = await store.get_history(run_id)
    assert event_types(history)[-4:] == [
        EventType.ACTIVITY_TASK_SCHEDULED, EventType.ACTIVITY_TASK_COMPLETED,
        EventType.WORKFLOW_TASK_COMPLETED, EventType.WORKFLOW_EXECUTION_COMPLETED]
    completed = history[-3]
    assert completed.attributes["result"] == payload("ok")
    assert "last_failure" not in completed.attributes
    execution = await store.get_execution(None, run_id)
    assert execution is not None and execution.status == ExecutionStatus.COMPLETED
    assert execution.history_length == len(history)


async def test_a_signal_waiting_sends_the_result_the_ordinary_way(
        store: DatabaseStore) -> None:
    run_id, first, claim = await _one_activity(store)
    await store.signal_workflow("wf", run_id, "nudge", [payload(1)], "client", T0 + 1.5)
    outcome, committed, claimed = await store.complete_activity_and_workflow_task(
        1, 1, payload("ok"), STARTED, _closing(claim, first), T0 + 2)
    # The signal made the run a workflow task already: the result joins its input.
    assert (outcome, committed, claimed) == ("fallback", None, None)
    task = await claim_one(store, T0 + 3)
    assert [e.event_type for e in task.inbox] == [
        EventType.WORKFLOW_EXECUTION_SIGNALED, EventType.ACTIVITY_TASK_COMPLETED]
    execution = await store.get_execution(None, run_id)
    assert execution is not None and execution.status == ExecutionStatus.RUNNING
    assert EventType.WORKFLOW_EXECUTION_COMPLETED not in event_types(
        await store.get_history(run_id))


async def test_a_worker_behind_the_run_does_not_commit_its_task(store: DatabaseStore) -> None:
    run_id, first, claim = await _one_activity(store)
    behind = _closing(claim, first, history_length=first.history_length - 1)
    outcome, committed, claimed = await store.complete_activity_and_workflow_task(
        1, 1, payload("ok"), STARTED, behind, T0 + 2)
    assert (outcome, committed) == ("fallback", None)
    # The result waits as input of a workflow task, which the worker took at once.
    assert claimed is not None and [e.event_type for e in claimed.inbox] == [
        EventType.ACTIVITY_TASK_COMPLETED]
    execution = await store.get_execution(None, run_id)
    assert execution is not None and execution.status == ExecutionStatus.RUNNING


async def test_a_result_of_an_attempt_no_longer_leased_is_lost(store: DatabaseStore) -> None:
    run_id, first, claim = await _one_activity(store)
    before = await store.get_history(run_id)
    other = _closing(claim, first, worker_id="another-worker")
    outcome, committed, claimed = await store.complete_activity_and_workflow_task(
        1, 1, payload("ok"), STARTED, other, T0 + 2)
    assert (outcome, committed, claimed) == ("lost", None, None)
    assert await store.get_history(run_id) == before


async def test_a_changed_run_row_is_read_not_guessed(store: DatabaseStore) -> None:
    """The worker's copy of the run's row disagrees with the row (here: another task queue
    than the row's): the result still commits, with the row as the store has it."""
    run_id, first, claim = await _one_activity(store)
    assert first.run_row is not None
    stale = list(first.run_row)
    stale[3] = "a-queue-the-run-is-not-on"
    completion = WorkflowTaskCompletion(
        run_id=run_id, worker_id=WORKER, identity=WORKER, inbox_max_id=0,
        workflow_time=T0 + 2, decisions=decided(claim, [schedule(2)]),
        history_length=first.history_length, run_row=tuple(stale))
    outcome, committed, _ = await store.complete_activity_and_workflow_task(
        1, 1, payload("ok"), STARTED, completion, T0 + 2)
    assert outcome == "committed" and committed is not None
    assert committed.run_row is not None and committed.run_row[3] == QUEUE
    # The next activity went to the run's own queue.
    claims = await store.claim_activity_tasks(QUEUE, WORKER, T0 + 3, 10)
    assert [(c.seq, c.task_queue) for c in claims] == [(2, QUEUE)]
