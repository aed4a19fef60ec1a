"""SQLite store. Knows SQL and sqlite3; knows nothing of workflow code.

Each public write method submits one operation to the group-commit writer; each operation is a
plain function of a connection that runs inside the writer's transaction.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

from ... import exceptions as exc
from ..._model.events import CLOSE_EVENT_TYPES, EventType, HistoryEvent
from ..base import (
    ActivityTaskClaim,
    CompletionResult,
    ExecutionRow,
    ExecutionStatus,
    ExpiredActivity,
    InboxEvent,
    StartResult,
    StartWorkflowRequest,
    WorkerRow,
    WorkflowTaskClaim,
    WorkflowTaskCompletion,
)
from ..wakeup import EXTERNAL, Notifier, Subscription
from .connection import (
    Reader,
    SqliteOptions,
    WriteContext,
    Writer,
    check_file,
    connect,
    migrate,
    parse_url,
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads

_CLOSE_STATUS = {
    EventType.WORKFLOW_EXECUTION_COMPLETED: ExecutionStatus.COMPLETED,
    EventType.WORKFLOW_EXECUTION_FAILED: ExecutionStatus.FAILED,
    EventType.WORKFLOW_EXECUTION_CANCELED: ExecutionStatus.CANCELED,
    EventType.WORKFLOW_EXECUTION_TERMINATED: ExecutionStatus.TERMINATED,
    EventType.WORKFLOW_EXECUTION_CONTINUED_AS_NEW: ExecutionStatus.CONTINUED_AS_NEW,
    EventType.WORKFLOW_EXECUTION_TIMED_OUT: ExecutionStatus.TIMED_OUT,
}

_EXECUTION_COLUMNS = (
    "run_id, workflow_id, workflow_type, task_queue, status, start_time, close_time, "
    "first_run_id, continued_run_id, next_run_id, next_event_id, result, failure, "
    "execution_deadline, parent_workflow_id, parent_run_id"
)
_ACTIVITY_COLUMNS = (
    "run_id, seq, workflow_id, workflow_type, activity_type, activity_id, task_queue, input, "
    "options, attempt, scheduled_at, attempt_scheduled_at, started_at, heartbeat_details, "
    "lease_owner, heartbeat_at, last_failure"
)


class SqliteStore:
    """The embedded default store: one SQLite file in WAL mode, durable commits."""

    def __init__(self, url: str, options: SqliteOptions) -> None:
        self.url = url
        self._options = options
        self.notifier = Notifier()
        self._writer = Writer(options, self._on_commit)
        self._reader = Reader(options)
        self._heartbeat_conn: sqlite3.Connection | None = None
        self._close_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        options = parse_url(url)

        def prepare() -> None:
            check_file(options.path)
            conn = connect(options)
            try:
                migrate(conn, options.path)
            finally:
                conn.close()

        await asyncio.get_running_loop().run_in_executor(None, prepare)
        return cls(url, options)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._writer.close)
        await loop.run_in_executor(None, self._reader.close)
        if self._heartbeat_conn is not None:
            self._heartbeat_conn.close()

    # -- wakeups -------------------------------------------------------------------------
    def subscribe(self, *keys: tuple[str, str]) -> Subscription:
        return self.notifier.subscribe(keys)

    def _on_commit(self, keys: set[tuple[str, str]]) -> None:
        self.notifier.publish(keys)

    async def _write(self, fn: Any, *args: Any) -> Any:
        return await self._writer.submit(fn, *args)

    # -- clients -------------------------------------------------------------------------
    async def start_workflow(self, request: StartWorkflowRequest, now: float) -> StartResult:
        result: StartResult = await self._write(_start_workflow, request, now)
        return result

    async def signal_workflow(self, workflow_id: str, run_id: str | None, signal_name: str,
                              input: list[dict[str, Any]], identity: str, now: float) -> str:
        attrs = {"signal_name": signal_name, "input": input, "identity": identity}
        target: str = await self._write(_add_external_event, workflow_id, run_id,
                                         EventType.WORKFLOW_EXECUTION_SIGNALED, attrs, now)
        return target

    async def request_cancel_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                      identity: str, now: float) -> str:
        attrs = {"cause": reason, "identity": identity}
        target: str = await self._write(_add_external_event, workflow_id, run_id,
                                         EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED, attrs,
                                         now)
        return target

    async def terminate_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                 details: list[dict[str, Any]], identity: str,
                                 now: float) -> str:
        target: str = await self._write(_terminate, workflow_id, run_id, reason, details,
                                         identity, now)
        return target

    async def get_execution(self, workflow_id: str | None,
                            run_id: str | None) -> ExecutionRow | None:
        row: ExecutionRow | None = await self._reader.run(_get_execution, workflow_id, run_id)
        return row

    async def list_executions(self, *, status: int | None = None,
                              workflow_type: str | None = None,
                              workflow_id_prefix: str | None = None,
                              task_queue: str | None = None,
                              limit: int = 100) -> list[ExecutionRow]:
        rows: list[ExecutionRow] = await self._reader.run(
            _list_executions, status, workflow_type, workflow_id_prefix, task_queue, limit)
        return rows

    async def get_history(self, run_id: str, after_event_id: int = 0,
                          limit: int | None = None) -> list[HistoryEvent]:
        events: list[HistoryEvent] = await self._reader.run(_get_history, run_id,
                                                            after_event_id, limit)
        return events

    async def get_inbox(self, run_id: str) -> list[InboxEvent]:
        events: list[InboxEvent] = await self._reader.run(_read_inbox, run_id, 0)
        return events

    async def list_pending_activities(self, run_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._reader.run(_pending_activities, run_id)
        return rows

    async def wait_closed(self, run_id: str, timeout: float | None) -> ExecutionRow | None:
        """Wait until ``run_id`` closes; the closed row, or None on timeout."""
        sub = self.subscribe(("closed", run_id))
        try:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while True:
                row: ExecutionRow | None = await self._reader.run(_get_execution, None, run_id)
                if row is None:
                    raise exc.WorkflowNotFoundError(f"workflow run {run_id!r} not found")
                if row.status != ExecutionStatus.RUNNING:
                    return row
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return None
                await sub.wait(remaining)
        finally:
            sub.close()

    # -- workers -------------------------------------------------------------------------
    async def register_worker(self, worker: WorkerRow) -> None:
        await self._write(_register_worker, worker)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._write(_unregister_worker, worker_id)

    def heartbeat_worker_blocking(self, worker_id: str, now: float) -> None:
        """Called from the worker's liveness thread, on a connection of its own."""
        if self._heartbeat_conn is None:
            self._heartbeat_conn = connect(self._options)
        self._heartbeat_conn.execute(
            "UPDATE workers SET heartbeat_at = ? WHERE worker_id = ?", (now, worker_id))

    async def list_workers(self) -> list[WorkerRow]:
        rows: list[WorkerRow] = await self._reader.run(_list_workers)
        return rows

    async def claim_workflow_tasks(self, task_queue: str, worker_id: str, now: float,
                                   lease_seconds: float, limit: int) -> list[WorkflowTaskClaim]:
        if not await self._reader.run(_has_ready_workflow_task, task_queue, worker_id, now):
            return []
        claims: list[WorkflowTaskClaim] = await self._write(
            _claim_workflow_tasks, task_queue, worker_id, now, lease_seconds, limit)
        return claims

    async def complete_workflow_task(self, completion: WorkflowTaskCompletion,
                                     now: float) -> CompletionResult:
        result: CompletionResult = await self._write(_complete_workflow_task, completion, now)
        return result

    async def fail_workflow_task(self, run_id: str, worker_id: str, failure: dict[str, Any],
                                 retry_at: float, now: float) -> None:
        await self._write(_fail_workflow_task, run_id, worker_id, failure, retry_at, now)

    async def release_workflow_task(self, run_id: str, worker_id: str, now: float) -> None:
        await self._write(_release_workflow_task, run_id, worker_id, now)

    async def claim_activity_tasks(self, task_queue: str, worker_id: str, now: float,
                                   limit: int) -> list[ActivityTaskClaim]:
        if not await self._reader.run(_has_ready_activity_task, task_queue, now):
            return []
        claims: list[ActivityTaskClaim] = await self._write(
            _claim_activity_tasks, task_queue, worker_id, now, limit)
        return claims

    async def complete_activity_task(self, run_id: str, seq: int, attempt: int,
                                     worker_id: str | None,
                                     result: dict[str, Any], identity: str, now: float,
                                     claim_workflow_task: bool
                                     ) -> tuple[bool, WorkflowTaskClaim | None]:
        outcome: tuple[bool, WorkflowTaskClaim | None] = await self._write(
            _complete_activity_task, run_id, seq, attempt, worker_id, result, identity, now,
            claim_workflow_task)
        return outcome

    async def complete_activity_and_workflow_task(
            self, seq: int, attempt: int, result: dict[str, Any], started_at: float,
            completion: WorkflowTaskCompletion, now: float
    ) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]:
        outcome: tuple[str, CompletionResult | None, WorkflowTaskClaim | None] = \
            await self._write(_complete_activity_and_workflow_task, seq, attempt, result,
                              started_at, completion, now)
        return outcome

    async def fail_activity_task(self, run_id: str, seq: int, attempt: int,
                                 worker_id: str | None, failure: dict[str, Any],
                                 final_failure: dict[str, Any] | None, retry_at: float | None,
                                 heartbeat_details: list[dict[str, Any]] | None,
                                 event_type: str, identity: str, now: float) -> bool:
        accepted: bool = await self._write(
            _fail_activity_task, run_id, seq, attempt, worker_id, failure, final_failure,
            retry_at, heartbeat_details, event_type, identity, now)
        return accepted

    async def heartbeat_activity_task(self, run_id: str, seq: int, attempt: int,
                                      worker_id: str, details: list[dict[str, Any]],
                                      now: float) -> bool | None:
        cancel: bool | None = await self._write(_heartbeat_activity_task, run_id, seq, attempt,
                                                worker_id, details, now)
        return cancel

    # -- updates, queries, async completion -----------------------------------------------
    async def update_workflow(self, workflow_id: str, run_id: str | None, update_id: str,
                              name: str, input: list[dict[str, Any]], now: float) -> str:
        target: str = await self._write(_update_workflow, workflow_id, run_id, update_id, name,
                                         input, now)
        return target

    async def get_update(self, run_id: str, update_id: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._reader.run(_get_update, run_id, update_id)
        return row

    async def query_workflow(self, workflow_id: str, run_id: str | None, name: str,
                             input: list[dict[str, Any]], now: float) -> int:
        query_id: int = await self._write(_query_workflow, workflow_id, run_id, name, input,
                                          now)
        return query_id

    async def get_query(self, query_id: int) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._reader.run(_get_query, query_id)
        return row

    async def delete_query(self, query_id: int) -> None:
        await self._write(_delete_query, query_id)

    async def claim_queries(self, task_queue: str, worker_id: str, now: float,
                            limit: int) -> list[dict[str, Any]]:
        if not await self._reader.run(_has_pending_queries, task_queue, now):
            return []
        rows: list[dict[str, Any]] = await self._write(_claim_queries, task_queue, worker_id,
                                                       now, limit)
        return rows

    async def answer_query(self, query_id: int, result: dict[str, Any] | None,
                           failure: dict[str, Any] | None) -> None:
        await self._write(_answer_query, query_id, result, failure)

    async def mark_activity_async(self, run_id: str, seq: int, attempt: int,
                                  worker_id: str) -> bool:
        marked: bool = await self._write(_mark_activity_async, run_id, seq, attempt, worker_id)
        return marked

    # -- sweeper -------------------------------------------------------------------------
    async def fire_due_timers(self, now: float, limit: int) -> int:
        if not await self._reader.run(_has_due_timers, now):
            return 0
        fired: int = await self._write(_fire_due_timers, now, limit)
        return fired

    async def find_expired_activities(self, now: float, limit: int) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._reader.run(_expired_activities, now, limit)
        return rows

    async def find_activities_of_worker(self, worker_id: str) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._reader.run(_activities_of_worker, worker_id)
        return rows

    async def release_workflow_tasks_of_worker(self, worker_id: str, now: float) -> int:
        released: int = await self._write(_release_workflow_tasks_of_worker, worker_id, now)
        return released

    async def time_out_executions(self, now: float, limit: int) -> int:
        if not await self._reader.run(_has_expired_executions, now):
            return 0
        count: int = await self._write(_time_out_executions, now, limit)
        return count

    async def next_due_time(self, now: float) -> float | None:
        due: float | None = await self._reader.run(_next_due_time, now)
        return due


# ---------------------------------------------------------------------------------------------
# Operations: plain functions of a connection, run inside one transaction.
# ---------------------------------------------------------------------------------------------

def _append_event(conn: sqlite3.Connection, run_id: str, event_id: int, event_type: str,
                  timestamp: float, attributes: dict[str, Any]) -> None:
    conn.execute("INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (run_id, event_id, event_type, timestamp, _dumps(attributes)))


def _ensure_workflow_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                          task_queue: str, now: float, affinity: str | None) -> None:
    conn.execute(
        "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING",
        (run_id, task_queue, now, affinity))
    ctx.wake("workflow_task", task_queue)


def _insert_execution(ctx: WriteContext, conn: sqlite3.Connection, request: StartWorkflowRequest,
                      now: float, deadline: float | None) -> None:
    first_run_id = request.first_run_id or request.run_id
    conn.execute(
        f"INSERT INTO executions ({_EXECUTION_COLUMNS}, parent_seq, parent_close_policy) "
        "VALUES (?, ?, ?, ?, 1, ?, NULL, ?, ?, NULL, 2, NULL, NULL, ?, ?, ?, ?, ?)",
        (request.run_id, request.workflow_id, request.workflow_type, request.task_queue, now,
         first_run_id, request.continued_run_id, deadline, request.parent_workflow_id,
         request.parent_run_id, request.parent_seq, request.parent_close_policy))
    _append_event(conn, request.run_id, 1, EventType.WORKFLOW_EXECUTION_STARTED, now, {
        "workflow_id": request.workflow_id, "workflow_type": request.workflow_type,
        "task_queue": request.task_queue, "input": request.input,
        "execution_timeout": request.execution_timeout, "random_seed": request.random_seed,
        "first_run_id": first_run_id, "continued_run_id": request.continued_run_id,
        "attempt": 1, "identity": request.identity,
        "parent": {"namespace": "default", "workflow_id": request.parent_workflow_id,
                   "run_id": request.parent_run_id} if request.parent_run_id else None,
    })
    if request.start_signal is not None:
        name, signal_input = request.start_signal
        conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                     "VALUES (?, ?, ?, ?)",
                     (request.run_id, EventType.WORKFLOW_EXECUTION_SIGNALED, now,
                      _dumps({"signal_name": name, "input": signal_input,
                              "identity": request.identity})))
    _ensure_workflow_task(ctx, conn, request.run_id, request.task_queue, now, None)


