"""PostgreSQL store operations on leased work: workflow tasks and activity tasks."""

from __future__ import annotations

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
from .connection import (
    AsyncConn,
    WriteContext,
)
from .ops_executions import (
    ACTIVITY_COLUMNS,
    CHAINED_TASK_LEASE_SECONDS,
    CLOSE_STATUS,
    all,
    append_event,
    claim_one_workflow_task,
    close_run,
    dumps,
    insert_execution,
    insert_inbox,
    load_claims,
    loads,
    lock_run,
    one,
    parent_of,
    run,
    start_workflow,
)
from .ops_messages import (
    cancel_external,
    signal_external,
    start_child,
)
from .visibility import (
    upsert_memo,
    upsert_search_attributes,
)


async def start_workflow_with_task(ctx: WriteContext, conn: AsyncConn,
                                    request: StartWorkflowRequest,
                                    completion: WorkflowTaskCompletion,
                                    now: float) -> tuple[StartResult, CompletionResult | None]:
    """Start a run and commit its first workflow task, already run by the starting process's
    worker, in one transaction. If the start did not create a new run (the id was running),
    nothing of the completion is written."""
    result = await start_workflow(ctx, conn, request, now)
    if not result.started or result.eager_task is None:
        return result, None
    return result, await complete_workflow_task(ctx, conn, completion, now)


async def claim_workflow_tasks(ctx: WriteContext, conn: AsyncConn, task_queue: str,
                                worker_id: str, now: float, lease_seconds: float,
                                limit: int) -> list[WorkflowTaskClaim]:
    rows = await all(
        conn,
        "WITH picked AS (SELECT run_id, visible_at FROM workflow_tasks WHERE task_queue = %s "
        " AND ((lease_owner IS NULL AND visible_at <= %s) OR "
        " (lease_owner IS NOT NULL AND lease_expires_at <= %s)) "
        " ORDER BY visible_at LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE workflow_tasks w SET lease_owner = %s, lease_expires_at = %s, affinity = %s "
        "FROM picked WHERE w.run_id = picked.run_id "
        "RETURNING w.run_id, w.attempt, picked.visible_at",
        (task_queue, now, now, limit, worker_id, now + lease_seconds, worker_id))
    if not rows:
        return []
    rows.sort(key=lambda r: r[2])
    return await load_claims(conn, [(r[0], r[1]) for r in rows])


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


