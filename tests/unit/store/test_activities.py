"""Activity tasks: claim, complete, fail with retry, heartbeats, and a dead worker's leftovers."""

from __future__ import annotations

from stalwart._model.events import Command, EventType
from stalwart._store.database import DatabaseStore

from .helpers import (
    QUEUE,
    T0,
    WORKER,
    claim_one,
    complete,
    event_ids,
    event_types,
    payload,
    schedule,
    start,
)

FAILURE = {"message": "boom", "application_failure_info": {"type": "Boom"}}


async def _scheduled(store: DatabaseStore, *commands: Command) -> str:
    run_id = await start(store, "wf-1")
    claim = await claim_one(store, T0)
    result = await complete(store, claim, list(commands), T0)
    assert result.accepted
    return run_id


async def test_claim_activity_task_carries_input_options_and_attempt(
        store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1, start_to_close=30, heartbeat=5))

    claims = await store.claim_activity_tasks(QUEUE, "act-worker", T0 + 1, 10)

    assert len(claims) == 1
    claim = claims[0]
    assert (claim.run_id, claim.seq, claim.activity_type, claim.activity_id, claim.attempt) == \
        (run_id, 1, "act", "1", 1)
    assert claim.input == [payload(1)]
    assert claim.options["start_to_close_timeout"] == 30
    assert claim.options["heartbeat_timeout"] == 5
    assert (claim.scheduled_at, claim.started_at) == (T0, T0 + 1)
    assert await store.claim_activity_tasks(QUEUE, "other", T0 + 1, 10) == []
    pending = await store.list_pending_activities(run_id)
    assert [(p["seq"], p["state"], p["worker_id"]) for p in pending] == \
        [(1, "started", "act-worker")]


async def test_complete_activity_task_is_fenced_by_worker_and_attempt(
        store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1))
    (claim,) = await store.claim_activity_tasks(QUEUE, "act-worker", T0, 1)

    wrong_worker = await store.complete_activity_task(run_id, 1, 1, "intruder", payload("x"),
                                                      "intruder", T0 + 1, False)
    wrong_attempt = await store.complete_activity_task(run_id, 1, 2, "act-worker",
                                                       payload("x"), "w", T0 + 1, False)
    accepted = await store.complete_activity_task(run_id, 1, 1, "act-worker", payload("ok"),
                                                  "w", T0 + 2, False)
    again = await store.complete_activity_task(run_id, 1, 1, "act-worker", payload("ok"),
                                               "w", T0 + 3, False)

    assert (wrong_worker, wrong_attempt, accepted, again) == \
        ((False, None), (False, None), (True, None), (False, None))
    inbox = await store.get_inbox(run_id)
    assert [(e.event_type, e.attributes["seq"], e.attributes["result"]) for e in inbox] == \
        [(EventType.ACTIVITY_TASK_COMPLETED, 1, payload("ok"))]
    assert inbox[0].attributes["started_time"] == claim.started_at
    assert await store.list_pending_activities(run_id) == []
    wake = await claim_one(store, T0 + 2)
    assert [e.event_type for e in wake.inbox] == [EventType.ACTIVITY_TASK_COMPLETED]


async def test_complete_activity_task_can_claim_the_workflow_task_at_once(
        store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1))
    await store.claim_activity_tasks(QUEUE, WORKER, T0, 1)

    accepted, claim = await store.complete_activity_task(run_id, 1, 1, WORKER, payload("ok"),
                                                         WORKER, T0 + 1, True)

    assert accepted
    assert claim is not None
    assert claim.run_id == run_id
    assert [e.event_type for e in claim.inbox] == [EventType.ACTIVITY_TASK_COMPLETED]
    result = await complete(store, claim, [], T0 + 1)
    assert result.accepted
    assert event_types(await store.get_history(run_id))[-2:] == [
        EventType.ACTIVITY_TASK_COMPLETED, EventType.WORKFLOW_TASK_COMPLETED]