def _start_workflow(ctx: WriteContext, conn: sqlite3.Connection, request: StartWorkflowRequest,
                    now: float) -> StartResult:
    open_row = conn.execute(
        "SELECT run_id, workflow_type FROM executions WHERE workflow_id = ? AND status = 1",
        (request.workflow_id,)).fetchone()
    if open_row is not None:
        policy = request.id_conflict_policy
        if request.id_reuse_policy == 4 and policy == 0:  # TERMINATE_IF_RUNNING
            policy = 3
        if policy == 2:  # USE_EXISTING
            if request.start_signal is not None:
                name, signal_input = request.start_signal
                _add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                    EventType.WORKFLOW_EXECUTION_SIGNALED,
                                    {"signal_name": name, "input": signal_input,
                                     "identity": request.identity}, now)
            return StartResult(open_row[0], started=False)
        if policy == 3:  # TERMINATE_EXISTING
            _terminate(ctx, conn, request.workflow_id, open_row[0],
                       "terminated by a new start with the same workflow id", [],
                       request.identity, now)
        else:
            if request.start_signal is not None:  # signal-with-start signals the running run
                name, signal_input = request.start_signal
                _add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                    EventType.WORKFLOW_EXECUTION_SIGNALED,
                                    {"signal_name": name, "input": signal_input,
                                     "identity": request.identity}, now)
                return StartResult(open_row[0], started=False)
            raise exc.WorkflowAlreadyStartedError(request.workflow_id, open_row[1],
                                                  run_id=open_row[0])
    else:
        last = conn.execute(
            "SELECT run_id, status, workflow_type FROM executions WHERE workflow_id = ? "
            "ORDER BY start_time DESC LIMIT 1", (request.workflow_id,)).fetchone()
        if last is not None and request.continued_run_id is None:
            reuse = request.id_reuse_policy
            status = ExecutionStatus(last[1])
            if reuse == 3 or (reuse == 2 and status in (ExecutionStatus.COMPLETED,)):
                raise exc.WorkflowAlreadyStartedError(
                    request.workflow_id, last[2], run_id=last[0],
                    reason=f"workflow id {request.workflow_id!r} was already used by run "
                    f"{last[0]} ({status.name.lower()}) and id_reuse_policy="
                    f"{_REUSE_NAMES.get(reuse, reuse)} forbids another run; choose another id")
    deadline = now + request.execution_timeout if request.execution_timeout else None
    _insert_execution(ctx, conn, request, now, deadline)
    return StartResult(request.run_id, started=True)


