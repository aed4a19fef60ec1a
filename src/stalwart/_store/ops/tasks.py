"""Store operations on leased work: workflow tasks and activity tasks."""

from __future__ import annotations

from typing import Any

from ..._model.events import EV
from ..base import (
    ActivityTaskClaim,
    CompletionResult,
    ExecutionStatus,
    StartResult,
    StartWorkflowRequest,
    WorkflowTaskClaim,
    WorkflowTaskCompletion,
    refill_tokens,
)
from ..tx import Pending, Tx, dumps, loads
from . import payloads, standalone, streams
from .activity_steering import HIDDEN_AT, paused_deadline
from .claims import claim_one_workflow_task, load_claims
from .completion import (
    RUN_FOR_TASK_SQL,
    close_reads,
    closes_run,
    complete_workflow_task,
    record_workflow_task,
)
from .executions import (
    ACTIVITY_COLUMNS,
    ADD_WORKFLOW_TASK_SQL,
    AFFINITY_GRACE_SECONDS,
    CHAINED_TASK_LEASE_SECONDS,
    CloseReads,
    admit_start,
    append_event,
    insert_execution,
    insert_inbox,
    lock_run,
    start_workflow,
    timeouts_deadline,
    wake_for_task,
)


def start_workflow_with_task(tx: Tx,
                             request: StartWorkflowRequest,
                             completion: WorkflowTaskCompletion,
                             now: float) -> tuple[StartResult, CompletionResult | None]:
    """Start a run and commit its first workflow task, already run by the starting process's
    worker, in one transaction. If the start did not create a new run (the id was running),
    nothing of the completion is written."""
    if request.eager_worker_id is None or request.first_task_backoff or \
            request.start_signal is not None or request.start_update is not None:
        result = start_workflow(tx, request, now)
        if not result.started or result.eager_task is None:
            return result, None
        return result, complete_workflow_task(tx, completion, now)
    existing = admit_start(tx, request, now)
    if existing is not None:
        return existing, None
    # The run's first task took only its start event: it commits with the run, without a
    # task row of its own in between.
    run = insert_execution(tx, request, now, task=False)
    return StartResult(request.run_id, started=True), record_workflow_task(
        tx, completion, run, 2, False, now, has_task=False)


# A task this worker may claim: not offered to another worker, or offered long enough ago
# (``AFFINITY_GRACE_SECONDS``): (worker_id, visible_at before which any worker may).
CLAIMABLE_AFFINITY = "(affinity IS NULL OR affinity = ? OR visible_at <= ?)"


def has_ready_workflow_task(tx: Tx, task_queue: str, worker_id: str, now: float) -> bool:
    return tx.one("SELECT 1 FROM workflow_tasks WHERE task_queue = ? AND lease_owner IS NULL "
                  f"AND visible_at <= ? AND {CLAIMABLE_AFFINITY} LIMIT 1",
                  (task_queue, now, worker_id, now - AFFINITY_GRACE_SECONDS)) is not None or \
        tx.one("SELECT 1 FROM workflow_tasks WHERE task_queue = ? AND lease_owner IS NOT NULL "
               "AND lease_expires_at <= ? LIMIT 1", (task_queue, now)) is not None


def has_ready_activity_task(tx: Tx, task_queue: str, now: float) -> bool:
    return tx.one("SELECT 1 FROM activity_tasks WHERE task_queue = ? AND lease_owner IS NULL "
                  "AND visible_at <= ? LIMIT 1", (task_queue, now)) is not None


def claim_workflow_tasks(tx: Tx, task_queue: str,
                         worker_id: str, now: float, lease_seconds: float,
                         limit: int) -> list[WorkflowTaskClaim]:
    rows = tx.all(
        "WITH picked AS (SELECT run_id AS picked_run FROM workflow_tasks WHERE task_queue = ? "
        f"AND ((lease_owner IS NULL AND visible_at <= ? AND {CLAIMABLE_AFFINITY}) OR "
        "(lease_owner IS NOT NULL AND lease_expires_at <= ?)) "
        f"ORDER BY priority, visible_at LIMIT ?{tx.dialect.skip_locked}) "
        "UPDATE workflow_tasks AS w SET lease_owner = ?, lease_expires_at = ?, affinity = ? "
        "FROM picked WHERE w.run_id = picked.picked_run RETURNING run_id, attempt, visible_at",
        (task_queue, now, worker_id, now - AFFINITY_GRACE_SECONDS, now, limit, worker_id,
         now + lease_seconds, worker_id))
    if not rows:
        return []
    rows.sort(key=lambda r: r[2])
    return load_claims(tx, [(r[0], r[1]) for r in rows])