async def complete_workflow_task(ctx: WriteContext, conn: AsyncConn,
                                  completion: WorkflowTaskCompletion,
                                  now: float) -> CompletionResult:
    run_id = completion.run_id
    locked = await lock_run(conn, run_id)
    task = await one(conn, "SELECT lease_owner FROM workflow_tasks WHERE run_id = %s "
                            "FOR UPDATE", (run_id,))
    if task is None or task[0] != completion.worker_id:
        return CompletionResult(False, "lease lost")
    if locked is None or locked[1] != ExecutionStatus.RUNNING:
        await conn.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))
        return CompletionResult(False, "workflow closed")
    execution = await one(
        conn, "SELECT workflow_id, workflow_type, task_queue, next_event_id, first_run_id, "
              "execution_deadline FROM executions WHERE run_id = %s", (run_id,))
    workflow_id, workflow_type, task_queue, next_event_id, first_run_id, deadline = execution
    closing = any(c.event_type in CLOSE_EVENT_TYPES for c in completion.commands)
    if closing and await one(
            conn, "SELECT 1 FROM inbox WHERE run_id = %s AND id > %s AND event_type = %s LIMIT 1",
            (run_id, completion.inbox_max_id, EventType.WORKFLOW_EXECUTION_SIGNALED)
    ) is not None:
        # A signal arrived while the workflow decided to finish: let it see the signal first.
        await conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, visible_at = %s "
                           "WHERE run_id = %s", (now, run_id))
        ctx.wake("workflow_task", task_queue)
        return CompletionResult(False, "unhandled signal")
    event_id = next_event_id
    if (not completion.inbox_max_id and not completion.commands
            and not completion.accepted_updates and next_event_id > 2):
        # Nothing happened (say, an update its validator rejected): leave no trace in history.
        for update_id, update_failure in completion.rejected_updates:
            await conn.execute("UPDATE updates SET state = 2, failure = %s WHERE run_id = %s "
                               "AND update_id = %s", (dumps(update_failure), run_id, update_id))
            ctx.wake("update", update_id)
        await finish_workflow_task(ctx, conn, completion, run_id, task_queue, now,
                                    CompletionResult(True, history_length=next_event_id - 1))
        return CompletionResult(True, history_length=next_event_id - 1)
    if completion.inbox_max_id:
        moved = await run(
            conn,
            "INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
            "SELECT run_id, %s + ROW_NUMBER() OVER (ORDER BY id) - 1, event_type, timestamp, "
            "attributes FROM inbox WHERE run_id = %s AND id <= %s",
            (event_id, run_id, completion.inbox_max_id))
        await conn.execute("DELETE FROM inbox WHERE run_id = %s AND id <= %s",
                           (run_id, completion.inbox_max_id))
        event_id += moved
    for accepted in completion.accepted_updates:
        await append_event(conn, run_id, event_id, accepted.event_type, now,
                            accepted.attributes)
        event_id += 1
        await conn.execute("UPDATE updates SET state = 1 WHERE run_id = %s AND update_id = %s",
                           (run_id, accepted.attributes["update_id"]))
    for update_id, update_failure in completion.rejected_updates:
        await conn.execute("UPDATE updates SET state = 2, failure = %s WHERE run_id = %s AND "
                           "update_id = %s", (dumps(update_failure), run_id, update_id))
        ctx.wake("update", update_id)
    await append_event(conn, run_id, event_id, EventType.WORKFLOW_TASK_COMPLETED, now,
                        {"workflow_time": completion.workflow_time,
                         "identity": completion.identity})
    event_id += 1
    result = CompletionResult(True)
    eager_budget = completion.eager_activity_limit
    closed = False
    for command in completion.commands:
        attrs = command.attributes
        etype = command.event_type
        await append_event(conn, run_id, event_id, etype, now, attrs)
        event_id += 1
        if etype == EventType.ACTIVITY_TASK_SCHEDULED:
            eager = eager_budget > 0 and attrs["task_queue"] == completion.eager_activity_queue
            options = {k: attrs.get(k) for k in (
                "schedule_to_close_timeout", "schedule_to_start_timeout",
                "start_to_close_timeout", "heartbeat_timeout", "retry_policy",
                "cancellation_type", "local", "header")}
            started_at = now if eager else None
            await conn.execute(
                "INSERT INTO activity_tasks (run_id, seq, task_queue, workflow_id, "
                "workflow_type, activity_type, activity_id, input, options, attempt, "
                "scheduled_at, attempt_scheduled_at, visible_at, lease_owner, started_at, "
                "deadline_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s, %s, %s, "
                "%s, %s)",
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
            await request_cancel_activity(ctx, conn, run_id, attrs["seq"], now)
        elif etype == EventType.TIMER_STARTED:
            await conn.execute(
                "INSERT INTO timers (run_id, seq, fire_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (run_id, seq) DO UPDATE SET fire_at = EXCLUDED.fire_at",
                (run_id, attrs["seq"], now + attrs["start_to_fire_timeout"]))
            ctx.due(now + attrs["start_to_fire_timeout"])
        elif etype == EventType.TIMER_CANCELED:
            await conn.execute("DELETE FROM timers WHERE run_id = %s AND seq = %s",
                               (run_id, attrs["seq"]))
        elif etype == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            await start_child(ctx, conn, run_id, workflow_id, attrs, completion.identity, now)
        elif etype == EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            await signal_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            await cancel_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            await upsert_search_attributes(conn, run_id, attrs["search_attributes"])
        elif etype == EventType.WORKFLOW_PROPERTIES_MODIFIED:
            await upsert_memo(conn, run_id, attrs["upserted_memo"])
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            await conn.execute(
                "UPDATE updates SET state = 3, result = %s, failure = %s WHERE run_id = %s "
                "AND update_id = %s",
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
                await conn.execute("UPDATE history SET attributes = %s WHERE run_id = %s AND "
                                   "event_id = %s", (dumps(attrs), run_id, event_id - 1))
            await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                               (event_id, run_id))
            await close_run(ctx, conn, run_id, CLOSE_STATUS[EventType(etype)], now,
                             attrs.get("result"), attrs.get("failure"), next_run_id)
            if next_run_id is not None:
                timeout = attrs.get("execution_timeout")
                await insert_execution(ctx, conn, StartWorkflowRequest(
                    workflow_id=workflow_id, workflow_type=attrs["workflow_type"],
                    task_queue=attrs["task_queue"], input=attrs["input"], run_id=next_run_id,
                    random_seed=completion.new_run_seed, execution_timeout=timeout,
                    first_run_id=first_run_id, continued_run_id=run_id,
                    memo=attrs.get("memo"), search_attributes=attrs.get("search_attributes"),
                    identity=completion.identity, **await parent_of(conn, run_id),
                ), now, now + timeout if timeout else deadline)
            break
    result.history_length = event_id - 1
    if closed:
        return result
    await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                       (event_id, run_id))
    await finish_workflow_task(ctx, conn, completion, run_id, task_queue, now, result)
    return result