async def test_fail_activity_task_with_retry_reschedules_next_attempt(
        store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1, maximum_attempts=3))
    await store.claim_activity_tasks(QUEUE, "act-worker", T0, 1)

    assert not await store.fail_activity_task(run_id, 1, 1, "intruder", FAILURE, None, T0 + 5,
                                              None, EventType.ACTIVITY_TASK_FAILED, "x", T0)
    assert await store.fail_activity_task(run_id, 1, 1, "act-worker", FAILURE, None, T0 + 5,
                                          [payload("progress")],
                                          EventType.ACTIVITY_TASK_FAILED, "w", T0 + 1)

    assert await store.get_inbox(run_id) == []
    (pending,) = await store.list_pending_activities(run_id)
    assert (pending["attempt"], pending["state"], pending["next_attempt_at"]) == \
        (2, "scheduled", T0 + 5)
    assert pending["last_failure"] == FAILURE
    assert await store.claim_activity_tasks(QUEUE, "act-worker", T0 + 4.9, 1) == []
    (retry,) = await store.claim_activity_tasks(QUEUE, "act-worker", T0 + 5, 1)
    assert retry.attempt == 2
    assert retry.heartbeat_details == [payload("progress")]
    assert retry.attempt_scheduled_at == T0 + 5
    assert retry.scheduled_at == T0


async def test_fail_activity_task_final_records_failure_for_workflow(
        store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1))
    await store.claim_activity_tasks(QUEUE, "act-worker", T0, 1)
    final = {"message": "activity failed", "activity_failure_info": {"retry_state": 4},
             "cause": FAILURE}

    assert not await store.fail_activity_task(run_id, 1, 2, "act-worker", FAILURE, final,
                                              None, None, EventType.ACTIVITY_TASK_FAILED,
                                              "w", T0 + 1)
    assert await store.fail_activity_task(run_id, 1, 1, "act-worker", FAILURE, final, None,
                                          None, EventType.ACTIVITY_TASK_FAILED, "w", T0 + 1)

    (event,) = await store.get_inbox(run_id)
    assert (event.event_type, event.attributes["seq"], event.attributes["failure"]) == \
        (EventType.ACTIVITY_TASK_FAILED, 1, final)
    assert await store.list_pending_activities(run_id) == []
    assert (await claim_one(store, T0 + 1)).run_id == run_id


async def test_fail_activity_task_without_worker_is_the_sweeper_path(
        store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1))
    await store.claim_activity_tasks(QUEUE, "act-worker", T0, 1)

    assert await store.fail_activity_task(run_id, 1, 1, None, FAILURE, FAILURE, None, None,
                                          EventType.ACTIVITY_TASK_TIMED_OUT, "sweeper", T0 + 70)

    (event,) = await store.get_inbox(run_id)
    assert event.event_type == EventType.ACTIVITY_TASK_TIMED_OUT


async def test_heartbeat_moves_heartbeat_deadline(store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1, start_to_close=100, heartbeat=10))
    await store.claim_activity_tasks(QUEUE, "act-worker", T0, 1)
    assert [a.seq for a in await store.find_expired_activities(T0 + 10, 10)] == [1]

    cancel = await store.heartbeat_activity_task(run_id, 1, 1, "act-worker", [payload(3)],
                                                 T0 + 8)

    assert cancel is False
    assert await store.find_expired_activities(T0 + 17.9, 10) == []
    (expired,) = await store.find_expired_activities(T0 + 18, 10)
    assert (expired.seq, expired.heartbeat_at, expired.lease_owner) == (1, T0 + 8, "act-worker")
    assert expired.heartbeat_details == [payload(3)]
    # start_to_close still bounds the attempt however often it heartbeats.
    for beat in range(20, 100, 8):
        await store.heartbeat_activity_task(run_id, 1, 1, "act-worker", [], T0 + beat)
    assert await store.find_expired_activities(T0 + 99.9, 10) == []
    assert [a.seq for a in await store.find_expired_activities(T0 + 100, 10)] == [1]


