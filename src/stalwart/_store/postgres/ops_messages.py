"""PostgreSQL store operations for messages: child starts, external signals and cancels,
updates, queries."""

from __future__ import annotations

from typing import Any

from ... import exceptions as exc
from ..._model.events import EventType
from ..base import (
    StartWorkflowRequest,
)
from .connection import (
    AsyncConn,
    WriteContext,
)
from .ops_executions import (
    QUERY_RECLAIM_SECONDS,
    all,
    dumps,
    ensure_workflow_task,
    find_open_run,
    inbox_event,
    insert_execution,
    loads,
    lock_workflow_id,
    one,
    run,
)


async def start_child(ctx: WriteContext, conn: AsyncConn, parent_run_id: str,
                       parent_workflow_id: str, attrs: dict[str, Any], identity: str,
                       now: float) -> None:
    child_id = attrs["workflow_id"]
    base = {"seq": attrs["seq"], "workflow_id": child_id, "workflow_type": attrs["workflow_type"]}
    await lock_workflow_id(conn, child_id)
    running = await one(conn, "SELECT run_id FROM executions WHERE workflow_id = %s AND "
                               "status = 1", (child_id,))
    if running is not None:
        await inbox_event(ctx, conn, parent_run_id,
                           EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED,
                           {**base, "cause": f"workflow id {child_id!r} is already running "
                            f"(run {running[0]}); give the child another id"}, now)
        return
    timeout = attrs.get("execution_timeout")
    request = StartWorkflowRequest(
        workflow_id=child_id, workflow_type=attrs["workflow_type"],
        task_queue=attrs["task_queue"], input=attrs["input"], run_id=attrs["run_id"],
        random_seed=attrs["random_seed"], execution_timeout=timeout, identity=identity,
        parent_workflow_id=parent_workflow_id, parent_run_id=parent_run_id,
        parent_seq=attrs["seq"], parent_close_policy=attrs.get("parent_close_policy") or 1)
    await insert_execution(ctx, conn, request, now, now + timeout if timeout else None)
    await inbox_event(ctx, conn, parent_run_id, EventType.CHILD_WORKFLOW_EXECUTION_STARTED,
                       {**base, "run_id": attrs["run_id"]}, now)


async def external_target(conn: AsyncConn, source_run_id: str, attrs: dict[str, Any]
                           ) -> tuple[str | None, str]:
    try:
        target, _ = await find_open_run(conn, attrs["workflow_id"], attrs.get("run_id"))
    except exc.WorkflowNotFoundError as error:
        return None, str(error)
    if attrs.get("child_workflow_only"):
        parent = await one(conn, "SELECT parent_run_id FROM executions WHERE run_id = %s",
                            (target,))
        if parent is None or parent[0] != source_run_id:
            return None, f"workflow {attrs['workflow_id']!r} is not a child of this workflow"
    return target, ""


async def signal_external(ctx: WriteContext, conn: AsyncConn, run_id: str,
                           attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = await external_target(conn, run_id, attrs)
    if target is None:
        await inbox_event(ctx, conn, run_id,
                           EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                           {"seq": attrs["seq"], "cause": cause}, now)
        return
    await inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_SIGNALED,
                       {"signal_name": attrs["signal_name"], "input": attrs["input"],
                        "identity": identity}, now)
    await inbox_event(ctx, conn, run_id, EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                       {"seq": attrs["seq"]}, now)


async def cancel_external(ctx: WriteContext, conn: AsyncConn, run_id: str,
                           attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = await external_target(conn, run_id, attrs)
    if target is None:
        await inbox_event(ctx, conn, run_id,
                           EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                           {"seq": attrs["seq"], "cause": cause}, now)
        return
    await inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                       {"cause": "requested by another workflow", "identity": identity}, now)
    await inbox_event(ctx, conn, run_id,
                       EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                       {"seq": attrs["seq"]}, now)


