"""PostgreSQL store operations on runs: start, close, terminate, parents and children, reads."""

from __future__ import annotations

import json
from typing import Any

from ... import exceptions as exc
from ..._model.events import EventType, HistoryEvent
from ..base import (
    ExecutionRow,
    ExecutionStatus,
    InboxEvent,
    StartResult,
    StartWorkflowRequest,
    WorkflowTaskClaim,
    started_attributes,
)
from .connection import (
    AsyncConn,
    WriteContext,
)
from .visibility import (
    write_search_attributes,
)

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


loads = json.loads


CLOSE_STATUS = {
    EventType.WORKFLOW_EXECUTION_COMPLETED: ExecutionStatus.COMPLETED,
    EventType.WORKFLOW_EXECUTION_FAILED: ExecutionStatus.FAILED,
    EventType.WORKFLOW_EXECUTION_CANCELED: ExecutionStatus.CANCELED,
    EventType.WORKFLOW_EXECUTION_TERMINATED: ExecutionStatus.TERMINATED,
    EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW: ExecutionStatus.CONTINUED_AS_NEW,
    EventType.WORKFLOW_EXECUTION_TIMED_OUT: ExecutionStatus.TIMED_OUT,
}


EXECUTION_COLUMNS = (
    "run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, "
    "first_run_id, continued_run_id, next_run_id, next_event_id, result, failure, "
    "execution_deadline, parent_workflow_id, parent_run_id, search_attributes, memo"
)


ACTIVITY_COLUMNS = (
    "run_id, seq, workflow_id, workflow_type, activity_type, activity_id, task_queue, input, "
    "options, attempt, scheduled_at, attempt_scheduled_at, started_at, heartbeat_details, "
    "lease_owner, heartbeat_at, last_failure"
)


# A query claimed by a worker that did not answer within this long is offered again.
QUERY_RECLAIM_SECONDS = 5.0


CHAINED_TASK_LEASE_SECONDS = 10.0


async def one(conn: AsyncConn, query: str, params: tuple[Any, ...] = ()) -> Any:
    cursor = await conn.execute(query, params)
    return await cursor.fetchone()


async def all(conn: AsyncConn, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
    cursor = await conn.execute(query, params)
    return await cursor.fetchall()


async def run(conn: AsyncConn, query: str, params: tuple[Any, ...] = ()) -> int:
    cursor = await conn.execute(query, params)
    return cursor.rowcount


async def lock_run(conn: AsyncConn, run_id: str) -> Any:
    """Lock a run's row for this transaction: (task_queue, status, next_event_id) or None."""
    return await one(conn, "SELECT task_queue, status, next_event_id FROM executions "
                            "WHERE run_id = %s FOR UPDATE", (run_id,))


async def lock_workflow_id(conn: AsyncConn, workflow_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))",
                       (f"stalwart-workflow-id:{workflow_id}",))


async def insert_inbox(conn: AsyncConn, run_id: str, event_type: str, timestamp: float,
                        attributes: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                       "VALUES (%s, %s, %s, %s)",
                       (run_id, event_type, timestamp, dumps(attributes)))