_CHILD_CLOSE_EVENTS = {
    ExecutionStatus.COMPLETED: EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ExecutionStatus.FAILED: EventType.CHILD_WORKFLOW_EXECUTION_FAILED,
    ExecutionStatus.CANCELED: EventType.CHILD_WORKFLOW_EXECUTION_CANCELED,
    ExecutionStatus.TERMINATED: EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED,
    ExecutionStatus.TIMED_OUT: EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
}


def _parent_of(conn: sqlite3.Connection, run_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT parent_workflow_id, parent_run_id, parent_seq, "
                       "parent_close_policy FROM executions WHERE run_id = ?",
                       (run_id,)).fetchone()
    if row is None or row[1] is None:
        return {}
    return {"parent_workflow_id": row[0], "parent_run_id": row[1], "parent_seq": row[2],
            "parent_close_policy": row[3]}


def _inbox_event(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, event_type: str,
                 attributes: dict[str, Any], now: float) -> None:
    """Add an input event for an open run and make sure it gets a workflow task."""
    row = conn.execute("SELECT task_queue FROM executions WHERE run_id = ? AND status = 1",
                       (run_id,)).fetchone()
    if row is None:
        return
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)", (run_id, event_type, now, _dumps(attributes)))
    _ensure_workflow_task(ctx, conn, run_id, row[0], now, None)


def _notify_parent(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, status: int,
                   result: dict[str, Any] | None, failure: dict[str, Any] | None,
                   now: float) -> None:
    row = conn.execute("SELECT parent_run_id, parent_seq, workflow_id, workflow_type, "
                       "first_run_id FROM executions WHERE run_id = ?", (run_id,)).fetchone()
    if row is None or row[0] is None:
        return
    attrs: dict[str, Any] = {"seq": row[1], "workflow_id": row[2], "workflow_type": row[3],
                             "run_id": run_id}
    if result is not None:
        attrs["result"] = result
    if failure is not None:
        attrs["failure"] = failure
    _inbox_event(ctx, conn, row[0], _CHILD_CLOSE_EVENTS[ExecutionStatus(status)], attrs, now)


def _apply_parent_close_policy(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                               now: float) -> None:
    children = conn.execute("SELECT run_id, workflow_id, parent_close_policy FROM executions "
                            "WHERE parent_run_id = ? AND status = 1", (run_id,)).fetchall()
    for child_run_id, child_workflow_id, policy in children:
        if policy == 2:  # ABANDON
            continue
        if policy == 3:  # REQUEST_CANCEL
            _inbox_event(ctx, conn, child_run_id, EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                         {"cause": "parent workflow closed", "identity": ""}, now)
        else:  # TERMINATE (the default)
            _terminate(ctx, conn, child_workflow_id, child_run_id,
                       "parent workflow closed (parent_close_policy=TERMINATE)", [], "", now)