async def update_workflow(ctx: WriteContext, conn: AsyncConn, workflow_id: str,
                           run_id: str | None, update_id: str, name: str,
                           input: list[dict[str, Any]], now: float) -> str:
    target, task_queue = await find_open_run(conn, workflow_id, run_id, lock=True)
    await conn.execute(
        "INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
        "VALUES (%s, %s, %s, %s, 0, %s) ON CONFLICT (run_id, update_id) DO NOTHING",
        (target, update_id, name, dumps(input), now))
    await ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


async def get_update(conn: AsyncConn, run_id: str, update_id: str) -> dict[str, Any] | None:
    row = await one(conn, "SELECT state, result, failure FROM updates WHERE run_id = %s AND "
                           "update_id = %s", (run_id, update_id))
    if row is None:
        return None
    return {"state": row[0], "result": loads(row[1]) if row[1] else None,
            "failure": loads(row[2]) if row[2] else None}


async def query_workflow(ctx: WriteContext, conn: AsyncConn, workflow_id: str,
                          run_id: str | None, name: str, input: list[dict[str, Any]],
                          now: float) -> int:
    if run_id is None:
        row = await one(conn, "SELECT run_id, task_queue FROM executions WHERE "
                               "workflow_id = %s ORDER BY start_time DESC LIMIT 1",
                         (workflow_id,))
    else:
        row = await one(conn, "SELECT run_id, task_queue FROM executions WHERE run_id = %s "
                               "AND workflow_id = %s", (run_id, workflow_id))
    if row is None:
        raise exc.WorkflowNotFoundError(f"workflow {workflow_id!r} not found")
    inserted = await one(conn, "INSERT INTO queries (run_id, task_queue, name, input, state, "
                                "created_at) VALUES (%s, %s, %s, %s, 0, %s) RETURNING id",
                          (row[0], row[1], name, dumps(input), now))
    ctx.wake("query", row[1])
    return int(inserted[0])


async def get_query(conn: AsyncConn, query_id: int) -> dict[str, Any] | None:
    row = await one(conn, "SELECT state, result, failure FROM queries WHERE id = %s",
                     (query_id,))
    if row is None:
        return None
    return {"state": row[0], "result": loads(row[1]) if row[1] else None,
            "failure": loads(row[2]) if row[2] else None}


async def claim_queries(ctx: WriteContext, conn: AsyncConn, task_queue: str, worker_id: str,
                         now: float, limit: int) -> list[dict[str, Any]]:
    rows = await all(
        conn,
        "WITH picked AS (SELECT id FROM queries WHERE task_queue = %s AND (state = 0 OR "
        " (state = 1 AND claimed_at < %s)) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE queries q SET state = 1, claimed_by = %s, claimed_at = %s FROM picked "
        "WHERE q.id = picked.id RETURNING q.id, q.run_id, q.name, q.input",
        (task_queue, now - QUERY_RECLAIM_SECONDS, limit, worker_id, now))
    rows.sort(key=lambda r: r[0])
    return [{"id": r[0], "run_id": r[1], "name": r[2], "input": loads(r[3])} for r in rows]


async def answer_query(ctx: WriteContext, conn: AsyncConn, query_id: int,
                        result: dict[str, Any] | None, failure: dict[str, Any] | None) -> None:
    await conn.execute("UPDATE queries SET state = 2, result = %s, failure = %s WHERE id = %s",
                       (dumps(result) if result is not None else None,
                        dumps(failure) if failure is not None else None, query_id))
    ctx.wake("query_answered", str(query_id))


async def delete_query(ctx: WriteContext, conn: AsyncConn, query_id: int) -> None:
    await conn.execute("DELETE FROM queries WHERE id = %s", (query_id,))


async def mark_activity_async(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                               attempt: int, worker_id: str) -> bool:
    # The attempt now belongs to whoever holds its task token, not to this worker: a dead
    # worker's reclaim must not retry it. Its timeouts still apply.
    return await run(conn, "UPDATE activity_tasks SET lease_owner = 'async' WHERE run_id = %s "
                            "AND seq = %s AND attempt = %s AND lease_owner = %s",
                      (run_id, seq, attempt, worker_id)) == 1