async def append_event(conn: AsyncConn, run_id: str, event_id: int, event_type: str,
                        timestamp: float, attributes: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO history (run_id, event_id, event_type, timestamp, "
                       "attributes) VALUES (%s, %s, %s, %s, %s)",
                       (run_id, event_id, event_type, timestamp, dumps(attributes)))


async def ensure_workflow_task(ctx: WriteContext, conn: AsyncConn, run_id: str,
                                task_queue: str, now: float, affinity: str | None) -> None:
    await conn.execute(
        "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
        (run_id, task_queue, now, affinity))
    ctx.wake("workflow_task", task_queue)


async def insert_execution(ctx: WriteContext, conn: AsyncConn, request: StartWorkflowRequest,
                            now: float, deadline: float | None) -> None:
    first_run_id = request.first_run_id or request.run_id
    await conn.execute(
        f"INSERT INTO executions ({EXECUTION_COLUMNS}, parent_seq, parent_close_policy) "
        "VALUES (%s, %s, %s, %s, 1, %s, NULL, %s, %s, NULL, 2, NULL, NULL, %s, %s, %s, NULL, "
        "%s, %s, %s)",
        (request.run_id, request.workflow_id, request.workflow_type, request.task_queue, now,
         first_run_id, request.continued_run_id, deadline, request.parent_workflow_id,
         request.parent_run_id, dumps(request.memo) if request.memo else None,
         request.parent_seq, request.parent_close_policy))
    if request.search_attributes:
        await write_search_attributes(conn, request.run_id, request.search_attributes)
    await append_event(conn, request.run_id, 1, EventType.WORKFLOW_EXECUTION_STARTED, now,
                        started_attributes(request))
    if request.start_signal is not None:
        name, signal_input = request.start_signal
        await insert_inbox(conn, request.run_id, EventType.WORKFLOW_EXECUTION_SIGNALED, now,
                            {"signal_name": name, "input": signal_input,
                             "identity": request.identity})
    if request.eager_worker_id is None:
        await ensure_workflow_task(ctx, conn, request.run_id, request.task_queue, now, None)
    else:
        # Taken at once by a worker in the starting process: no poller needs waking.
        await conn.execute("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, "
                           "affinity) VALUES (%s, %s, %s, %s)",
                           (request.run_id, request.task_queue, now, request.eager_worker_id))


async def start_workflow(ctx: WriteContext, conn: AsyncConn, request: StartWorkflowRequest,
                          now: float) -> StartResult:
    await lock_workflow_id(conn, request.workflow_id)
    open_row = await one(
        conn, "SELECT run_id, workflow_type FROM executions WHERE workflow_id = %s AND "
              "status = 1", (request.workflow_id,))
    if open_row is not None:
        policy = request.id_conflict_policy
        if request.id_reuse_policy == 4 and policy == 0:  # TERMINATE_IF_RUNNING
            policy = 3
        if policy == 2:  # USE_EXISTING
            if request.start_signal is not None:
                name, signal_input = request.start_signal
                await add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                          EventType.WORKFLOW_EXECUTION_SIGNALED,
                                          {"signal_name": name, "input": signal_input,
                                           "identity": request.identity}, now)
            return StartResult(open_row[0], started=False)
        if policy == 3:  # TERMINATE_EXISTING
            await terminate(ctx, conn, request.workflow_id, open_row[0],
                             "terminated by a new start with the same workflow id", [],
                             request.identity, now)
        else:
            if request.start_signal is not None:  # signal-with-start signals the running run
                name, signal_input = request.start_signal
                await add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                          EventType.WORKFLOW_EXECUTION_SIGNALED,
                                          {"signal_name": name, "input": signal_input,
                                           "identity": request.identity}, now)
                return StartResult(open_row[0], started=False)
            raise exc.WorkflowAlreadyStartedError(request.workflow_id, open_row[1],
                                                  run_id=open_row[0])
    else:
        last = await one(
            conn, "SELECT run_id, status, workflow_type FROM executions WHERE workflow_id = %s "
                  "ORDER BY start_time DESC LIMIT 1", (request.workflow_id,))
        if last is not None and request.continued_run_id is None:
            reuse = request.id_reuse_policy
            status = ExecutionStatus(last[1])
            if reuse == 3 or (reuse == 2 and status in (ExecutionStatus.COMPLETED,)):
                raise exc.WorkflowAlreadyStartedError(
                    request.workflow_id, last[2], run_id=last[0],
                    reason=f"workflow id {request.workflow_id!r} was already used by run "
                    f"{last[0]} ({status.name.lower()}) and id_reuse_policy="
                    f"{REUSE_NAMES.get(reuse, reuse)} forbids another run; choose another id")
    deadline = now + request.execution_timeout if request.execution_timeout else None
    await insert_execution(ctx, conn, request, now, deadline)
    eager_task = None
    if request.eager_worker_id is not None:
        # Eager start: a worker in the starting process takes the first task without polling.
        eager_task = await claim_one_workflow_task(conn, request.run_id,
                                                    request.eager_worker_id, now,
                                                    CHAINED_TASK_LEASE_SECONDS)
    return StartResult(request.run_id, started=True, eager_task=eager_task)


CHILD_CLOSE_EVENTS = {
    ExecutionStatus.COMPLETED: EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ExecutionStatus.FAILED: EventType.CHILD_WORKFLOW_EXECUTION_FAILED,
    ExecutionStatus.CANCELED: EventType.CHILD_WORKFLOW_EXECUTION_CANCELED,
    ExecutionStatus.TERMINATED: EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED,
    ExecutionStatus.TIMED_OUT: EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
}


async def parent_of(conn: AsyncConn, run_id: str) -> dict[str, Any]:
    row = await one(conn, "SELECT parent_workflow_id, parent_run_id, parent_seq, "
                           "parent_close_policy FROM executions WHERE run_id = %s", (run_id,))
    if row is None or row[1] is None:
        return {}
    return {"parent_workflow_id": row[0], "parent_run_id": row[1], "parent_seq": row[2],
            "parent_close_policy": row[3]}