def fail_workflow_task(tx: Tx, run_id: str, worker_id: str,
                       failure: dict[str, Any], retry_at: float, now: float,
                       inbox_max_id: int = 0) -> None:
    """The task failed; the inputs it took (inbox rows up to ``inbox_max_id``) are recorded
    before its failure, where Temporal has them, and it is retried at ``retry_at``."""
    end_workflow_task_attempt(tx, run_id, worker_id, {"failure": failure,
                                                      "identity": worker_id}, retry_at, now,
                              inbox_max_id)


def time_out_workflow_task(tx: Tx, run_id: str, worker_id: str, inbox_max_id: int,
                           now: float) -> None:
    """The worker's task took longer than the run's task timeout: Temporal has timed it out
    by now (``WorkflowTaskTimedOut``, START_TO_CLOSE; stored as a failed task that says so),
    refuses the late completion and schedules the task again at once. The inputs the task
    took (inbox rows up to ``inbox_max_id``) are recorded before it, where Temporal has
    them."""
    end_workflow_task_attempt(tx, run_id, worker_id, TIMED_OUT_TASK | {"identity": worker_id},
                              now, now, inbox_max_id)


# A failed task row that Temporal shows as WorkflowTaskTimedOut.
TIMED_OUT_TASK: dict[str, Any] = {"timeout_type": "START_TO_CLOSE"}


def end_workflow_task_attempt(tx: Tx, run_id: str, worker_id: str,
                              attributes: dict[str, Any], retry_at: float,
                              now: float, inbox_max_id: int = 0) -> None:
    locked = lock_run(tx, run_id)
    task = tx.one("SELECT lease_owner, attempt, task_queue FROM workflow_tasks "
                  "WHERE run_id = ?" + tx.dialect.for_update, (run_id,))
    if task is None or task[0] != worker_id or locked is None:
        return
    if task[1] == 1:
        # Recorded once per failure streak, so a crash loop does not bloat the history.
        next_event_id = locked[2]
        if inbox_max_id:
            next_event_id += tx.count(
                "INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
                "SELECT run_id, ? + ROW_NUMBER() OVER (ORDER BY id) - 1, event_type, "
                "timestamp, attributes FROM inbox WHERE run_id = ? AND id <= ?",
                (next_event_id, run_id, inbox_max_id))
            tx.run("DELETE FROM inbox WHERE run_id = ? AND id <= ?", (run_id, inbox_max_id))
        append_event(tx, run_id, next_event_id, EV.WORKFLOW_TASK_FAILED, now,
                     attributes)
        tx.run("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
               (next_event_id + 1, run_id))
    tx.run("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
           "visible_at = ?, attempt = attempt + 1, affinity = NULL "
           "WHERE run_id = ?", (retry_at, run_id))
    if retry_at <= now:
        tx.wake("workflow_task", task[2])
    else:
        tx.due(retry_at)


def release_workflow_task(tx: Tx, run_id: str,
                          worker_id: str, now: float) -> None:
    row = tx.one("UPDATE workflow_tasks SET lease_owner = NULL, "
                 "lease_expires_at = NULL, visible_at = ?, affinity = NULL "
                 "WHERE run_id = ? AND lease_owner = ? RETURNING task_queue",
                 (now, run_id, worker_id))
    if row is not None:
        tx.wake("workflow_task", row[0])


