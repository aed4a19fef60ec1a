"""SQLite store operations for messages between runs and clients: child starts, external
signals and cancels, updates, queries."""

from __future__ import annotations

import sqlite3
from typing import Any

from ... import exceptions as exc
from ..._model.events import EventType
from ..base import (
    StartWorkflowRequest,
)
from .connection import WriteContext
from .ops_executions import (
    dumps,
    ensure_workflow_task,
    find_open_run,
    inbox_event,
    insert_execution,
    loads,
)


def start_child(ctx: WriteContext, conn: sqlite3.Connection, parent_run_id: str,
                 parent_workflow_id: str, attrs: dict[str, Any], identity: str,
                 now: float) -> None:
    child_id = attrs["workflow_id"]
    base = {"seq": attrs["seq"], "workflow_id": child_id, "workflow_type": attrs["workflow_type"]}
    running = conn.execute("SELECT run_id FROM executions WHERE workflow_id = ? AND status = 1",
                           (child_id,)).fetchone()
    if running is not None:
        inbox_event(ctx, conn, parent_run_id, EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED,
                     {**base, "cause": f"workflow id {child_id!r} is already running (run "
                      f"{running[0]}); give the child another id"}, now)
        return
    timeout = attrs.get("execution_timeout")
    request = StartWorkflowRequest(
        workflow_id=child_id, workflow_type=attrs["workflow_type"],
        task_queue=attrs["task_queue"], input=attrs["input"], run_id=attrs["run_id"],
        random_seed=attrs["random_seed"], execution_timeout=timeout, identity=identity,
        parent_workflow_id=parent_workflow_id, parent_run_id=parent_run_id,
        parent_seq=attrs["seq"], parent_close_policy=attrs.get("parent_close_policy") or 1)
    insert_execution(ctx, conn, request, now, now + timeout if timeout else None)
    inbox_event(ctx, conn, parent_run_id, EventType.CHILD_WORKFLOW_EXECUTION_STARTED,
                 {**base, "run_id": attrs["run_id"]}, now)


def external_target(conn: sqlite3.Connection, source_run_id: str, attrs: dict[str, Any]
                     ) -> tuple[str | None, str]:
    try:
        target, _ = find_open_run(conn, attrs["workflow_id"], attrs.get("run_id"))
    except exc.WorkflowNotFoundError as error:
        return None, str(error)
    if attrs.get("child_workflow_only"):
        parent = conn.execute("SELECT parent_run_id FROM executions WHERE run_id = ?",
                              (target,)).fetchone()
        if parent is None or parent[0] != source_run_id:
            return None, f"workflow {attrs['workflow_id']!r} is not a child of this workflow"
    return target, ""


def signal_external(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                     attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = external_target(conn, run_id, attrs)
    if target is None:
        inbox_event(ctx, conn, run_id, EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                     {"seq": attrs["seq"], "cause": cause}, now)
        return
    inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_SIGNALED,
                 {"signal_name": attrs["signal_name"], "input": attrs["input"],
                  "identity": identity}, now)
    inbox_event(ctx, conn, run_id, EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                 {"seq": attrs["seq"]}, now)


def cancel_external(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                     attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = external_target(conn, run_id, attrs)
    if target is None:
        inbox_event(ctx, conn, run_id,
                     EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                     {"seq": attrs["seq"], "cause": cause}, now)
        return
    inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                 {"cause": "requested by another workflow", "identity": identity}, now)
    inbox_event(ctx, conn, run_id, EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                 {"seq": attrs["seq"]}, now)


def update_workflow(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
                     run_id: str | None, update_id: str, name: str,
                     input: list[dict[str, Any]], now: float) -> str:
    target, task_queue = find_open_run(conn, workflow_id, run_id)
    conn.execute("INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
                 "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (run_id, update_id) DO NOTHING",
                 (target, update_id, name, dumps(input), now))
    ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


def get_update(conn: sqlite3.Connection, run_id: str, update_id: str
                ) -> dict[str, Any] | None:
    row = conn.execute("SELECT state, result, failure FROM updates WHERE run_id = ? AND "
                       "update_id = ?", (run_id, update_id)).fetchone()
    if row is None:
        return None
    return {"state": row[0], "result": loads(row[1]) if row[1] else None,
            "failure": loads(row[2]) if row[2] else None}


def query_workflow(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
                    run_id: str | None, name: str, input: list[dict[str, Any]],
                    now: float) -> int:
    if run_id is None:
        row = conn.execute("SELECT run_id, task_queue FROM executions WHERE workflow_id = ? "
                           "ORDER BY start_time DESC LIMIT 1", (workflow_id,)).fetchone()
    else:
        row = conn.execute("SELECT run_id, task_queue FROM executions WHERE run_id = ? AND "
                           "workflow_id = ?", (run_id, workflow_id)).fetchone()
    if row is None:
        raise exc.WorkflowNotFoundError(f"workflow {workflow_id!r} not found")
    cursor = conn.execute("INSERT INTO queries (run_id, task_queue, name, input, state, "
                          "created_at) VALUES (?, ?, ?, ?, 0, ?)",
                          (row[0], row[1], name, dumps(input), now))
    ctx.wake("query", row[1])
    return int(cursor.lastrowid or 0)


def get_query(conn: sqlite3.Connection, query_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT state, result, failure FROM queries WHERE id = ?",
                       (query_id,)).fetchone()
    if row is None:
        return None
    return {"state": row[0], "result": loads(row[1]) if row[1] else None,
            "failure": loads(row[2]) if row[2] else None}


def has_pending_queries(conn: sqlite3.Connection, task_queue: str, now: float) -> bool:
    return conn.execute("SELECT 1 FROM queries WHERE task_queue = ? AND (state = 0 OR "
                        "(state = 1 AND claimed_at < ?)) LIMIT 1",
                        (task_queue, now - 5.0)).fetchone() is not None


def claim_queries(ctx: WriteContext, conn: sqlite3.Connection, task_queue: str,
                   worker_id: str, now: float, limit: int) -> list[dict[str, Any]]:
    # A query claimed by a worker that did not answer within 5 s is offered again.
    rows = conn.execute("SELECT id, run_id, name, input FROM queries WHERE task_queue = ? AND "
                        "(state = 0 OR (state = 1 AND claimed_at < ?)) ORDER BY id LIMIT ?",
                        (task_queue, now - 5.0, limit)).fetchall()
    for row in rows:
        conn.execute("UPDATE queries SET state = 1, claimed_by = ?, claimed_at = ? "
                     "WHERE id = ?", (worker_id, now, row[0]))
    return [{"id": r[0], "run_id": r[1], "name": r[2], "input": loads(r[3])} for r in rows]


def answer_query(ctx: WriteContext, conn: sqlite3.Connection, query_id: int,
                  result: dict[str, Any] | None, failure: dict[str, Any] | None) -> None:
    conn.execute("UPDATE queries SET state = 2, result = ?, failure = ? WHERE id = ?",
                 (dumps(result) if result is not None else None,
                  dumps(failure) if failure is not None else None, query_id))
    ctx.wake("query_answered", str(query_id))


def delete_query(ctx: WriteContext, conn: sqlite3.Connection, query_id: int) -> None:
    conn.execute("DELETE FROM queries WHERE id = ?", (query_id,))
