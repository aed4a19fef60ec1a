"""SQLite store operations on leased work: workflow tasks and activity tasks."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..._model.events import CLOSE_EVENT_TYPES, EventType
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
from .connection import WriteContext
from .ops_executions import (
    CLOSE_STATUS,
    append_event,
    claim_one_workflow_task,
    close_run,
    dumps,
    insert_execution,
    loads,
    parent_of,
    start_workflow,
)
from .ops_messages import (
    cancel_external,
    signal_external,
    start_child,
)
from .ops_search_attributes import upsert_memo, upsert_search_attributes

ACTIVITY_COLUMNS = (
    "run_id, seq, workflow_id, workflow_type, activity_type, activity_id, task_queue, input, "
    "options, attempt, scheduled_at, attempt_scheduled_at, started_at, heartbeat_details, "
    "lease_owner, heartbeat_at, last_failure"
)


def mark_activity_async(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                         attempt: int, worker_id: str) -> bool:
    # The attempt now belongs to whoever holds its task token, not to this worker: a dead
    # worker's reclaim must not retry it. Its timeouts still apply.
    return conn.execute("UPDATE activity_tasks SET lease_owner = 'async' WHERE run_id = ? AND "
                        "seq = ? AND attempt = ? AND lease_owner = ?",
                        (run_id, seq, attempt, worker_id)).rowcount == 1


def has_ready_workflow_task(conn: sqlite3.Connection, task_queue: str, worker_id: str,
                             now: float) -> bool:
    row = conn.execute(
        "SELECT 1 FROM workflow_tasks WHERE task_queue = ? AND lease_owner IS NULL "
        "AND visible_at <= ? LIMIT 1", (task_queue, now)).fetchone()
    if row is not None:
        return True
    return conn.execute("SELECT 1 FROM workflow_tasks WHERE task_queue = ? AND "
                        "lease_owner IS NOT NULL AND lease_expires_at <= ? LIMIT 1",
                        (task_queue, now)).fetchone() is not None





def claim_workflow_tasks(ctx: WriteContext, conn: sqlite3.Connection, task_queue: str,
                          worker_id: str, now: float, lease_seconds: float,
                          limit: int) -> list[WorkflowTaskClaim]:
    rows = conn.execute(
        "SELECT run_id FROM workflow_tasks WHERE task_queue = ? AND "
        "((lease_owner IS NULL AND visible_at <= ?) OR "
        "(lease_owner IS NOT NULL AND lease_expires_at <= ?)) "
        "ORDER BY visible_at LIMIT ?", (task_queue, now, now, limit)).fetchall()
    claims = []
    for (run_id,) in rows:
        claim = claim_one_workflow_task(conn, run_id, worker_id, now, lease_seconds)
        if claim is not None:
            claims.append(claim)
    return claims


def timeouts_deadline(options: dict[str, Any], scheduled_at: float, attempt_scheduled_at: float,
                       started_at: float | None, heartbeat_at: float | None) -> float | None:
    candidates = []
    if options.get("schedule_to_close_timeout"):
        candidates.append(scheduled_at + options["schedule_to_close_timeout"])
    if started_at is None:
        if options.get("schedule_to_start_timeout"):
            candidates.append(attempt_scheduled_at + options["schedule_to_start_timeout"])
    else:
        if options.get("start_to_close_timeout"):
            candidates.append(started_at + options["start_to_close_timeout"])
        if options.get("heartbeat_timeout"):
            candidates.append((heartbeat_at or started_at) + options["heartbeat_timeout"])
    return min(candidates) if candidates else None


def complete_workflow_task(ctx: WriteContext, conn: sqlite3.Connection,
                            completion: WorkflowTaskCompletion, now: float) -> CompletionResult:
    run_id = completion.run_id
    task = conn.execute("SELECT lease_owner FROM workflow_tasks WHERE run_id = ?",
                        (run_id,)).fetchone()
    if task is None or task[0] != completion.worker_id:
        return CompletionResult(False, "lease lost")
    execution = conn.execute(
        "SELECT workflow_id, workflow_type, task_queue, next_event_id, status, first_run_id, "
        "execution_deadline FROM executions WHERE run_id = ?", (run_id,)).fetchone()
    if execution is None or execution[4] != ExecutionStatus.RUNNING:
        conn.execute("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))
        return CompletionResult(False, "workflow closed")
    workflow_id, workflow_type, task_queue, next_event_id, _, first_run_id, deadline = execution
    closing = any(c.event_type in CLOSE_EVENT_TYPES for c in completion.commands)
    if closing and conn.execute(
            "SELECT 1 FROM inbox WHERE run_id = ? AND id > ? AND event_type = ? LIMIT 1",
            (run_id, completion.inbox_max_id, EventType.WORKFLOW_EXECUTION_SIGNALED)
    ).fetchone() is not None:
        # A signal arrived while the workflow decided to finish: let it see the signal first.
        conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, visible_at = ? "
                     "WHERE run_id = ?", (now, run_id))
        ctx.wake("workflow_task", task_queue)
        return CompletionResult(False, "unhandled signal")
    event_id = next_event_id
    if (not completion.inbox_max_id and not completion.commands
            and not completion.accepted_updates and next_event_id > 2):
        # Nothing happened (say, an update its validator rejected): leave no trace in history.
        for update_id, update_failure in completion.rejected_updates:
            conn.execute("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND "
                         "update_id = ?", (dumps(update_failure), run_id, update_id))
            ctx.wake("update", update_id)
        finish_workflow_task(ctx, conn, completion, run_id, task_queue, now, CompletionResult(
            True, history_length=next_event_id - 1))
        return CompletionResult(True, history_length=next_event_id - 1)
    if completion.inbox_max_id:
        moved = conn.execute(
            "INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
            "SELECT run_id, ? + ROW_NUMBER() OVER (ORDER BY id) - 1, event_type, timestamp, "
            "attributes FROM inbox WHERE run_id = ? AND id <= ?",
            (event_id, run_id, completion.inbox_max_id)).rowcount
        conn.execute("DELETE FROM inbox WHERE run_id = ? AND id <= ?",
                     (run_id, completion.inbox_max_id))
        event_id += moved
    for accepted in completion.accepted_updates:
        append_event(conn, run_id, event_id, accepted.event_type, now, accepted.attributes)
        event_id += 1
        conn.execute("UPDATE updates SET state = 1 WHERE run_id = ? AND update_id = ?",
                     (run_id, accepted.attributes["update_id"]))
    for update_id, update_failure in completion.rejected_updates:
        conn.execute("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND "
                     "update_id = ?", (dumps(update_failure), run_id, update_id))
        ctx.wake("update", update_id)
    append_event(conn, run_id, event_id, EventType.WORKFLOW_TASK_COMPLETED, now,
                  {"workflow_time": completion.workflow_time, "identity": completion.identity})
    event_id += 1
    result = CompletionResult(True)
    eager_budget = completion.eager_activity_limit
    closed = False
    for command in completion.commands:
        attrs = command.attributes
        etype = command.event_type
        append_event(conn, run_id, event_id, etype, now, attrs)
        event_id += 1
        if etype == EventType.ACTIVITY_TASK_SCHEDULED:
            eager = eager_budget > 0 and attrs["task_queue"] == completion.eager_activity_queue
            options = {k: attrs.get(k) for k in (
                "schedule_to_close_timeout", "schedule_to_start_timeout",
                "start_to_close_timeout", "heartbeat_timeout", "retry_policy",
                "cancellation_type", "local", "header")}
            started_at = now if eager else None
            conn.execute(
                "INSERT INTO activity_tasks (run_id, seq, task_queue, workflow_id, "
                "workflow_type, activity_type, activity_id, input, options, attempt, "
                "scheduled_at, attempt_scheduled_at, visible_at, lease_owner, started_at, "
                "deadline_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                (run_id, attrs["seq"], attrs["task_queue"], workflow_id, workflow_type,
                 attrs["activity_type"], attrs["activity_id"], dumps(attrs["input"]),
                 dumps(options), now, now, now, completion.worker_id if eager else None,
                 started_at, timeouts_deadline(options, now, now, started_at, None)))
            if eager:
                eager_budget -= 1
                result.eager_activities.append(ActivityTaskClaim(
                    run_id=run_id, seq=attrs["seq"], workflow_id=workflow_id,
                    workflow_type=workflow_type, activity_type=attrs["activity_type"],
                    activity_id=attrs["activity_id"], task_queue=attrs["task_queue"],
                    input=attrs["input"], options=options, attempt=1, scheduled_at=now,
                    attempt_scheduled_at=now, started_at=now, heartbeat_details=[]))
            else:
                ctx.wake("activity_task", attrs["task_queue"])
            ctx.due(timeouts_deadline(options, now, now, started_at, None))
        elif etype == EventType.ACTIVITY_TASK_CANCEL_REQUESTED:
            event_id = request_cancel_activity(ctx, conn, run_id, attrs["seq"], event_id, now)
        elif etype == EventType.TIMER_STARTED:
            conn.execute("INSERT OR REPLACE INTO timers (run_id, seq, fire_at) VALUES (?, ?, ?)",
                         (run_id, attrs["seq"], now + attrs["start_to_fire_timeout"]))
            ctx.due(now + attrs["start_to_fire_timeout"])
        elif etype == EventType.TIMER_CANCELED:
            conn.execute("DELETE FROM timers WHERE run_id = ? AND seq = ?", (run_id, attrs["seq"]))
        elif etype == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            start_child(ctx, conn, run_id, workflow_id, attrs, completion.identity, now)
        elif etype == EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            signal_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            cancel_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            upsert_search_attributes(conn, run_id, attrs["search_attributes"])
        elif etype == EventType.WORKFLOW_PROPERTIES_MODIFIED:
            upsert_memo(conn, run_id, attrs["upserted_memo"])
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            conn.execute("UPDATE updates SET state = 3, result = ?, failure = ? WHERE "
                         "run_id = ? AND update_id = ?",
                         (dumps(attrs["result"]) if "result" in attrs else None,
                          dumps(attrs["failure"]) if "failure" in attrs else None, run_id,
                          attrs["update_id"]))
            ctx.wake("update", attrs["update_id"])
        elif etype in CLOSE_EVENT_TYPES:
            closed = True
            next_run_id = None
            if etype == EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
                assert completion.new_run_id is not None
                next_run_id = completion.new_run_id
                attrs["new_execution_run_id"] = next_run_id
                conn.execute("UPDATE history SET attributes = ? WHERE run_id = ? AND "
                             "event_id = ?", (dumps(attrs), run_id, event_id - 1))
            conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                         (event_id, run_id))
            close_run(ctx, conn, run_id, CLOSE_STATUS[EventType(etype)], now,
                       attrs.get("result"), attrs.get("failure"), next_run_id)
            if next_run_id is not None:
                timeout = attrs.get("execution_timeout")
                insert_execution(ctx, conn, StartWorkflowRequest(
                    workflow_id=workflow_id, workflow_type=attrs["workflow_type"],
                    task_queue=attrs["task_queue"], input=attrs["input"], run_id=next_run_id,
                    random_seed=completion.new_run_seed, execution_timeout=timeout,
                    first_run_id=first_run_id, continued_run_id=run_id,
                    memo=attrs.get("memo"), search_attributes=attrs.get("search_attributes"),
                    identity=completion.identity, **parent_of(conn, run_id),
                ), now, now + timeout if timeout else deadline)
            break
    result.history_length = event_id - 1
    if closed:
        return result
    conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?", (event_id, run_id))
    finish_workflow_task(ctx, conn, completion, run_id, task_queue, now, result)
    return result


def finish_workflow_task(ctx: WriteContext, conn: sqlite3.Connection,
                          completion: WorkflowTaskCompletion, run_id: str, task_queue: str,
                          now: float, result: CompletionResult) -> None:
    """Keep the run's workflow task if more input waits (claimed at once by the same worker,
    whose cache is warm), else delete it."""
    if conn.execute("SELECT 1 FROM inbox WHERE run_id = ? LIMIT 1", (run_id,)).fetchone() or \
            conn.execute("SELECT 1 FROM updates WHERE run_id = ? AND state = 0 LIMIT 1",
                         (run_id,)).fetchone():
        if completion.claim_next_task:
            result.next_task = claim_one_workflow_task(conn, run_id, completion.worker_id, now,
                                                        10.0)
            conn.execute("UPDATE workflow_tasks SET attempt = 1 WHERE run_id = ?", (run_id,))
        else:
            conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL,"
                         " visible_at = ?, attempt = 1 WHERE run_id = ?", (now, run_id))
            ctx.wake("workflow_task", task_queue)
    else:
        conn.execute("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))


def request_cancel_activity(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                             seq: int, event_id: int, now: float) -> int:
    row = conn.execute("SELECT lease_owner FROM activity_tasks WHERE run_id = ? AND seq = ?",
                       (run_id, seq)).fetchone()
    if row is None:
        return event_id
    if row[0] is None:
        # Not running anywhere: cancelled at once.
        conn.execute("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
        conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                     "VALUES (?, ?, ?, ?)", (run_id, EventType.ACTIVITY_TASK_CANCELED, now,
                                             dumps({"seq": seq, "failure": {
                                                 "message": "Activity cancelled",
                                                 "source": "Stalwart",
                                                 "activity_failure_info": {"activity_id": str(
                                                     seq)},
                                                 "cause": {"message": "Activity cancelled",
                                                           "canceled_failure_info": {}}}})))
    else:
        conn.execute("UPDATE activity_tasks SET cancel_requested = 1 WHERE run_id = ? AND "
                     "seq = ?", (run_id, seq))
    return event_id


def fail_workflow_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                        worker_id: str, failure: dict[str, Any], retry_at: float,
                        now: float) -> None:
    task = conn.execute("SELECT lease_owner, attempt, task_queue FROM workflow_tasks "
                        "WHERE run_id = ?", (run_id,)).fetchone()
    if task is None or task[0] != worker_id:
        return
    if task[1] == 1:
        # Recorded once per failure streak, so a crash loop does not bloat the history.
        next_event_id = conn.execute("SELECT next_event_id FROM executions WHERE run_id = ?",
                                     (run_id,)).fetchone()[0]
        append_event(conn, run_id, next_event_id, EventType.WORKFLOW_TASK_FAILED, now,
                      {"failure": failure, "identity": worker_id})
        conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                     (next_event_id + 1, run_id))
    conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                 "visible_at = ?, attempt = attempt + 1, affinity = NULL WHERE run_id = ?",
                 (retry_at, run_id))
    ctx.due(retry_at)


def release_workflow_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                           worker_id: str, now: float) -> None:
    row = conn.execute("SELECT task_queue FROM workflow_tasks WHERE run_id = ? AND "
                       "lease_owner = ?", (run_id, worker_id)).fetchone()
    if row is not None:
        conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                     "visible_at = ?, affinity = NULL WHERE run_id = ?", (now, run_id))
        ctx.wake("workflow_task", row[0])


def has_ready_activity_task(conn: sqlite3.Connection, task_queue: str, now: float) -> bool:
    return conn.execute("SELECT 1 FROM activity_tasks WHERE task_queue = ? AND lease_owner IS "
                        "NULL AND visible_at <= ? LIMIT 1", (task_queue, now)).fetchone() \
        is not None


def take_rate_tokens(conn: sqlite3.Connection, task_queue: str, rate: float, wanted: int,
                     now: float) -> int:
    """How many activities the queue's shared token bucket lets start now (and take them)."""
    row = conn.execute("SELECT tokens, updated_at FROM activity_rate_limits WHERE "
                       "task_queue = ?", (task_queue,)).fetchone()
    tokens = refill_tokens(rate, row[0], row[1], now) if row else max(1.0, rate)
    granted = min(wanted, int(tokens))
    conn.execute("INSERT INTO activity_rate_limits (task_queue, rate, tokens, updated_at) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT (task_queue) DO UPDATE SET rate = "
                 "excluded.rate, tokens = excluded.tokens, updated_at = excluded.updated_at",
                 (task_queue, rate, tokens - granted, now))
    return granted