def take_rate_tokens(tx: Tx, task_queue: str, rate: float, wanted: int,
                     now: float) -> int:
    """How many activities the queue's shared token bucket lets start now (and take them).
    The bucket row is locked, so workers on every machine draw from the same tokens."""
    tx.run("INSERT INTO activity_rate_limits (task_queue, rate, tokens, updated_at) "
           "VALUES (?, ?, ?, ?) ON CONFLICT (task_queue) DO NOTHING",
           (task_queue, rate, max(1.0, rate), now))
    row = tx.one("SELECT tokens, updated_at FROM activity_rate_limits WHERE "
                 "task_queue = ?" + tx.dialect.for_update, (task_queue,))
    assert row is not None
    tokens = refill_tokens(rate, float(row[0]), float(row[1]), now)
    granted = min(wanted, int(tokens))
    tx.run("UPDATE activity_rate_limits SET rate = ?, tokens = ?, updated_at = ? "
           "WHERE task_queue = ?", (rate, tokens - granted, now, task_queue))
    return granted


def claim_activity_tasks(tx: Tx, task_queue: str,
                         worker_id: str, now: float, limit: int,
                         rate_limit: float | None = None) -> list[ActivityTaskClaim]:
    if rate_limit is not None:
        granted = take_rate_tokens(tx, task_queue, rate_limit, limit, now)
        if granted <= 0:
            return []
        claims = claim_activity_rows(tx, task_queue, worker_id, now, granted)
        if len(claims) < granted:
            tx.run("UPDATE activity_rate_limits SET tokens = tokens + ? "
                   "WHERE task_queue = ?", (granted - len(claims), task_queue))
        return claims
    return claim_activity_rows(tx, task_queue, worker_id, now, limit)


def claim_activity_rows(tx: Tx, task_queue: str,
                        worker_id: str, now: float,
                        limit: int) -> list[ActivityTaskClaim]:
    rows = tx.all(
        f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE task_queue = ? AND "
        "lease_owner IS NULL AND visible_at <= ? ORDER BY priority, visible_at LIMIT ?"
        + tx.dialect.skip_locked, (task_queue, now, limit))
    if not rows:
        return []
    claims = []
    updates = []
    for r in rows:
        options = loads(r[8])
        deadline = timeouts_deadline(options, r[10], r[11], now, None)
        updates.append((worker_id, now, deadline, r[0], r[1]))
        claims.append(ActivityTaskClaim(
            run_id=r[0], seq=r[1], workflow_id=r[2], workflow_type=r[3], activity_type=r[4],
            activity_id=r[5], task_queue=r[6],
            input=payloads.unpack_rows(tx, r[0], [r[7]])[0], options=options,
            attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11], started_at=now,
            heartbeat_details=loads(r[13]) if r[13] else []))
    tx.many(
            "UPDATE activity_tasks SET lease_owner = ?, started_at = ?, heartbeat_at = NULL, "
            "deadline_at = ? WHERE run_id = ? AND seq = ?", updates)
    for claim in claims:
        tx.due(timeouts_deadline(claim.options, claim.scheduled_at,
                                 claim.attempt_scheduled_at, now, None))
    return claims


def previous_failure(row: Any) -> dict[str, Any]:
    """The failure of the attempt before the one that closed the activity, for the close
    event (Temporal's ActivityTaskStarted keeps it as ``lastFailure``); nothing on attempt 1."""
    return {"last_failure": loads(row[8])} if row[8] else {}


def leased_activity(tx: Tx, run_id: str, seq: int, attempt: int,
                    worker_id: str | None) -> Any:
    return holds_lease(lock_activity(tx, run_id, seq).one(), attempt, worker_id)


LOCK_ACTIVITY_COLUMNS = ("task_queue, lease_owner, attempt, started_at, options, scheduled_at, "
                         "paused, reset_requested, last_failure")


def lock_activity(tx: Tx, run_id: str, seq: int) -> Pending:
    return tx.later(f"SELECT {LOCK_ACTIVITY_COLUMNS} FROM activity_tasks "
                    "WHERE run_id = ? AND seq = ?" + tx.dialect.for_update, (run_id, seq))