def _start_child(ctx: WriteContext, conn: sqlite3.Connection, parent_run_id: str,
                 parent_workflow_id: str, attrs: dict[str, Any], identity: str,
                 now: float) -> None:
    child_id = attrs["workflow_id"]
    base = {"seq": attrs["seq"], "workflow_id": child_id, "workflow_type": attrs["workflow_type"]}
    running = conn.execute("SELECT run_id FROM executions WHERE workflow_id = ? AND status = 1",
                           (child_id,)).fetchone()
    if running is not None:
        _inbox_event(ctx, conn, parent_run_id, EventType.START_CHILD_WORKFLOW_EXECUTION_FAILED,
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
    _insert_execution(ctx, conn, request, now, now + timeout if timeout else None)
    _inbox_event(ctx, conn, parent_run_id, EventType.CHILD_WORKFLOW_EXECUTION_STARTED,
                 {**base, "run_id": attrs["run_id"]}, now)


def _external_target(conn: sqlite3.Connection, source_run_id: str, attrs: dict[str, Any]
                     ) -> tuple[str | None, str]:
    try:
        target, _ = _find_open_run(conn, attrs["workflow_id"], attrs.get("run_id"))
    except exc.WorkflowNotFoundError as error:
        return None, str(error)
    if attrs.get("child_workflow_only"):
        parent = conn.execute("SELECT parent_run_id FROM executions WHERE run_id = ?",
                              (target,)).fetchone()
        if parent is None or parent[0] != source_run_id:
            return None, f"workflow {attrs['workflow_id']!r} is not a child of this workflow"
    return target, ""


def _signal_external(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                     attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = _external_target(conn, run_id, attrs)
    if target is None:
        _inbox_event(ctx, conn, run_id, EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                     {"seq": attrs["seq"], "cause": cause}, now)
        return
    _inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_SIGNALED,
                 {"signal_name": attrs["signal_name"], "input": attrs["input"],
                  "identity": identity}, now)
    _inbox_event(ctx, conn, run_id, EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                 {"seq": attrs["seq"]}, now)


def _cancel_external(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                     attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = _external_target(conn, run_id, attrs)
    if target is None:
        _inbox_event(ctx, conn, run_id,
                     EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                     {"seq": attrs["seq"], "cause": cause}, now)
        return
    _inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                 {"cause": "requested by another workflow", "identity": identity}, now)
    _inbox_event(ctx, conn, run_id, EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                 {"seq": attrs["seq"]}, now)


def _update_workflow(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
                     run_id: str | None, update_id: str, name: str,
                     input: list[dict[str, Any]], now: float) -> str:
    target, task_queue = _find_open_run(conn, workflow_id, run_id)
    conn.execute("INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
                 "VALUES (?, ?, ?, ?, 0, ?) ON CONFLICT (run_id, update_id) DO NOTHING",
                 (target, update_id, name, _dumps(input), now))
    _ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


def _get_update(conn: sqlite3.Connection, run_id: str, update_id: str
                ) -> dict[str, Any] | None:
    row = conn.execute("SELECT state, result, failure FROM updates WHERE run_id = ? AND "
                       "update_id = ?", (run_id, update_id)).fetchone()
    if row is None:
        return None
    return {"state": row[0], "result": _loads(row[1]) if row[1] else None,
            "failure": _loads(row[2]) if row[2] else None}


def _query_workflow(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
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
                          (row[0], row[1], name, _dumps(input), now))
    ctx.wake("query", row[1])
    return int(cursor.lastrowid or 0)


def _get_query(conn: sqlite3.Connection, query_id: int) -> dict[str, Any] | None:
    row = conn.execute("SELECT state, result, failure FROM queries WHERE id = ?",
                       (query_id,)).fetchone()
    if row is None:
        return None
    return {"state": row[0], "result": _loads(row[1]) if row[1] else None,
            "failure": _loads(row[2]) if row[2] else None}


def _has_pending_queries(conn: sqlite3.Connection, task_queue: str, now: float) -> bool:
    return conn.execute("SELECT 1 FROM queries WHERE task_queue = ? AND (state = 0 OR "
                        "(state = 1 AND claimed_at < ?)) LIMIT 1",
                        (task_queue, now - 5.0)).fetchone() is not None


def _claim_queries(ctx: WriteContext, conn: sqlite3.Connection, task_queue: str,
                   worker_id: str, now: float, limit: int) -> list[dict[str, Any]]:
    # A query claimed by a worker that did not answer within 5 s is offered again.
    rows = conn.execute("SELECT id, run_id, name, input FROM queries WHERE task_queue = ? AND "
                        "(state = 0 OR (state = 1 AND claimed_at < ?)) ORDER BY id LIMIT ?",
                        (task_queue, now - 5.0, limit)).fetchall()
    for row in rows:
        conn.execute("UPDATE queries SET state = 1, claimed_by = ?, claimed_at = ? "
                     "WHERE id = ?", (worker_id, now, row[0]))
    return [{"id": r[0], "run_id": r[1], "name": r[2], "input": _loads(r[3])} for r in rows]


def _answer_query(ctx: WriteContext, conn: sqlite3.Connection, query_id: int,
                  result: dict[str, Any] | None, failure: dict[str, Any] | None) -> None:
    conn.execute("UPDATE queries SET state = 2, result = ?, failure = ? WHERE id = ?",
                 (_dumps(result) if result is not None else None,
                  _dumps(failure) if failure is not None else None, query_id))
    ctx.wake("query_answered", str(query_id))


def _delete_query(ctx: WriteContext, conn: sqlite3.Connection, query_id: int) -> None:
    conn.execute("DELETE FROM queries WHERE id = ?", (query_id,))


def _mark_activity_async(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                         attempt: int, worker_id: str) -> bool:
    # The attempt now belongs to whoever holds its task token, not to this worker: a dead
    # worker's reclaim must not retry it. Its timeouts still apply.
    return conn.execute("UPDATE activity_tasks SET lease_owner = 'async' WHERE run_id = ? AND "
                        "seq = ? AND attempt = ? AND lease_owner = ?",
                        (run_id, seq, attempt, worker_id)).rowcount == 1


_REUSE_NAMES = {1: "ALLOW_DUPLICATE", 2: "ALLOW_DUPLICATE_FAILED_ONLY", 3: "REJECT_DUPLICATE",
                4: "TERMINATE_IF_RUNNING"}


def _find_open_run(conn: sqlite3.Connection, workflow_id: str, run_id: str | None
                   ) -> tuple[str, str]:
    if run_id is None:
        row = conn.execute("SELECT run_id, task_queue, status FROM executions "
                           "WHERE workflow_id = ? ORDER BY start_time DESC LIMIT 1",
                           (workflow_id,)).fetchone()
    else:
        row = conn.execute("SELECT run_id, task_queue, status FROM executions "
                           "WHERE run_id = ? AND workflow_id = ?", (run_id, workflow_id)
                           ).fetchone()
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


def _add_external_event(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
                        run_id: str | None, event_type: str, attributes: dict[str, Any],
                        now: float) -> str:
    target, task_queue = _find_open_run(conn, workflow_id, run_id)
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)", (target, event_type, now, _dumps(attributes)))
    _ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