async def inbox_event(ctx: WriteContext, conn: AsyncConn, run_id: str, event_type: str,
                       attributes: dict[str, Any], now: float) -> None:
    """Add an input event for an open run and make sure it gets a workflow task."""
    row = await lock_run(conn, run_id)
    if row is None or row[1] != ExecutionStatus.RUNNING:
        return
    await insert_inbox(conn, run_id, event_type, now, attributes)
    await ensure_workflow_task(ctx, conn, run_id, row[0], now, None)


async def notify_parent(ctx: WriteContext, conn: AsyncConn, run_id: str, status: int,
                         result: dict[str, Any] | None, failure: dict[str, Any] | None,
                         now: float) -> None:
    row = await one(conn, "SELECT parent_run_id, parent_seq, workflow_id, workflow_type, "
                           "first_run_id FROM executions WHERE run_id = %s", (run_id,))
    if row is None or row[0] is None:
        return
    attrs: dict[str, Any] = {"seq": row[1], "workflow_id": row[2], "workflow_type": row[3],
                             "run_id": run_id}
    if result is not None:
        attrs["result"] = result
    if failure is not None:
        attrs["failure"] = failure
    await inbox_event(ctx, conn, row[0], CHILD_CLOSE_EVENTS[ExecutionStatus(status)], attrs,
                       now)


async def apply_parent_close_policy(ctx: WriteContext, conn: AsyncConn, run_id: str,
                                     now: float) -> None:
    children = await all(conn, "SELECT run_id, workflow_id, parent_close_policy FROM "
                                "executions WHERE parent_run_id = %s AND status = 1", (run_id,))
    for child_run_id, child_workflow_id, policy in children:
        if policy == 2:  # ABANDON
            continue
        if policy == 3:  # REQUEST_CANCEL
            await inbox_event(ctx, conn, child_run_id,
                               EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                               {"cause": "parent workflow closed", "identity": ""}, now)
        else:  # TERMINATE (the default)
            try:
                await terminate(ctx, conn, child_workflow_id, child_run_id,
                                 "parent workflow closed (parent_close_policy=TERMINATE)", [],
                                 "", now)
            except exc.WorkflowNotFoundError:
                pass  # it closed on its own between the SELECT and the lock


REUSE_NAMES = {1: "ALLOW_DUPLICATE", 2: "ALLOW_DUPLICATE_FAILED_ONLY", 3: "REJECT_DUPLICATE",
                4: "TERMINATE_IF_RUNNING"}


async def find_open_run(conn: AsyncConn, workflow_id: str, run_id: str | None,
                         lock: bool = True) -> tuple[str, str]:
    suffix = " FOR UPDATE" if lock else ""
    if run_id is None:
        row = await one(conn, "SELECT run_id, task_queue, status FROM executions "
                               "WHERE workflow_id = %s ORDER BY start_time DESC LIMIT 1"
                               + suffix, (workflow_id,))
    else:
        row = await one(conn, "SELECT run_id, task_queue, status FROM executions "
                               "WHERE run_id = %s AND workflow_id = %s" + suffix,
                         (run_id, workflow_id))
    if row is None:
        raise exc.WorkflowNotFoundError(
            f"workflow {workflow_id!r}" + (f" run {run_id!r}" if run_id else "")
            + " not found")
    if row[2] != ExecutionStatus.RUNNING:
        raise exc.WorkflowNotFoundError(
            f"workflow {workflow_id!r} run {row[0]} is already closed "
            f"({ExecutionStatus(row[2]).name.lower()}); it cannot take signals, cancellation "
            "or termination")
    return row[0], row[1]


async def add_external_event(ctx: WriteContext, conn: AsyncConn, workflow_id: str,
                              run_id: str | None, event_type: str, attributes: dict[str, Any],
                              now: float) -> str:
    target, task_queue = await find_open_run(conn, workflow_id, run_id, lock=True)
    await insert_inbox(conn, target, event_type, now, attributes)
    await ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