def claim_activity_tasks(ctx: WriteContext, conn: sqlite3.Connection, task_queue: str,
                          worker_id: str, now: float, limit: int,
                          rate_limit: float | None = None) -> list[ActivityTaskClaim]:
    if rate_limit is not None:
        limit = take_rate_tokens(conn, task_queue, rate_limit, limit, now)
        if limit <= 0:
            return []
    rows = conn.execute(
        f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE task_queue = ? AND "
        "lease_owner IS NULL AND visible_at <= ? ORDER BY visible_at LIMIT ?",
        (task_queue, now, limit)).fetchall()
    claims = []
    for r in rows:
        options = loads(r[8])
        deadline = timeouts_deadline(options, r[10], r[11], now, None)
        conn.execute("UPDATE activity_tasks SET lease_owner = ?, started_at = ?, "
                     "heartbeat_at = NULL, deadline_at = ? WHERE run_id = ? AND seq = ?",
                     (worker_id, now, deadline, r[0], r[1]))
        claims.append(ActivityTaskClaim(
            run_id=r[0], seq=r[1], workflow_id=r[2], workflow_type=r[3], activity_type=r[4],
            activity_id=r[5], task_queue=r[6], input=loads(r[7]), options=options,
            attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11], started_at=now,
            heartbeat_details=loads(r[13]) if r[13] else []))
    if rate_limit is not None and len(claims) < limit:
        conn.execute("UPDATE activity_rate_limits SET tokens = tokens + ? WHERE task_queue = ?",
                     (limit - len(claims), task_queue))
    for claim in claims:
        ctx.due(timeouts_deadline(claim.options, claim.scheduled_at,
                                  claim.attempt_scheduled_at, now, None))
    return claims