def holds_lease(row: Any, attempt: int, worker_id: str | None) -> Any:
    """The activity's row if this attempt (and, given, this worker) still holds it."""
    if row is None or row[2] != attempt:
        return None
    if worker_id is not None and row[1] != worker_id:
        return None
    return row


def complete_activity_task(tx: Tx, run_id: str, seq: int,
                           attempt: int, worker_id: str | None, result: dict[str, Any],
                           identity: str, now: float, claim_workflow_task: bool
                           ) -> tuple[bool, WorkflowTaskClaim | None]:
    locked = lock_run(tx, run_id)
    if locked is None:
        # No workflow run: an activity started from a client, or nothing (closed, gone).
        if not standalone.is_standalone(tx, run_id) or \
                leased_activity(tx, run_id, seq, attempt, worker_id) is None:
            return False, None
        standalone.close(tx, run_id, standalone.COMPLETED, now, result=result,
                         identity=identity)
        return True, None
    row = leased_activity(tx, run_id, seq, attempt, worker_id)
    if row is None:
        return False, None
    tx.run("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?",
           (run_id, seq))
    insert_inbox(tx, run_id, EV.ACTIVITY_TASK_COMPLETED, now, {
        "seq": seq, "result": result, "attempt": attempt, "identity": identity,
        "started_time": row[3], **previous_failure(row)})
    return True, wake_workflow(tx, locked, run_id, worker_id or "", now,
                               claim_workflow_task and worker_id is not None)