async def test_heartbeat_from_stale_attempt_or_worker_is_refused(store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1, heartbeat=10))
    await store.claim_activity_tasks(QUEUE, "act-worker", T0, 1)

    assert await store.heartbeat_activity_task(run_id, 1, 1, "intruder", [], T0 + 1) is None
    assert await store.heartbeat_activity_task(run_id, 1, 2, "act-worker", [], T0 + 1) is None
    assert await store.heartbeat_activity_task(run_id, 99, 1, "act-worker", [], T0 + 1) is None


async def test_heartbeat_reports_cancel_requested_by_workflow(store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1, heartbeat=10))
    await store.claim_activity_tasks(QUEUE, "act-worker", T0, 1)
    await store.signal_workflow("wf-1", None, "stop", [], "client", T0 + 1)
    claim = await claim_one(store, T0 + 1)

    await complete(store, claim, [Command(EventType.ACTIVITY_TASK_CANCEL_REQUESTED,
                                          {"seq": 1})], T0 + 1)

    assert await store.heartbeat_activity_task(run_id, 1, 1, "act-worker", [], T0 + 2) is True
    (pending,) = await store.list_pending_activities(run_id)
    assert pending["cancel_requested"] is True


async def test_cancel_request_for_unstarted_activity_cancels_at_once(
        store: DatabaseStore) -> None:
    run_id = await _scheduled(store, schedule(1))
    await store.signal_workflow("wf-1", None, "stop", [], "client", T0 + 1)
    claim = await claim_one(store, T0 + 1)

    await complete(store, claim, [Command(EventType.ACTIVITY_TASK_CANCEL_REQUESTED,
                                          {"seq": 1})], T0 + 1)

    assert await store.claim_activity_tasks(QUEUE, "act-worker", T0 + 2, 1) == []
    (event,) = await store.get_inbox(run_id)
    assert event.event_type == EventType.ACTIVITY_TASK_CANCELED
    assert "canceled_failure_info" in event.attributes["failure"]["cause"]


async def test_dead_worker_activities_found_and_workflow_tasks_released(
        store: DatabaseStore) -> None:
    run_a = await start(store, "wf-a")
    run_b = await start(store, "wf-b")
    claims = await store.claim_workflow_tasks(QUEUE, "dead", T0, 10, 2)
    assert {c.run_id for c in claims} == {run_a, run_b}
    by_run = {c.run_id: c for c in claims}
    await complete(store, by_run[run_a], [schedule(1), schedule(2)], T0, worker="dead")
    (dead_activity,) = await store.claim_activity_tasks(QUEUE, "dead", T0, 1)
    (alive_activity,) = await store.claim_activity_tasks(QUEUE, "alive", T0, 1)

    orphans = await store.find_activities_of_worker("dead")
    released = await store.release_workflow_tasks_of_worker("dead", T0 + 1)

    assert [(a.run_id, a.seq, a.lease_owner) for a in orphans] == \
        [(run_a, dead_activity.seq, "dead")]
    assert [a.seq for a in await store.find_activities_of_worker("alive")] == \
        [alive_activity.seq]
    assert released == 1
    # The released task is claimable at once by another worker, long before its lease ends.
    (reclaimed,) = await store.claim_workflow_tasks(QUEUE, "alive", T0 + 1, 10, 5)
    assert reclaimed.run_id == run_b
    assert (await complete(store, reclaimed, [], T0 + 1, worker="alive")).accepted
    assert not (await complete(store, by_run[run_b], [], T0 + 1, worker="dead")).accepted
    # The abandoned task is recorded as Temporal records it, timed out (START_TO_CLOSE), and
    # so is its retry's completion, though it did nothing.
    history = await store.get_history(run_b)
    assert event_ids(history) == [1, 2, 3]
    assert history[1].event_type == EventType.WORKFLOW_TASK_FAILED
    assert history[1].attributes["timeout_type"] == "START_TO_CLOSE"
    assert history[2].event_type == EventType.WORKFLOW_TASK_COMPLETED
    # The run the dead worker had completed a task of holds no task: nothing recorded.
    assert [e.event_type for e in await store.get_history(run_a)].count(
        EventType.WORKFLOW_TASK_FAILED) == 0