def _close_run(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, status: int,
               now: float, result: dict[str, Any] | None, failure: dict[str, Any] | None,
               next_run_id: str | None = None) -> None:
    conn.execute("UPDATE executions SET status = ?, close_time = ?, result = ?, failure = ?, "
                 "next_run_id = ? WHERE run_id = ?",
                 (status, now, _dumps(result) if result is not None else None,
                  _dumps(failure) if failure is not None else None, next_run_id, run_id))
    for table in ("workflow_tasks", "activity_tasks", "timers", "inbox"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
    pending_updates = conn.execute("SELECT update_id FROM updates WHERE run_id = ? AND "
                                   "state IN (0, 1)", (run_id,)).fetchall()
    if pending_updates:
        conn.execute("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND "
                     "state IN (0, 1)", (_dumps({
                         "message": "the workflow closed before the update completed",
                         "source": "Stalwart", "application_failure_info": {
                             "type": "WorkflowClosed", "non_retryable": True}}), run_id))
        for (update_id,) in pending_updates:
            ctx.wake("update", update_id)
    ctx.wake("closed", run_id)
    if status != ExecutionStatus.CONTINUED_AS_NEW:
        _notify_parent(ctx, conn, run_id, status, result, failure, now)
    _apply_parent_close_policy(ctx, conn, run_id, now)


def _terminate(ctx: WriteContext, conn: sqlite3.Connection, workflow_id: str,
               run_id: str | None, reason: str, details: list[dict[str, Any]], identity: str,
               now: float) -> str:
    target, _ = _find_open_run(conn, workflow_id, run_id)
    next_event_id = conn.execute("SELECT next_event_id FROM executions WHERE run_id = ?",
                                 (target,)).fetchone()[0]
    _append_event(conn, target, next_event_id, EventType.WORKFLOW_EXECUTION_TERMINATED, now,
                  {"reason": reason, "details": details, "identity": identity})
    conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                 (next_event_id + 1, target))
    _close_run(ctx, conn, target, ExecutionStatus.TERMINATED, now, None,
               {"message": reason or "Workflow terminated", "source": "Stalwart",
                "terminated_failure_info": {}})
    return target


def _row_to_execution(row: Any) -> ExecutionRow:
    return ExecutionRow(
        run_id=row[0], workflow_id=row[1], workflow_type=row[2], task_queue=row[3],
        status=ExecutionStatus(row[4]), start_time=row[5], close_time=row[6],
        first_run_id=row[7], continued_run_id=row[8], next_run_id=row[9],
        history_length=row[10] - 1,
        result=_loads(row[11]) if row[11] is not None else None,
        failure=_loads(row[12]) if row[12] is not None else None, execution_deadline=row[13],
        parent_workflow_id=row[14], parent_run_id=row[15])


def _get_execution(conn: sqlite3.Connection, workflow_id: str | None, run_id: str | None
                   ) -> ExecutionRow | None:
    if run_id is not None:
        row = conn.execute(f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE run_id = ?",
                           (run_id,)).fetchone()
        if row is not None and workflow_id is not None and row[1] != workflow_id:
            return None
    else:
        row = conn.execute(f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE workflow_id = ? "
                           "ORDER BY start_time DESC LIMIT 1", (workflow_id,)).fetchone()
    return _row_to_execution(row) if row is not None else None


def _list_executions(conn: sqlite3.Connection, status: int | None, workflow_type: str | None,
                     workflow_id_prefix: str | None, task_queue: str | None,
                     limit: int) -> list[ExecutionRow]:
    clauses: list[str] = []
    params: list[Any] = []
    if status is not None:
        clauses.append("status = ?")
        params.append(status)
    if workflow_type:
        clauses.append("workflow_type = ?")
        params.append(workflow_type)
    if workflow_id_prefix:
        # A range on the primary sort key instead of LIKE, so the index is used.
        clauses.append("workflow_id >= ? AND workflow_id < ?")
        params += [workflow_id_prefix, workflow_id_prefix + "\U0010ffff"]
    if task_queue:
        clauses.append("task_queue = ?")
        params.append(task_queue)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(f"SELECT {_EXECUTION_COLUMNS} FROM executions {where} "
                        "ORDER BY start_time DESC LIMIT ?", (*params, limit)).fetchall()
    return [_row_to_execution(r) for r in rows]


def _get_history(conn: sqlite3.Connection, run_id: str, after_event_id: int,
                 limit: int | None) -> list[HistoryEvent]:
    rows = conn.execute(
        "SELECT event_id, event_type, timestamp, attributes FROM history "
        "WHERE run_id = ? AND event_id > ? ORDER BY event_id LIMIT ?",
        (run_id, after_event_id, -1 if limit is None else limit)).fetchall()
    return [HistoryEvent(r[0], r[1], r[2], _loads(r[3])) for r in rows]


def _read_inbox(conn: sqlite3.Connection, run_id: str, after_id: int) -> list[InboxEvent]:
    rows = conn.execute("SELECT id, event_type, timestamp, attributes FROM inbox "
                        "WHERE run_id = ? AND id > ? ORDER BY id", (run_id, after_id)).fetchall()
    return [InboxEvent(r[0], r[1], r[2], _loads(r[3])) for r in rows]


def _pending_activities(conn: sqlite3.Connection, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT seq, activity_id, activity_type, attempt, scheduled_at, started_at, "
        "heartbeat_at, last_failure, lease_owner, visible_at, cancel_requested "
        "FROM activity_tasks WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
    return [{
        "seq": r[0], "activity_id": r[1], "activity_type": r[2], "attempt": r[3],
        "scheduled_at": r[4], "started_at": r[5], "last_heartbeat_at": r[6],
        "last_failure": _loads(r[7]) if r[7] else None, "worker_id": r[8],
        "next_attempt_at": r[9] if r[8] is None else None, "cancel_requested": bool(r[10]),
        "state": "started" if r[8] is not None else "scheduled",
    } for r in rows]


def _register_worker(ctx: WriteContext, conn: sqlite3.Connection, worker: WorkerRow) -> None:
    conn.execute("INSERT OR REPLACE INTO workers (worker_id, identity, task_queue, host, pid, "
                 "pid_start, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (worker.worker_id, worker.identity, worker.task_queue, worker.host, worker.pid,
                  worker.pid_start, worker.heartbeat_at))


def _unregister_worker(ctx: WriteContext, conn: sqlite3.Connection, worker_id: str) -> None:
    conn.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))


def _list_workers(conn: sqlite3.Connection) -> list[WorkerRow]:
    return [WorkerRow(*row) for row in conn.execute(
        "SELECT worker_id, identity, task_queue, host, pid, pid_start, heartbeat_at "
        "FROM workers")]


def _has_ready_workflow_task(conn: sqlite3.Connection, task_queue: str, worker_id: str,
                             now: float) -> bool:
    row = conn.execute(
        "SELECT 1 FROM workflow_tasks WHERE task_queue = ? AND lease_owner IS NULL "
        "AND visible_at <= ? LIMIT 1", (task_queue, now)).fetchone()
    if row is not None:
        return True
    return conn.execute("SELECT 1 FROM workflow_tasks WHERE task_queue = ? AND "
                        "lease_owner IS NOT NULL AND lease_expires_at <= ? LIMIT 1",
                        (task_queue, now)).fetchone() is not None