async def finish_workflow_task(ctx: WriteContext, conn: AsyncConn,
                                completion: WorkflowTaskCompletion, run_id: str,
                                task_queue: str, now: float, result: CompletionResult) -> None:
    """Keep the run's workflow task if more input waits (claimed at once by the same worker,
    whose cache is warm), else delete it."""
    more = await one(conn, "SELECT EXISTS (SELECT 1 FROM inbox WHERE run_id = %s) OR EXISTS "
                            "(SELECT 1 FROM updates WHERE run_id = %s AND state = 0)",
                      (run_id, run_id))
    if more[0]:
        if completion.claim_next_task:
            await conn.execute("UPDATE workflow_tasks SET attempt = 1 WHERE run_id = %s",
                               (run_id,))
            result.next_task = await claim_one_workflow_task(
                conn, run_id, completion.worker_id, now, CHAINED_TASK_LEASE_SECONDS)
        else:
            await conn.execute(
                "UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                "visible_at = %s, attempt = 1 WHERE run_id = %s", (now, run_id))
            ctx.wake("workflow_task", task_queue)
    else:
        await conn.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))


async def request_cancel_activity(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                                   now: float) -> None:
    row = await one(conn, "SELECT lease_owner FROM activity_tasks WHERE run_id = %s AND "
                           "seq = %s FOR UPDATE", (run_id, seq))
    if row is None:
        return
    if row[0] is None:
        # Not running anywhere: cancelled at once.
        await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                           (run_id, seq))
        await insert_inbox(conn, run_id, EventType.ACTIVITY_TASK_CANCELED, now, {
            "seq": seq, "failure": {
                "message": "Activity cancelled", "source": "Stalwart",
                "activity_failure_info": {"activity_id": str(seq)},
                "cause": {"message": "Activity cancelled", "canceled_failure_info": {}}}})
    else:
        await conn.execute("UPDATE activity_tasks SET cancel_requested = TRUE WHERE "
                           "run_id = %s AND seq = %s", (run_id, seq))


async def fail_workflow_task(ctx: WriteContext, conn: AsyncConn, run_id: str, worker_id: str,
                              failure: dict[str, Any], retry_at: float, now: float) -> None:
    locked = await lock_run(conn, run_id)
    task = await one(conn, "SELECT lease_owner, attempt, task_queue FROM workflow_tasks "
                            "WHERE run_id = %s FOR UPDATE", (run_id,))
    if task is None or task[0] != worker_id or locked is None:
        return
    if task[1] == 1:
        # Recorded once per failure streak, so a crash loop does not bloat the history.
        next_event_id = locked[2]
        await append_event(conn, run_id, next_event_id, EventType.WORKFLOW_TASK_FAILED, now,
                            {"failure": failure, "identity": worker_id})
        await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                           (next_event_id + 1, run_id))
    await conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                       "visible_at = %s, attempt = attempt + 1, affinity = NULL "
                       "WHERE run_id = %s", (retry_at, run_id))
    ctx.due(retry_at)


async def release_workflow_task(ctx: WriteContext, conn: AsyncConn, run_id: str,
                                 worker_id: str, now: float) -> None:
    row = await one(conn, "UPDATE workflow_tasks SET lease_owner = NULL, "
                           "lease_expires_at = NULL, visible_at = %s, affinity = NULL "
                           "WHERE run_id = %s AND lease_owner = %s RETURNING task_queue",
                     (now, run_id, worker_id))
    if row is not None:
        ctx.wake("workflow_task", row[0])


async def take_rate_tokens(conn: AsyncConn, task_queue: str, rate: float, wanted: int,
                           now: float) -> int:
    """How many activities the queue's shared token bucket lets start now (and take them).
    The bucket row is locked, so workers on every machine draw from the same tokens."""
    await conn.execute("INSERT INTO activity_rate_limits (task_queue, rate, tokens, updated_at) "
                       "VALUES (%s, %s, %s, %s) ON CONFLICT (task_queue) DO NOTHING",
                       (task_queue, rate, max(1.0, rate), now))
    row = await one(conn, "SELECT tokens, updated_at FROM activity_rate_limits WHERE "
                           "task_queue = %s FOR UPDATE", (task_queue,))
    assert row is not None
    tokens = refill_tokens(rate, float(row[0]), float(row[1]), now)
    granted = min(wanted, int(tokens))
    await conn.execute("UPDATE activity_rate_limits SET rate = %s, tokens = %s, updated_at = %s "
                       "WHERE task_queue = %s", (rate, tokens - granted, now, task_queue))
    return granted