def leased_activity(conn: sqlite3.Connection, run_id: str, seq: int, attempt: int,
                     worker_id: str | None) -> Any:
    row = conn.execute(
        "SELECT task_queue, lease_owner, attempt, started_at FROM activity_tasks "
        "WHERE run_id = ? AND seq = ?", (run_id, seq)).fetchone()
    if row is None or row[2] != attempt:
        return None
    if worker_id is not None and row[1] != worker_id:
        return None
    return row


def task_queue_of_run(conn: sqlite3.Connection, run_id: str) -> str | None:
    row = conn.execute("SELECT task_queue FROM executions WHERE run_id = ? AND status = 1",
                       (run_id,)).fetchone()
    return row[0] if row else None


def complete_activity_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                            attempt: int, worker_id: str | None, result: dict[str, Any],
                            identity: str, now: float, claim_workflow_task: bool
                            ) -> tuple[bool, WorkflowTaskClaim | None]:
    row = leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False, None
    conn.execute("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)",
                 (run_id, EventType.ACTIVITY_TASK_COMPLETED, now, dumps({
                     "seq": seq, "result": result, "attempt": attempt, "identity": identity,
                     "started_time": row[3]})))
    return True, wake_workflow(ctx, conn, run_id, worker_id or "", now,
                                claim_workflow_task and worker_id is not None)