def _claim_one_workflow_task(conn: sqlite3.Connection, run_id: str, worker_id: str,
                             now: float, lease_seconds: float) -> WorkflowTaskClaim | None:
    conn.execute("UPDATE workflow_tasks SET lease_owner = ?, lease_expires_at = ?, "
                 "affinity = ? WHERE run_id = ?", (worker_id, now + lease_seconds, worker_id,
                                                   run_id))
    row = conn.execute(
        "SELECT e.workflow_id, e.workflow_type, e.task_queue, e.next_event_id, w.attempt "
        "FROM executions e JOIN workflow_tasks w ON w.run_id = e.run_id "
        "WHERE e.run_id = ? AND e.status = 1", (run_id,)).fetchone()
    if row is None:
        conn.execute("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))
        return None
    updates = [{"update_id": u[0], "name": u[1], "input": _loads(u[2])} for u in conn.execute(
        "SELECT update_id, name, input FROM updates WHERE run_id = ? AND state = 0 "
        "ORDER BY created_at", (run_id,))]
    return WorkflowTaskClaim(run_id=run_id, workflow_id=row[0], workflow_type=row[1],
                             task_queue=row[2], attempt=row[4], history_length=row[3] - 1,
                             inbox=_read_inbox(conn, run_id, 0), updates=updates)


def _claim_workflow_tasks(ctx: WriteContext, conn: sqlite3.Connection, task_queue: str,
                          worker_id: str, now: float, lease_seconds: float,
                          limit: int) -> list[WorkflowTaskClaim]:
    rows = conn.execute(
        "SELECT run_id FROM workflow_tasks WHERE task_queue = ? AND "
        "((lease_owner IS NULL AND visible_at <= ?) OR "
        "(lease_owner IS NOT NULL AND lease_expires_at <= ?)) "
        "ORDER BY visible_at LIMIT ?", (task_queue, now, now, limit)).fetchall()
    claims = []
    for (run_id,) in rows:
        claim = _claim_one_workflow_task(conn, run_id, worker_id, now, lease_seconds)
        if claim is not None:
            claims.append(claim)
    return claims


def _timeouts_deadline(options: dict[str, Any], scheduled_at: float, attempt_scheduled_at: float,
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


def _complete_workflow_task(ctx: WriteContext, conn: sqlite3.Connection,
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
                         "update_id = ?", (_dumps(update_failure), run_id, update_id))
            ctx.wake("update", update_id)
        _finish_workflow_task(ctx, conn, completion, run_id, task_queue, now, CompletionResult(
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
        _append_event(conn, run_id, event_id, accepted.event_type, now, accepted.attributes)
        event_id += 1
        conn.execute("UPDATE updates SET state = 1 WHERE run_id = ? AND update_id = ?",
                     (run_id, accepted.attributes["update_id"]))
    for update_id, update_failure in completion.rejected_updates:
        conn.execute("UPDATE updates SET state = 2, failure = ? WHERE run_id = ? AND "
                     "update_id = ?", (_dumps(update_failure), run_id, update_id))
        ctx.wake("update", update_id)
    _append_event(conn, run_id, event_id, EventType.WORKFLOW_TASK_COMPLETED, now,
                  {"workflow_time": completion.workflow_time, "identity": completion.identity})
    event_id += 1
    result = CompletionResult(True)
    eager_budget = completion.eager_activity_limit
    closed = False
    for command in completion.commands:
        attrs = command.attributes
        etype = command.event_type
        _append_event(conn, run_id, event_id, etype, now, attrs)
        event_id += 1
        if etype == EventType.ACTIVITY_TASK_SCHEDULED:
            eager = eager_budget > 0 and attrs["task_queue"] == completion.eager_activity_queue
            options = {k: attrs.get(k) for k in (
                "schedule_to_close_timeout", "schedule_to_start_timeout",
                "start_to_close_timeout", "heartbeat_timeout", "retry_policy",
                "cancellation_type")}
            started_at = now if eager else None
            conn.execute(
                "INSERT INTO activity_tasks (run_id, seq, task_queue, workflow_id, "
                "workflow_type, activity_type, activity_id, input, options, attempt, "
                "scheduled_at, attempt_scheduled_at, visible_at, lease_owner, started_at, "
                "deadline_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?)",
                (run_id, attrs["seq"], attrs["task_queue"], workflow_id, workflow_type,
                 attrs["activity_type"], attrs["activity_id"], _dumps(attrs["input"]),
                 _dumps(options), now, now, now, completion.worker_id if eager else None,
                 started_at, _timeouts_deadline(options, now, now, started_at, None)))
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
            ctx.wake("deadline")
        elif etype == EventType.ACTIVITY_TASK_CANCEL_REQUESTED:
            event_id = _request_cancel_activity(ctx, conn, run_id, attrs["seq"], event_id, now)
        elif etype == EventType.TIMER_STARTED:
            conn.execute("INSERT OR REPLACE INTO timers (run_id, seq, fire_at) VALUES (?, ?, ?)",
                         (run_id, attrs["seq"], now + attrs["start_to_fire_timeout"]))
            ctx.wake("deadline")
        elif etype == EventType.TIMER_CANCELED:
            conn.execute("DELETE FROM timers WHERE run_id = ? AND seq = ?", (run_id, attrs["seq"]))
        elif etype == EventType.START_CHILD_WORKFLOW_EXECUTION_INITIATED:
            _start_child(ctx, conn, run_id, workflow_id, attrs, completion.identity, now)
        elif etype == EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            _signal_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            _cancel_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            conn.execute("UPDATE updates SET state = 3, result = ?, failure = ? WHERE "
                         "run_id = ? AND update_id = ?",
                         (_dumps(attrs["result"]) if "result" in attrs else None,
                          _dumps(attrs["failure"]) if "failure" in attrs else None, run_id,
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
                             "event_id = ?", (_dumps(attrs), run_id, event_id - 1))
            conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                         (event_id, run_id))
            _close_run(ctx, conn, run_id, _CLOSE_STATUS[EventType(etype)], now,
                       attrs.get("result"), attrs.get("failure"), next_run_id)
            if next_run_id is not None:
                timeout = attrs.get("execution_timeout")
                _insert_execution(ctx, conn, StartWorkflowRequest(
                    workflow_id=workflow_id, workflow_type=attrs["workflow_type"],
                    task_queue=attrs["task_queue"], input=attrs["input"], run_id=next_run_id,
                    random_seed=completion.new_run_seed, execution_timeout=timeout,
                    first_run_id=first_run_id, continued_run_id=run_id,
                    identity=completion.identity, **_parent_of(conn, run_id),
                ), now, now + timeout if timeout else deadline)
            break
    result.history_length = event_id - 1
    if closed:
        return result
    conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?", (event_id, run_id))
    _finish_workflow_task(ctx, conn, completion, run_id, task_queue, now, result)
    return result


def _finish_workflow_task(ctx: WriteContext, conn: sqlite3.Connection,
                          completion: WorkflowTaskCompletion, run_id: str, task_queue: str,
                          now: float, result: CompletionResult) -> None:
    """Keep the run's workflow task if more input waits (claimed at once by the same worker,
    whose cache is warm), else delete it."""
    if conn.execute("SELECT 1 FROM inbox WHERE run_id = ? LIMIT 1", (run_id,)).fetchone() or \
            conn.execute("SELECT 1 FROM updates WHERE run_id = ? AND state = 0 LIMIT 1",
                         (run_id,)).fetchone():
        if completion.claim_next_task:
            result.next_task = _claim_one_workflow_task(conn, run_id, completion.worker_id, now,
                                                        10.0)
            conn.execute("UPDATE workflow_tasks SET attempt = 1 WHERE run_id = ?", (run_id,))
        else:
            conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL,"
                         " visible_at = ?, attempt = 1 WHERE run_id = ?", (now, run_id))
            ctx.wake("workflow_task", task_queue)
    else:
        conn.execute("DELETE FROM workflow_tasks WHERE run_id = ?", (run_id,))


def _request_cancel_activity(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
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
                                             _dumps({"seq": seq, "failure": {
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


def _fail_workflow_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
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
        _append_event(conn, run_id, next_event_id, EventType.WORKFLOW_TASK_FAILED, now,
                      {"failure": failure, "identity": worker_id})
        conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                     (next_event_id + 1, run_id))
    conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                 "visible_at = ?, attempt = attempt + 1, affinity = NULL WHERE run_id = ?",
                 (retry_at, run_id))
    ctx.wake("deadline")


def _release_workflow_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str,
                           worker_id: str, now: float) -> None:
    row = conn.execute("SELECT task_queue FROM workflow_tasks WHERE run_id = ? AND "
                       "lease_owner = ?", (run_id, worker_id)).fetchone()
    if row is not None:
        conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                     "visible_at = ?, affinity = NULL WHERE run_id = ?", (now, run_id))
        ctx.wake("workflow_task", row[0])


def _has_ready_activity_task(conn: sqlite3.Connection, task_queue: str, now: float) -> bool:
    return conn.execute("SELECT 1 FROM activity_tasks WHERE task_queue = ? AND lease_owner IS "
                        "NULL AND visible_at <= ? LIMIT 1", (task_queue, now)).fetchone() \
        is not None


def _claim_activity_tasks(ctx: WriteContext, conn: sqlite3.Connection, task_queue: str,
                          worker_id: str, now: float, limit: int) -> list[ActivityTaskClaim]:
    rows = conn.execute(
        f"SELECT {_ACTIVITY_COLUMNS} FROM activity_tasks WHERE task_queue = ? AND "
        "lease_owner IS NULL AND visible_at <= ? ORDER BY visible_at LIMIT ?",
        (task_queue, now, limit)).fetchall()
    claims = []
    for r in rows:
        options = _loads(r[8])
        deadline = _timeouts_deadline(options, r[10], r[11], now, None)
        conn.execute("UPDATE activity_tasks SET lease_owner = ?, started_at = ?, "
                     "heartbeat_at = NULL, deadline_at = ? WHERE run_id = ? AND seq = ?",
                     (worker_id, now, deadline, r[0], r[1]))
        claims.append(ActivityTaskClaim(
            run_id=r[0], seq=r[1], workflow_id=r[2], workflow_type=r[3], activity_type=r[4],
            activity_id=r[5], task_queue=r[6], input=_loads(r[7]), options=options,
            attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11], started_at=now,
            heartbeat_details=_loads(r[13]) if r[13] else []))
    if claims:
        ctx.wake("deadline")
    return claims


def _leased_activity(conn: sqlite3.Connection, run_id: str, seq: int, attempt: int,
                     worker_id: str | None) -> Any:
    row = conn.execute(
        "SELECT task_queue, lease_owner, attempt, started_at FROM activity_tasks "
        "WHERE run_id = ? AND seq = ?", (run_id, seq)).fetchone()
    if row is None or row[2] != attempt:
        return None
    if worker_id is not None and row[1] != worker_id:
        return None
    return row


def _task_queue_of_run(conn: sqlite3.Connection, run_id: str) -> str | None:
    row = conn.execute("SELECT task_queue FROM executions WHERE run_id = ? AND status = 1",
                       (run_id,)).fetchone()
    return row[0] if row else None


def _complete_activity_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                            attempt: int, worker_id: str | None, result: dict[str, Any],
                            identity: str, now: float, claim_workflow_task: bool
                            ) -> tuple[bool, WorkflowTaskClaim | None]:
    row = _leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False, None
    conn.execute("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)",
                 (run_id, EventType.ACTIVITY_TASK_COMPLETED, now, _dumps({
                     "seq": seq, "result": result, "attempt": attempt, "identity": identity,
                     "started_time": row[3]})))
    return True, _wake_workflow(ctx, conn, run_id, worker_id or "", now,
                                claim_workflow_task and worker_id is not None)


def _complete_activity_and_workflow_task(
        ctx: WriteContext, conn: sqlite3.Connection, seq: int, attempt: int,
        result: dict[str, Any], started_at: float, completion: WorkflowTaskCompletion,
        now: float) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]:
    """Record an activity's result and the workflow task it caused in one transaction.

    Only when nothing else waits for the run (no workflow task, inbox or update): then the
    worker's speculative activation saw exactly what history will say. Otherwise the result is
    recorded the ordinary way ("fallback") and the speculative activation must be discarded.
    """
    run_id = completion.run_id
    if _leased_activity(conn, run_id, seq, attempt, completion.worker_id) is None:
        return "lost", None, None
    busy = conn.execute(
        "SELECT 1 FROM workflow_tasks WHERE run_id = ? UNION ALL "
        "SELECT 1 FROM inbox WHERE run_id = ? UNION ALL "
        "SELECT 1 FROM updates WHERE run_id = ? AND state = 0 LIMIT 1",
        (run_id, run_id, run_id)).fetchone()
    if busy is not None:
        _, claim = _complete_activity_task(ctx, conn, run_id, seq, attempt, completion.worker_id,
                                           result, completion.identity, now, True)
        return "fallback", None, claim
    task_queue = _task_queue_of_run(conn, run_id)
    if task_queue is None:
        return "lost", None, None
    conn.execute("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
    cursor = conn.execute(
        "INSERT INTO inbox (run_id, event_type, timestamp, attributes) VALUES (?, ?, ?, ?)",
        (run_id, EventType.ACTIVITY_TASK_COMPLETED, now, _dumps({
            "seq": seq, "result": result, "attempt": attempt, "identity": completion.identity,
            "started_time": started_at})))
    conn.execute("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, lease_owner, "
                 "lease_expires_at, affinity) VALUES (?, ?, ?, ?, ?, ?)",
                 (run_id, task_queue, now, completion.worker_id, now + 10.0,
                  completion.worker_id))
    completion.inbox_max_id = int(cursor.lastrowid or 0)
    return "committed", _complete_workflow_task(ctx, conn, completion, now), None


def _wake_workflow(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, worker_id: str,
                   now: float, claim: bool) -> WorkflowTaskClaim | None:
    task_queue = _task_queue_of_run(conn, run_id)
    if task_queue is None:
        return None
    existing = conn.execute("SELECT lease_owner FROM workflow_tasks WHERE run_id = ?",
                            (run_id,)).fetchone()
    if existing is None:
        conn.execute("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity) "
                     "VALUES (?, ?, ?, ?)", (run_id, task_queue, now, worker_id))
        if claim:
            return _claim_one_workflow_task(conn, run_id, worker_id, now, 10.0)
    ctx.wake("workflow_task", task_queue)
    return None


def _fail_activity_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                        attempt: int, worker_id: str | None, failure: dict[str, Any],
                        final_failure: dict[str, Any] | None, retry_at: float | None,
                        heartbeat_details: list[dict[str, Any]] | None, event_type: str,
                        identity: str, now: float) -> bool:
    row = _leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False
    if retry_at is not None:
        options_row = conn.execute("SELECT options, scheduled_at FROM activity_tasks "
                                   "WHERE run_id = ? AND seq = ?", (run_id, seq)).fetchone()
        options = _loads(options_row[0])
        conn.execute(
            "UPDATE activity_tasks SET attempt = attempt + 1, lease_owner = NULL, "
            "started_at = NULL, heartbeat_at = NULL, visible_at = ?, attempt_scheduled_at = ?, "
            "last_failure = ?, heartbeat_details = COALESCE(?, heartbeat_details), "
            "deadline_at = ?, cancel_requested = 0 WHERE run_id = ? AND seq = ?",
            (retry_at, retry_at, _dumps(failure),
             _dumps(heartbeat_details) if heartbeat_details is not None else None,
             _timeouts_deadline(options, options_row[1], retry_at, None, None), run_id, seq))
        ctx.wake("activity_task", row[0])
        ctx.wake("deadline")
        return True
    conn.execute("DELETE FROM activity_tasks WHERE run_id = ? AND seq = ?", (run_id, seq))
    conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                 "VALUES (?, ?, ?, ?)",
                 (run_id, event_type, now, _dumps({
                     "seq": seq, "failure": final_failure or failure, "attempt": attempt,
                     "identity": identity, "started_time": row[3]})))
    _wake_workflow(ctx, conn, run_id, "", now, False)
    return True