async def close_run(ctx: WriteContext, conn: AsyncConn, run_id: str, status: int, now: float,
                     result: dict[str, Any] | None, failure: dict[str, Any] | None,
                     next_run_id: str | None = None) -> None:
    await conn.execute(
        "UPDATE executions SET status = %s, close_time = %s, result = %s, failure = %s, "
        "next_run_id = %s WHERE run_id = %s",
        (status, now, dumps(result) if result is not None else None,
         dumps(failure) if failure is not None else None, next_run_id, run_id))
    await conn.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s", (run_id,))
    await conn.execute("DELETE FROM timers WHERE run_id = %s", (run_id,))
    await conn.execute("DELETE FROM inbox WHERE run_id = %s", (run_id,))
    pending_updates = await all(
        conn, "UPDATE updates SET state = 2, failure = %s WHERE run_id = %s AND "
              "state IN (0, 1) RETURNING update_id",
        (dumps({"message": "the workflow closed before the update completed",
                 "source": "Stalwart", "application_failure_info": {
                     "type": "WorkflowClosed", "non_retryable": True}}), run_id))
    for (update_id,) in pending_updates:
        ctx.wake("update", update_id)
    ctx.wake("closed", run_id)
    if status != ExecutionStatus.CONTINUED_AS_NEW:
        await notify_parent(ctx, conn, run_id, status, result, failure, now)
    await apply_parent_close_policy(ctx, conn, run_id, now)


async def terminate(ctx: WriteContext, conn: AsyncConn, workflow_id: str, run_id: str | None,
                     reason: str, details: list[dict[str, Any]], identity: str,
                     now: float) -> str:
    target, _ = await find_open_run(conn, workflow_id, run_id, lock=True)
    row = await one(conn, "SELECT next_event_id FROM executions WHERE run_id = %s", (target,))
    next_event_id = row[0]
    await append_event(conn, target, next_event_id, EventType.WORKFLOW_EXECUTION_TERMINATED,
                        now, {"reason": reason, "details": details, "identity": identity})
    await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                       (next_event_id + 1, target))
    await close_run(ctx, conn, target, ExecutionStatus.TERMINATED, now, None,
                     {"message": reason or "Workflow terminated", "source": "Stalwart",
                      "terminated_failure_info": {}})
    return target


def row_to_execution(row: Any) -> ExecutionRow:
    return ExecutionRow(
        run_id=row[0], workflow_id=row[1], workflow_type=row[2], task_queue=row[3],
        status=ExecutionStatus(row[4]), start_time=row[5], close_time=row[6],
        first_run_id=row[7], continued_run_id=row[8], next_run_id=row[9],
        history_length=row[10] - 1,
        result=loads(row[11]) if row[11] is not None else None,
        failure=loads(row[12]) if row[12] is not None else None, execution_deadline=row[13],
        parent_workflow_id=row[14], parent_run_id=row[15],
        search_attributes=loads(row[16]) if row[16] else {},
        memo=loads(row[17]) if row[17] else {})


async def get_execution(conn: AsyncConn, workflow_id: str | None, run_id: str | None
                         ) -> ExecutionRow | None:
    if run_id is not None:
        row = await one(conn, f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE run_id = %s",
                         (run_id,))
        if row is not None and workflow_id is not None and row[1] != workflow_id:
            return None
    else:
        row = await one(conn, f"SELECT {EXECUTION_COLUMNS} FROM executions WHERE "
                               "workflow_id = %s ORDER BY start_time DESC LIMIT 1",
                         (workflow_id,))
    return row_to_execution(row) if row is not None else None


async def list_executions(conn: AsyncConn, status: int | None, workflow_type: str | None,
                           workflow_id_prefix: str | None, task_queue: str | None,
                           limit: int) -> list[ExecutionRow]:
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        clauses.append("status = %s")
        params.append(status)
    if workflow_type:
        clauses.append("workflow_type = %s")
        params.append(workflow_type)
    if workflow_id_prefix:
        # A range rather than LIKE, so the index is used whatever the collation.
        clauses.append("workflow_id >= %s AND workflow_id < %s")
        params += [workflow_id_prefix, workflow_id_prefix + "\U0010ffff"]
    if task_queue:
        clauses.append("task_queue = %s")
        params.append(task_queue)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await all(conn, f"SELECT {EXECUTION_COLUMNS} FROM executions {where} "
                            "ORDER BY start_time DESC LIMIT %s", (*params, limit))
    return [row_to_execution(r) for r in rows]


async def get_history(conn: AsyncConn, run_id: str, after_event_id: int,
                       limit: int | None) -> list[HistoryEvent]:
    rows = await all(conn, "SELECT event_id, event_type, timestamp, attributes FROM history "
                            "WHERE run_id = %s AND event_id > %s ORDER BY event_id LIMIT %s",
                      (run_id, after_event_id, limit))
    return [HistoryEvent(r[0], r[1], r[2], loads(r[3])) for r in rows]