def complete_activity_and_workflow_task(
        ctx: WriteContext, conn: sqlite3.Connection, seq: int, attempt: int,
        result: dict[str, Any], started_at: float, completion: WorkflowTaskCompletion,
        now: float) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]:
    """Record an activity's result and the workflow task it caused in one transaction.

    Only when nothing else waits for the run (no workflow task, inbox or update): then the
    worker's speculative activation saw exactly what history will say. Otherwise the result is
    recorded the ordinary way ("fallback") and the speculative activation must be discarded.
    """
    run_id = completion.run_id
    if leased_activity(conn, run_id, seq, attempt, completion.worker_id) is None:
        return "lost", None, None
    busy = conn.execute(
        "SELECT 1 FROM workflow_tasks WHERE run_id = ? UNION ALL "
        "SELECT 1 FROM inbox WHERE run_id = ? UNION ALL "
        "SELECT 1 FROM updates WHERE run_id = ? AND state = 0 LIMIT 1",
        (run_id, run_id, run_id)).fetchone()
    if busy is None and completion.history_length is not None:
        # A cached instance behind the run (another worker advanced it) must not commit.
        busy = conn.execute("SELECT 1 FROM executions WHERE run_id = ? AND next_event_id != ?",
                            (run_id, completion.history_length + 1)).fetchone()
    if busy is not None:
        _, claim = complete_activity_task(ctx, conn, run_id, seq, attempt, completion.worker_id,
                                           result, completion.identity, now, True)
        return "fallback", None, claim
    task_queue = task_queue_of_run(conn, run_id)
    if task_queue is None:
        return "lost", None, None
    conn.execute("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
    cursor = conn.execute(
        "INSERT INTO inbox (run_id, event_type, timestamp, attributes) VALUES (?, ?, ?, ?)",
        (run_id, EventType.ACTIVITY_TASK_COMPLETED, now, dumps({
            "seq": seq, "result": result, "attempt": attempt, "identity": completion.identity,
            "started_time": started_at})))
    conn.execute("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, lease_owner, "
                 "lease_expires_at, affinity) VALUES (?, ?, ?, ?, ?, ?)",
                 (run_id, task_queue, now, completion.worker_id, now + 10.0,
                  completion.worker_id))
    completion.inbox_max_id = int(cursor.lastrowid or 0)
    return "committed", complete_workflow_task(ctx, conn, completion, now), None


def wake_workflow(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, worker_id: str,
                   now: float, claim: bool) -> WorkflowTaskClaim | None:
    task_queue = task_queue_of_run(conn, run_id)
    if task_queue is None:
        return None
    existing = conn.execute("SELECT lease_owner FROM workflow_tasks WHERE run_id = ?",
                            (run_id,)).fetchone()
    if existing is None:
        conn.execute("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity) "
                     "VALUES (?, ?, ?, ?)", (run_id, task_queue, now, worker_id))
        if claim:
            return claim_one_workflow_task(conn, run_id, worker_id, now, 10.0)
    ctx.wake("workflow_task", task_queue)
    return None


def fail_activity_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                        attempt: int, worker_id: str | None, failure: dict[str, Any],
                        final_failure: dict[str, Any] | None, retry_at: float | None,
                        heartbeat_details: list[dict[str, Any]] | None, event_type: str,
                        identity: str, now: float) -> bool:
    row = leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False
    if retry_at is not None:
        options_row = conn.execute("SELECT options, scheduled_at FROM activity_tasks "
                                   "WHERE run_id = ? AND seq = ?", (run_id, seq)).fetchone()
        options = loads(options_row[0])
        conn.execute(
            "UPDATE activity_tasks SET attempt = attempt + 1, lease_owner = NULL, "
            "started_at = NULL, heartbeat_at = NULL, visible_at = ?, attempt_scheduled_at = ?, "
            "last_failure = ?, heartbeat_details = COALESCE(?, heartbeat_details), "
            "deadline_at = ?, cancel_requested = 0 WHERE run_id = ? AND seq = ?",
            (retry_at, retry_at, dumps(failure),
             dumps(heartbeat_details) if heartbeat_details is not None else None,
             timeouts_deadline(options, options_row[1], retry_at, None, None), run_id, seq))
        ctx.wake("activity_task", row[0])
        ctx.due(retry_at)
        return True
    conn.execute("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)",
                 (run_id, event_type, now, dumps({
                     "seq": seq, "failure": final_failure or failure, "attempt": attempt,
                     "identity": identity, "started_time": row[3]})))
    wake_workflow(ctx, conn, run_id, "", now, False)
    return True