def _heartbeat_activity_task(ctx: WriteContext, conn: sqlite3.Connection, run_id: str, seq: int,
                             attempt: int, worker_id: str, details: list[dict[str, Any]],
                             now: float) -> bool | None:
    row = conn.execute("SELECT lease_owner, attempt, options, scheduled_at, "
                       "attempt_scheduled_at, started_at, cancel_requested FROM activity_tasks "
                       "WHERE run_id = ? AND seq = ?", (run_id, seq)).fetchone()
    if row is None or row[0] != worker_id or row[1] != attempt:
        return None
    deadline = _timeouts_deadline(_loads(row[2]), row[3], row[4], row[5], now)
    conn.execute("UPDATE activity_tasks SET heartbeat_at = ?, heartbeat_details = ?, "
                 "deadline_at = ? WHERE run_id = ? AND seq = ?",
                 (now, _dumps(details), deadline, run_id, seq))
    return bool(row[6])


def _has_due_timers(conn: sqlite3.Connection, now: float) -> bool:
    return conn.execute("SELECT 1 FROM timers WHERE fire_at <= ? LIMIT 1", (now,)).fetchone() \
        is not None


def _fire_due_timers(ctx: WriteContext, conn: sqlite3.Connection, now: float,
                     limit: int) -> int:
    rows = conn.execute("SELECT run_id, seq, fire_at FROM timers WHERE fire_at <= ? "
                        "ORDER BY fire_at LIMIT ?", (now, limit)).fetchall()
    for run_id, seq, _fire_at in rows:
        conn.execute("DELETE FROM timers WHERE run_id = ? AND seq = ?", (run_id, seq))
        conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                     "VALUES (?, ?, ?, ?)", (run_id, EventType.TIMER_FIRED, now,
                                             _dumps({"seq": seq, "timer_id": str(seq)})))
        _wake_workflow(ctx, conn, run_id, "", now, False)
    return len(rows)