async def claim_activity_tasks(ctx: WriteContext, conn: AsyncConn, task_queue: str,
                                worker_id: str, now: float, limit: int,
                                rate_limit: float | None = None) -> list[ActivityTaskClaim]:
    if rate_limit is not None:
        granted = await take_rate_tokens(conn, task_queue, rate_limit, limit, now)
        if granted <= 0:
            return []
        claims = await claim_activity_rows(ctx, conn, task_queue, worker_id, now, granted)
        if len(claims) < granted:
            await conn.execute("UPDATE activity_rate_limits SET tokens = tokens + %s "
                               "WHERE task_queue = %s", (granted - len(claims), task_queue))
        return claims
    return await claim_activity_rows(ctx, conn, task_queue, worker_id, now, limit)


async def claim_activity_rows(ctx: WriteContext, conn: AsyncConn, task_queue: str,
                               worker_id: str, now: float,
                               limit: int) -> list[ActivityTaskClaim]:
    rows = await all(
        conn, f"SELECT {ACTIVITY_COLUMNS} FROM activity_tasks WHERE task_queue = %s AND "
              "lease_owner IS NULL AND visible_at <= %s ORDER BY visible_at LIMIT %s "
              "FOR UPDATE SKIP LOCKED", (task_queue, now, limit))
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
            activity_id=r[5], task_queue=r[6], input=loads(r[7]), options=options,
            attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11], started_at=now,
            heartbeat_details=loads(r[13]) if r[13] else []))
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "UPDATE activity_tasks SET lease_owner = %s, started_at = %s, heartbeat_at = NULL, "
            "deadline_at = %s WHERE run_id = %s AND seq = %s", updates)
    for claim in claims:
        ctx.due(timeouts_deadline(claim.options, claim.scheduled_at,
                                   claim.attempt_scheduled_at, now, None))
    return claims


async def leased_activity(conn: AsyncConn, run_id: str, seq: int, attempt: int,
                           worker_id: str | None) -> Any:
    row = await one(conn, "SELECT task_queue, lease_owner, attempt, started_at, options, "
                           "scheduled_at FROM activity_tasks WHERE run_id = %s AND seq = %s "
                           "FOR UPDATE", (run_id, seq))
    if row is None or row[2] != attempt:
        return None
    if worker_id is not None and row[1] != worker_id:
        return None
    return row


async def complete_activity_task(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                                  attempt: int, worker_id: str | None, result: dict[str, Any],
                                  identity: str, now: float, claim_workflow_task: bool
                                  ) -> tuple[bool, WorkflowTaskClaim | None]:
    locked = await lock_run(conn, run_id)
    if locked is None:
        return False, None
    row = await leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False, None
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                       (run_id, seq))
    await insert_inbox(conn, run_id, EventType.ACTIVITY_TASK_COMPLETED, now, {
        "seq": seq, "result": result, "attempt": attempt, "identity": identity,
        "started_time": row[3]})
    return True, await wake_workflow(ctx, conn, locked, run_id, worker_id or "", now,
                                      claim_workflow_task and worker_id is not None)