def heartbeat_activity_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                             attempt: int, worker_id: str, details: list[dict[str, Any]],
                             now: float) -> bool | None:
    row = conn.execute("SELECT lease_owner, attempt, options, scheduled_at, "
                       "attempt_scheduled_at, started_at, cancel_requested FROM activity_tasks "
                       "WHERE run_id = ? AND seq = ?", (run_id, seq)).fetchone()
    if row is None or row[0] != worker_id or row[1] != attempt:
        return None
    deadline = timeouts_deadline(loads(row[2]), row[3], row[4], row[5], now)
    conn.execute("UPDATE activity_tasks SET heartbeat_at = ?, heartbeat_details = ?, "
                 "deadline_at = ? WHERE run_id = ? AND seq = ?",
                 (now, dumps(details), deadline, run_id, seq))
    return bool(row[6])


def start_workflow_with_task(ctx: WriteContext, conn: sqlite3.Connection,
                             request: StartWorkflowRequest, completion: WorkflowTaskCompletion,
                             now: float) -> tuple[StartResult, CompletionResult | None]:
    """Start a run and commit its first workflow task, already run by the starting process's
    worker, in one transaction. If the start did not create a new run (the id was running),
    nothing of the completion is written."""
    result = start_workflow(ctx, conn, request, now)
    if not result.started or result.eager_task is None:
        return result, None
    return result, complete_workflow_task(ctx, conn, completion, now)