def _row_to_expired(r: Any) -> ExpiredActivity:
    return ExpiredActivity(
        run_id=r[0], seq=r[1], workflow_id=r[2], activity_type=r[4], activity_id=r[5],
        options=_loads(r[8]), attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11],
        started_at=r[12], heartbeat_details=_loads(r[13]) if r[13] else [], lease_owner=r[14],
        heartbeat_at=r[15], last_failure=_loads(r[16]) if r[16] else None)


def _expired_activities(conn: sqlite3.Connection, now: float, limit: int
                        ) -> list[ExpiredActivity]:
    rows = conn.execute(f"SELECT {_ACTIVITY_COLUMNS} FROM activity_tasks WHERE deadline_at <= ? "
                        "ORDER BY deadline_at LIMIT ?", (now, limit)).fetchall()
    return [_row_to_expired(r) for r in rows]


def _activities_of_worker(conn: sqlite3.Connection, worker_id: str) -> list[ExpiredActivity]:
    rows = conn.execute(f"SELECT {_ACTIVITY_COLUMNS} FROM activity_tasks WHERE lease_owner = ?",
                        (worker_id,)).fetchall()
    return [_row_to_expired(r) for r in rows]


def _release_workflow_tasks_of_worker(ctx: WriteContext, conn: sqlite3.Connection,
                                      worker_id: str, now: float) -> int:
    rows = conn.execute("SELECT run_id, task_queue FROM workflow_tasks WHERE lease_owner = ?",
                        (worker_id,)).fetchall()
    conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                 "visible_at = ?, affinity = NULL WHERE lease_owner = ?", (now, worker_id))
    conn.execute("UPDATE workflow_tasks SET affinity = NULL WHERE affinity = ?", (worker_id,))
    conn.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))
    for _, task_queue in rows:
        ctx.wake("workflow_task", task_queue)
    return len(rows)


def _has_expired_executions(conn: sqlite3.Connection, now: float) -> bool:
    return conn.execute("SELECT 1 FROM executions WHERE status = 1 AND execution_deadline <= ? "
                        "LIMIT 1", (now,)).fetchone() is not None


def _time_out_executions(ctx: WriteContext, conn: sqlite3.Connection, now: float,
                         limit: int) -> int:
    rows = conn.execute("SELECT run_id, next_event_id FROM executions WHERE status = 1 AND "
                        "execution_deadline <= ? LIMIT ?", (now, limit)).fetchall()
    for run_id, next_event_id in rows:
        _append_event(conn, run_id, next_event_id, EventType.WORKFLOW_EXECUTION_TIMED_OUT, now,
                      {"retry_state": 3})
        conn.execute("UPDATE executions SET next_event_id = ? WHERE run_id = ?",
                     (next_event_id + 1, run_id))
        _close_run(ctx, conn, run_id, ExecutionStatus.TIMED_OUT, now, None,
                   {"message": "Workflow execution timed out", "source": "Stalwart",
                    "timeout_failure_info": {"timeout_type": 0}})
    return len(rows)


def _next_due_time(conn: sqlite3.Connection, now: float) -> float | None:
    """The earliest future moment at which something becomes due or visible."""
    row = conn.execute(
        "SELECT MIN(t) FROM ("
        " SELECT MIN(fire_at) AS t FROM timers"
        " UNION ALL SELECT MIN(deadline_at) FROM activity_tasks WHERE deadline_at IS NOT NULL"
        " UNION ALL SELECT MIN(visible_at) FROM activity_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > ?"
        " UNION ALL SELECT MIN(visible_at) FROM workflow_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > ?"
        " UNION ALL SELECT MIN(lease_expires_at) FROM workflow_tasks"
        "  WHERE lease_owner IS NOT NULL"
        " UNION ALL SELECT MIN(execution_deadline) FROM executions WHERE status = 1"
        "  AND execution_deadline IS NOT NULL)", (now, now)).fetchone()
    return row[0] if row else None


__all__ = ["EXTERNAL", "SqliteStore"]