def complete_activity_and_workflow_task(
        tx: Tx, seq: int, attempt: int, result: dict[str, Any],
        started_at: float, completion: WorkflowTaskCompletion,
        now: float) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]:
    """Record an activity's result and the workflow task it caused in one transaction.

    Only when nothing else waits for the run (no workflow task, inbox or update): then the
    worker's speculative activation saw exactly what history will say. Otherwise the result is
    recorded the ordinary way ("fallback") and the speculative activation must be discarded.
    The run's row lock makes "nothing else waits" hold until the commit.
    """
    run_id = completion.run_id
    if tx.guessing and completion.run_row is not None and \
            completion.history_length is not None and attempt == 1:
        locked, closing = _guess_quiet_run(tx, completion, seq, attempt)
        failed_before: dict[str, Any] = {}
    else:
        # Both locks in one round trip where the driver pipelines, the run's row before the
        # activity's; whether anything else waits for the run is read with the activity,
        # once the run's lock is held.
        locking = tx.later(RUN_FOR_TASK_SQL + tx.dialect.for_update, (run_id,))
        activity = tx.later(
            f"SELECT {LOCK_ACTIVITY_COLUMNS}, "
            "EXISTS (SELECT 1 FROM workflow_tasks WHERE run_id = ?) OR "
            "EXISTS (SELECT 1 FROM inbox WHERE run_id = ?) OR "
            "EXISTS (SELECT 1 FROM updates WHERE run_id = ? AND state = 0) "
            "FROM activity_tasks WHERE run_id = ? AND seq = ?" + tx.dialect.for_update,
            (run_id, run_id, run_id, run_id, seq))
        closing = close_reads(tx, completion)
        locked = locking.one()
        if locked is None:
            return "lost", None, None
        row = holds_lease(activity.one(), attempt, completion.worker_id)
        if row is None:
            return "lost", None, None
        busy = bool(row[9])
        if not busy and completion.history_length is not None:
            # A cached instance behind the run (another worker advanced it) must not commit.
            busy = locked[4] != completion.history_length + 1
        if busy:
            _, claim = complete_activity_task(tx, run_id, seq, attempt,
                                              completion.worker_id, result,
                                              completion.identity, now, True)
            return "fallback", None, claim
        if locked[0] != ExecutionStatus.RUNNING:
            return "lost", None, None
        failed_before = previous_failure(row)
    next_event_id = locked[4]
    tx.defer("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
    # Nothing else waits and the run stays locked: the result goes straight into history, as
    # the one input the workflow task takes (the same row the inbox would have moved there),
    # and the task commits without a row of its own.
    event = (run_id, next_event_id, EV.ACTIVITY_TASK_COMPLETED, now, dumps({
        "seq": seq, "result": result, "attempt": attempt, "identity": completion.identity,
        "started_time": started_at, **failed_before}))
    return "committed", record_workflow_task(tx, completion, locked, next_event_id + 1,
                                             False, now, has_task=False,
                                             events=[event], closing=closing), None


# What refutes ``_guess_quiet_run``'s guess, by whether the task closes the run (closing also
# settles accepted updates, state 1, and tells a parent and open children).
_QUIET_RUN = (
    "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM executions WHERE run_id = ? AND status = 1 "
    "AND next_event_id = ? AND workflow_id = ? AND workflow_type = ? AND task_queue = ? "
    "AND first_run_id = ? AND execution_deadline IS NOT DISTINCT FROM ? "
    "AND priority IS NOT DISTINCT FROM ?) "
    "OR NOT EXISTS (SELECT 1 FROM activity_tasks WHERE run_id = ? AND seq = ? "
    "AND attempt = ? AND lease_owner = ? AND last_failure IS NULL) "
    "OR EXISTS (SELECT 1 FROM workflow_tasks WHERE run_id = ?) "
    "OR EXISTS (SELECT 1 FROM inbox WHERE run_id = ?) ")
_NOT_QUIET_RUN = {
    False: _QUIET_RUN + "OR EXISTS (SELECT 1 FROM updates WHERE run_id = ? AND state = 0)",
    True: _QUIET_RUN + "OR EXISTS (SELECT 1 FROM updates WHERE run_id = ? AND state IN (0, 1)) "
    "OR EXISTS (SELECT 1 FROM executions WHERE run_id = ? AND parent_run_id IS NOT NULL) "
    "OR EXISTS (SELECT 1 FROM executions WHERE parent_run_id = ? AND status = 1)",
}


def _guess_quiet_run(tx: Tx, completion: WorkflowTaskCompletion, seq: int, attempt: int
                     ) -> tuple[tuple[Any, ...], CloseReads | None]:
    """``complete_activity_and_workflow_task``'s reads, guessed: the run as the worker last
    committed it (``completion.run_row``, its history ``completion.history_length`` long),
    its activity's first attempt still leased to the worker, nothing else waiting for the
    run, and, if the task closes it, no update, parent or open child to tell. The same two
    locks are taken first; the server then checks the guess (``Tx.assume_none``) where the
    careful path reads, so whatever the guess gets wrong, that path decides instead."""
    run_id = completion.run_id
    assert completion.run_row is not None and completion.history_length is not None
    (_, workflow_id, workflow_type, task_queue, _, first_run_id, deadline,
     priority) = completion.run_row
    next_event_id = completion.history_length + 1
    for_update = tx.dialect.for_update
    tx.run(f"SELECT 1 FROM executions WHERE run_id = ?{for_update}", (run_id,))
    tx.run(f"SELECT 1 FROM activity_tasks WHERE run_id = ? AND seq = ?{for_update}",
           (run_id, seq))
    closes = closes_run(completion)
    params: tuple[Any, ...] = (
        run_id, next_event_id, workflow_id, workflow_type, task_queue, first_run_id, deadline,
        priority, run_id, seq, attempt, completion.worker_id, run_id, run_id, run_id)
    tx.assume_none(_NOT_QUIET_RUN[closes], (*params, run_id, run_id) if closes else params)
    locked = (ExecutionStatus.RUNNING, workflow_id, workflow_type, task_queue, next_event_id,
              first_run_id, deadline, priority)
    return locked, CloseReads.none() if closes else None


def wake_workflow(tx: Tx, locked: Any, run_id: str,
                  worker_id: str, now: float, claim: bool) -> WorkflowTaskClaim | None:
    """Give a run with new inbox input a workflow task; ``locked`` is its locked row.
    ``claim``: ``worker_id`` has the run cached and takes the task at once."""
    if locked[1] != ExecutionStatus.RUNNING:
        return None
    task_queue = locked[0]
    params = (run_id, task_queue, now, run_id, run_id)
    row = tx.one(ADD_WORKFLOW_TASK_SQL + " RETURNING affinity", params)
    if row is None:
        # The run had a task already: its pollers were woken when it was made.
        tx.wake("workflow_task", task_queue)
        return None
    if claim:
        return claim_one_workflow_task(tx, run_id, worker_id, now,
                                       CHAINED_TASK_LEASE_SECONDS)
    wake_for_task(tx, task_queue, row[0])
    return None


def fail_activity_task(tx: Tx, run_id: str, seq: int,
                       attempt: int, worker_id: str | None, failure: dict[str, Any],
                       final_failure: dict[str, Any] | None, retry_at: float | None,
                       heartbeat_details: list[dict[str, Any]] | None, event_type: str,
                       identity: str, now: float) -> bool:
    locked = lock_run(tx, run_id)
    alone = locked is None and standalone.is_standalone(tx, run_id)
    if locked is None and not alone:
        return False
    row = leased_activity(tx, run_id, seq, attempt, worker_id)
    if row is None:
        return False
    streams.mark_attempt_failed(tx, run_id, seq, attempt, now)
    if retry_at is not None:
        options = loads(row[4])
        paused, reset = bool(row[6]), bool(row[7])
        if reset:
            # A reset asked while this attempt ran: the next attempt is the first, at once.
            retry_at = now
        # A paused activity's retry waits, hidden from claiming, until it is unpaused.
        deadline = paused_deadline(options, row[5]) if paused else \
            timeouts_deadline(options, row[5], retry_at, None, None)
        tx.run(
            f"UPDATE activity_tasks SET attempt = {'1' if reset else 'attempt + 1'}, "
            "lease_owner = NULL, started_at = NULL, heartbeat_at = NULL, visible_at = ?, "
            "attempt_scheduled_at = ?, last_failure = ?, "
            "heartbeat_details = COALESCE(?, heartbeat_details), deadline_at = ?, "
            "cancel_requested = FALSE, reset_requested = FALSE, paused_visible_at = ?, "
            "last_attempt_at = ?, last_worker = ? WHERE run_id = ? AND seq = ?",
            (HIDDEN_AT if paused else retry_at, retry_at, dumps(failure),
             dumps(heartbeat_details) if heartbeat_details is not None else None,
             deadline, retry_at if paused else None, now, row[1] or identity, run_id, seq))
        if not paused:
            tx.wake("activity_task", row[0])
            tx.due(retry_at)
        tx.due(deadline)
        return True
    if alone:
        standalone.close_failed(tx, run_id, event_type, final_failure or failure, identity, now)
        return True
    tx.run("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?",
           (run_id, seq))
    insert_inbox(tx, run_id, event_type, now, {
        "seq": seq, "failure": final_failure or failure, "attempt": attempt,
        "identity": identity, "started_time": row[3], **previous_failure(row)})
    wake_workflow(tx, locked, run_id, "", now, False)
    return True


def heartbeat_activity_task(tx: Tx, run_id: str, seq: int,
                            attempt: int, worker_id: str | None, details: list[dict[str, Any]],
                            now: float) -> bool | None:
    """Record a heartbeat of this attempt; whether cancellation was asked for (None: the
    attempt is no longer running). ``worker_id`` None: from a task token, whoever holds the
    attempt (its worker may not yet have handed it over to async completion)."""
    row = tx.one("SELECT lease_owner, attempt, options, scheduled_at, "
                 "attempt_scheduled_at, started_at, cancel_requested FROM "
                 "activity_tasks WHERE run_id = ? AND seq = ?" + tx.dialect.for_update,
                 (run_id, seq))
    if row is None or row[1] != attempt or row[0] is None or (
            worker_id is not None and row[0] != worker_id):
        return None
    deadline = timeouts_deadline(loads(row[2]), row[3], row[4], row[5], now)
    tx.run("UPDATE activity_tasks SET heartbeat_at = ?, heartbeat_details = ?, "
           "deadline_at = ?, heartbeat_count = heartbeat_count + 1 WHERE run_id = ? AND seq = ?",
           (now, dumps(details), deadline, run_id, seq))
    return bool(row[6])