async def read_inbox(conn: AsyncConn, run_id: str, after_id: int) -> list[InboxEvent]:
    rows = await all(conn, "SELECT id, event_type, timestamp, attributes FROM inbox "
                            "WHERE run_id = %s AND id > %s ORDER BY id", (run_id, after_id))
    return [InboxEvent(r[0], r[1], r[2], loads(r[3])) for r in rows]


async def pending_activities(conn: AsyncConn, run_id: str) -> list[dict[str, Any]]:
    rows = await all(
        conn, "SELECT seq, activity_id, activity_type, attempt, scheduled_at, started_at, "
              "heartbeat_at, last_failure, lease_owner, visible_at, cancel_requested "
              "FROM activity_tasks WHERE run_id = %s ORDER BY seq", (run_id,))
    return [{
        "seq": r[0], "activity_id": r[1], "activity_type": r[2], "attempt": r[3],
        "scheduled_at": r[4], "started_at": r[5], "last_heartbeat_at": r[6],
        "last_failure": loads(r[7]) if r[7] else None, "worker_id": r[8],
        "next_attempt_at": r[9] if r[8] is None else None, "cancel_requested": bool(r[10]),
        "state": "started" if r[8] is not None else "scheduled",
    } for r in rows]


async def load_claims(conn: AsyncConn, tasks: list[tuple[str, int]]
                       ) -> list[WorkflowTaskClaim]:
    """Build claims for workflow tasks this transaction just leased: (run_id, attempt)."""
    run_ids = [run_id for run_id, _ in tasks]
    executions = {r[0]: r for r in await all(
        conn, "SELECT run_id, workflow_id, workflow_type, task_queue, next_event_id FROM "
              "executions WHERE run_id = ANY(%s) AND status = 1", (run_ids,))}
    gone = [run_id for run_id in run_ids if run_id not in executions]
    if gone:
        await conn.execute("DELETE FROM workflow_tasks WHERE run_id = ANY(%s)", (gone,))
    live = [run_id for run_id in run_ids if run_id in executions]
    if not live:
        return []
    inboxes: dict[str, list[InboxEvent]] = {}
    for r in await all(conn, "SELECT run_id, id, event_type, timestamp, attributes FROM inbox "
                              "WHERE run_id = ANY(%s) ORDER BY run_id, id", (live,)):
        inboxes.setdefault(r[0], []).append(InboxEvent(r[1], r[2], r[3], loads(r[4])))
    updates: dict[str, list[dict[str, Any]]] = {}
    for u in await all(conn, "SELECT run_id, update_id, name, input FROM updates WHERE "
                              "run_id = ANY(%s) AND state = 0 ORDER BY created_at", (live,)):
        updates.setdefault(u[0], []).append(
            {"update_id": u[1], "name": u[2], "input": loads(u[3])})
    # A run's first task needs only its start event: hand it over with the claim instead of
    # making the worker read the history separately.
    first = [run_id for run_id in live if executions[run_id][4] == 2]
    starts: dict[str, list[HistoryEvent]] = {}
    if first:
        for r in await all(conn, "SELECT run_id, event_id, event_type, timestamp, attributes "
                                  "FROM history WHERE run_id = ANY(%s) AND event_id = 1",
                            (first,)):
            starts[r[0]] = [HistoryEvent(r[1], r[2], r[3], loads(r[4]))]
    claims = []
    for run_id, attempt in tasks:
        row = executions.get(run_id)
        if row is None:
            continue
        claims.append(WorkflowTaskClaim(
            run_id=run_id, workflow_id=row[1], workflow_type=row[2], task_queue=row[3],
            attempt=attempt, history_length=row[4] - 1, inbox=inboxes.get(run_id, []),
            updates=updates.get(run_id, []), history=starts.get(run_id)))
    return claims


async def claim_one_workflow_task(conn: AsyncConn, run_id: str, worker_id: str, now: float,
                                   lease_seconds: float) -> WorkflowTaskClaim | None:
    row = await one(conn, "UPDATE workflow_tasks SET lease_owner = %s, lease_expires_at = %s, "
                           "affinity = %s WHERE run_id = %s RETURNING attempt",
                     (worker_id, now + lease_seconds, worker_id, run_id))
    if row is None:
        return None
    claims = await load_claims(conn, [(run_id, row[0])])
    return claims[0] if claims else None