async def complete_activity_and_workflow_task(
        ctx: WriteContext, conn: AsyncConn, seq: int, attempt: int, result: dict[str, Any],
        started_at: float, completion: WorkflowTaskCompletion,
        now: float) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]:
    """Record an activity's result and the workflow task it caused in one transaction.

    Only when nothing else waits for the run (no workflow task, inbox or update): then the
    worker's speculative activation saw exactly what history will say. Otherwise the result is
    recorded the ordinary way ("fallback") and the speculative activation must be discarded.
    The run's row lock makes "nothing else waits" hold until the commit.
    """
    run_id = completion.run_id
    locked = await lock_run(conn, run_id)
    if locked is None:
        return "lost", None, None
    if await leased_activity(conn, run_id, seq, attempt, completion.worker_id) is None:
        return "lost", None, None
    busy = await one(
        conn, "SELECT EXISTS (SELECT 1 FROM workflow_tasks WHERE run_id = %s) OR "
              "EXISTS (SELECT 1 FROM inbox WHERE run_id = %s) OR "
              "EXISTS (SELECT 1 FROM updates WHERE run_id = %s AND state = 0)",
        (run_id, run_id, run_id))
    if not busy[0] and completion.history_length is not None:
        # A cached instance behind the run (another worker advanced it) must not commit.
        busy = (locked[2] != completion.history_length + 1,)
    if busy[0]:
        _, claim = await complete_activity_task(ctx, conn, run_id, seq, attempt,
                                                 completion.worker_id, result,
                                                 completion.identity, now, True)
        return "fallback", None, claim
    if locked[1] != ExecutionStatus.RUNNING:
        return "lost", None, None
    task_queue = locked[0]
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                       (run_id, seq))
    inserted = await one(
        conn, "INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
              "VALUES (%s, %s, %s, %s) RETURNING id",
        (run_id, EventType.ACTIVITY_TASK_COMPLETED, now, dumps({
            "seq": seq, "result": result, "attempt": attempt,
            "identity": completion.identity, "started_time": started_at})))
    await conn.execute(
        "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, lease_owner, "
        "lease_expires_at, affinity) VALUES (%s, %s, %s, %s, %s, %s)",
        (run_id, task_queue, now, completion.worker_id, now + CHAINED_TASK_LEASE_SECONDS,
         completion.worker_id))
    completion.inbox_max_id = int(inserted[0])
    return "committed", await complete_workflow_task(ctx, conn, completion, now), None


async def wake_workflow(ctx: WriteContext, conn: AsyncConn, locked: Any, run_id: str,
                         worker_id: str, now: float, claim: bool) -> WorkflowTaskClaim | None:
    """Give a run with new inbox input a workflow task; ``locked`` is its locked row."""
    if locked[1] != ExecutionStatus.RUNNING:
        return None
    task_queue = locked[0]
    inserted = await one(conn, "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, "
                                "affinity) VALUES (%s, %s, %s, %s) ON CONFLICT (run_id) "
                                "DO NOTHING RETURNING run_id",
                          (run_id, task_queue, now, worker_id))
    if inserted is not None and claim:
        return await claim_one_workflow_task(conn, run_id, worker_id, now,
                                              CHAINED_TASK_LEASE_SECONDS)
    ctx.wake("workflow_task", task_queue)
    return None


async def fail_activity_task(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                              attempt: int, worker_id: str | None, failure: dict[str, Any],
                              final_failure: dict[str, Any] | None, retry_at: float | None,
                              heartbeat_details: list[dict[str, Any]] | None, event_type: str,
                              identity: str, now: float) -> bool:
    locked = await lock_run(conn, run_id)
    if locked is None:
        return False
    row = await leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False
    if retry_at is not None:
        options = loads(row[4])
        await conn.execute(
            "UPDATE activity_tasks SET attempt = attempt + 1, lease_owner = NULL, "
            "started_at = NULL, heartbeat_at = NULL, visible_at = %s, "
            "attempt_scheduled_at = %s, last_failure = %s, "
            "heartbeat_details = COALESCE(%s, heartbeat_details), deadline_at = %s, "
            "cancel_requested = FALSE WHERE run_id = %s AND seq = %s",
            (retry_at, retry_at, dumps(failure),
             dumps(heartbeat_details) if heartbeat_details is not None else None,
             timeouts_deadline(options, row[5], retry_at, None, None), run_id, seq))
        ctx.wake("activity_task", row[0])
        ctx.due(retry_at)
        return True
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                       (run_id, seq))
    await insert_inbox(conn, run_id, event_type, now, {
        "seq": seq, "failure": final_failure or failure, "attempt": attempt,
        "identity": identity, "started_time": row[3]})
    await wake_workflow(ctx, conn, locked, run_id, "", now, False)
    return True


async def heartbeat_activity_task(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                                   attempt: int, worker_id: str, details: list[dict[str, Any]],
                                   now: float) -> bool | None:
    row = await one(conn, "SELECT lease_owner, attempt, options, scheduled_at, "
                           "attempt_scheduled_at, started_at, cancel_requested FROM "
                           "activity_tasks WHERE run_id = %s AND seq = %s FOR UPDATE",
                     (run_id, seq))
    if row is None or row[0] != worker_id or row[1] != attempt:
        return None
    deadline = timeouts_deadline(loads(row[2]), row[3], row[4], row[5], now)
    await conn.execute("UPDATE activity_tasks SET heartbeat_at = %s, heartbeat_details = %s, "
                       "deadline_at = %s WHERE run_id = %s AND seq = %s",
                       (now, dumps(details), deadline, run_id, seq))
    return bool(row[6])
