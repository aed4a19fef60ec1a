"""PostgreSQL store: the SQLite store's operations, one PostgreSQL transaction each.

Concurrency rules, since unlike SQLite several writers run at once:

* Every operation that adds to a run's inbox, moves it into history or creates / deletes the
  run's workflow task first locks the run's ``executions`` row (``FOR UPDATE``). That per-run
  lock keeps inbox ids in commit order within a run and makes "the workflow task exists, so the
  new input will be seen" decisions safe. Locks are taken in the order executions -> task rows.
* Claims (workflow tasks, activity tasks, queries, timers, timed-out runs) use
  ``FOR UPDATE SKIP LOCKED``, so pollers never queue behind each other.
* Fenced writes re-read their task row ``FOR UPDATE``, which waits for a concurrent claim to
  commit and then sees the new lease owner.
* Starting a workflow id takes a transaction advisory lock on the id, so two clients starting
  the same id do not both pass the "already running?" check.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg

from ... import exceptions as exc
from ..._model.events import CLOSE_EVENT_TYPES, EventType, HistoryEvent
from ..._model.list_filter import parse_list_query
from ..base import (
    ActivityTaskClaim,
    CompletionResult,
    ExecutionRow,
    ExecutionStatus,
    ExpiredActivity,
    InboxEvent,
    ScheduleRow,
    ScheduleStep,
    StartResult,
    StartWorkflowRequest,
    WorkerRow,
    WorkflowTaskClaim,
    WorkflowTaskCompletion,
    refill_tokens,
    started_attributes,
)
from ..wakeup import Notifier, Subscription
from .connection import (
    AsyncConn,
    Database,
    PostgresOptions,
    WriteContext,
    is_connection_error,
    parse_url,
    store_error,
)
from .schedules import (
    create_schedule,
    delete_schedule,
    due_schedules,
    get_schedule,
    get_scheduler_lease,
    list_schedules,
    mutate_schedule,
    next_schedule_time,
    release_scheduler_lease,
    schedule_watch_runs,
    take_scheduler_lease,
)
from .schema import SCHEMA_VERSION, migrate
from .visibility import (
    count_by_query,
    list_by_query,
    upsert_memo,
    upsert_search_attributes,
    write_search_attributes,
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
    "execution_deadline, parent_workflow_id, parent_run_id, search_attributes, memo"
)
_ACTIVITY_COLUMNS = (
    "run_id, seq, workflow_id, workflow_type, activity_type, activity_id, task_queue, input, "
    "options, attempt, scheduled_at, attempt_scheduled_at, started_at, heartbeat_details, "
    "lease_owner, heartbeat_at, last_failure"
)
# A query claimed by a worker that did not answer within this long is offered again.
_QUERY_RECLAIM_SECONDS = 5.0
_CHAINED_TASK_LEASE_SECONDS = 10.0


class PostgresStore:
    """Many processes on many hosts share one PostgreSQL database."""

    def __init__(self, url: str, options: PostgresOptions) -> None:
        # Shown by status commands and logs: never with the password.
        self.url = _without_password(url)
        self._options = options
        self.notifier = Notifier()
        self._db = Database(options, self.notifier)
        self.sweep_targets = self._db.sweep_targets
        self._heartbeat_conn: psycopg.Connection[Any] | None = None
        self._heartbeat_lock = threading.Lock()
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        options = parse_url(url)

        def prepare() -> None:
            try:
                with psycopg.connect(options.conninfo, autocommit=True,
                                     connect_timeout=10) as conn:
                    migrate(conn, options.schema, options.where)
            except psycopg.Error as error:
                raise store_error(options, error, "connecting") from error

        await asyncio.get_running_loop().run_in_executor(None, prepare)
        store = cls(url, options)
        await store._db.open()
        return store

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._db.close()
        with self._heartbeat_lock:
            if self._heartbeat_conn is not None:
                self._heartbeat_conn.close()
                self._heartbeat_conn = None

    # -- wakeups -------------------------------------------------------------------------
    def subscribe(self, *keys: tuple[str, str]) -> Subscription:
        return self.notifier.subscribe(keys)

    async def _write(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise exc.StoreError("the store is closed")
        return await self._db.write(fn.__name__.lstrip("_").replace("_", " "), fn, *args)

    async def _read(self, fn: Any, *args: Any) -> Any:
        if self._closed:
            raise exc.StoreError("the store is closed")
        return await self._db.read(fn.__name__.lstrip("_").replace("_", " "), fn, *args)

    # -- clients -------------------------------------------------------------------------
    async def start_workflow(self, request: StartWorkflowRequest, now: float) -> StartResult:
        result: StartResult = await self._write(_start_workflow, request, now)
        return result

    async def start_workflow_with_task(
            self, request: StartWorkflowRequest, completion: WorkflowTaskCompletion, now: float
    ) -> tuple[StartResult, CompletionResult | None]:
        outcome: tuple[StartResult, CompletionResult | None] = await self._write(
            _start_workflow_with_task, request, completion, now)
        return outcome

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
        row: ExecutionRow | None = await self._read(_get_execution, workflow_id, run_id)
        return row

    async def list_executions(self, *, status: int | None = None,
                              workflow_type: str | None = None,
                              workflow_id_prefix: str | None = None,
                              task_queue: str | None = None,
                              limit: int = 100) -> list[ExecutionRow]:
        rows: list[ExecutionRow] = await self._read(
            _list_executions, status, workflow_type, workflow_id_prefix, task_queue, limit)
        return rows

    async def list_workflows(self, query: str | None, limit: int,
                             offset: int) -> list[ExecutionRow]:
        parsed = parse_list_query(query)
        rows: list[ExecutionRow] = await self._read(list_by_query, query or "", parsed, limit,
                                                    offset)
        return rows

    async def count_workflows(self, query: str | None) -> int:
        parsed = parse_list_query(query)
        count: int = await self._read(count_by_query, query or "", parsed)
        return count

    async def get_history(self, run_id: str, after_event_id: int = 0,
                          limit: int | None = None) -> list[HistoryEvent]:
        events: list[HistoryEvent] = await self._read(_get_history, run_id, after_event_id,
                                                      limit)
        return events

    async def get_inbox(self, run_id: str) -> list[InboxEvent]:
        events: list[InboxEvent] = await self._read(_read_inbox, run_id, 0)
        return events

    async def list_pending_activities(self, run_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._read(_pending_activities, run_id)
        return rows

    async def wait_closed(self, run_id: str, timeout: float | None) -> ExecutionRow | None:
        """Wait until ``run_id`` closes; the closed row, or None on timeout."""
        sub = self.subscribe(("closed", run_id))
        try:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while True:
                row: ExecutionRow | None = await self._read(_get_execution, None, run_id)
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
        """Called from the worker's liveness thread, on a synchronous connection of its own, so
        a worker whose event loop is busy still shows it is alive."""
        with self._heartbeat_lock:
            if self._closed:
                return
            try:
                if self._heartbeat_conn is None or self._heartbeat_conn.closed:
                    self._heartbeat_conn = psycopg.connect(
                        self._options.conninfo, connect_timeout=5,
                        **self._options.connect_kwargs())
                self._heartbeat_conn.execute(
                    "UPDATE workers SET heartbeat_at = %s WHERE worker_id = %s",
                    (now, worker_id))
            except psycopg.Error as error:
                if self._heartbeat_conn is not None and is_connection_error(error):
                    # Reconnect on the next beat.
                    self._heartbeat_conn.close()
                    self._heartbeat_conn = None
                raise store_error(self._options, error, "worker heartbeat") from error

    async def list_workers(self) -> list[WorkerRow]:
        rows: list[WorkerRow] = await self._read(_list_workers)
        return rows

    async def claim_workflow_tasks(self, task_queue: str, worker_id: str, now: float,
                                   lease_seconds: float, limit: int) -> list[WorkflowTaskClaim]:
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
                                   limit: int, rate_limit: float | None = None
                                   ) -> list[ActivityTaskClaim]:
        claims: list[ActivityTaskClaim] = await self._write(
            _claim_activity_tasks, task_queue, worker_id, now, limit, rate_limit)
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
        row: dict[str, Any] | None = await self._read(_get_update, run_id, update_id)
        return row

    async def query_workflow(self, workflow_id: str, run_id: str | None, name: str,
                             input: list[dict[str, Any]], now: float) -> int:
        query_id: int = await self._write(_query_workflow, workflow_id, run_id, name, input,
                                          now)
        return query_id

    async def get_query(self, query_id: int) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._read(_get_query, query_id)
        return row

    async def delete_query(self, query_id: int) -> None:
        await self._write(_delete_query, query_id)

    async def claim_queries(self, task_queue: str, worker_id: str, now: float,
                            limit: int) -> list[dict[str, Any]]:
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
        fired: int = await self._write(_fire_due_timers, now, limit)
        return fired

    async def find_expired_activities(self, now: float, limit: int) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._read(_expired_activities, now, limit)
        return rows

    async def find_activities_of_worker(self, worker_id: str) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._read(_activities_of_worker, worker_id)
        return rows

    async def release_workflow_tasks_of_worker(self, worker_id: str, now: float) -> int:
        released: int = await self._write(_release_workflow_tasks_of_worker, worker_id, now)
        return released

    async def time_out_executions(self, now: float, limit: int) -> int:
        count: int = await self._write(_time_out_executions, now, limit)
        return count

    async def next_due_time(self, now: float) -> float | None:
        due: float | None = await self._read(_next_due_time, now)
        return due

    # -- operations ----------------------------------------------------------------------
    async def delete_closed_runs(self, closed_before: float, limit: int = 1000) -> int:
        """Retention: forget up to ``limit`` runs closed before ``closed_before`` with their
        history, search attribute rows, updates and queries; how many went. Open runs, and
        closed parents of open children, are kept."""
        deleted: int = await self._write(_delete_closed_runs, closed_before, limit)
        return deleted

    async def backlog(self, now: float) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = await self._read(_ready_backlog, now)
        return counts

    async def status(self) -> dict[str, Any]:
        status: dict[str, Any] = await self._read(_store_status)
        return status

    # -- schedules -----------------------------------------------------------------------
    async def create_schedule(self, row: ScheduleRow, now: float) -> bool:
        created: bool = await self._write(create_schedule, row, now)
        return created

    async def get_schedule(self, schedule_id: str) -> ScheduleRow | None:
        row: ScheduleRow | None = await self._read(get_schedule, schedule_id)
        return row

    async def list_schedules(self, limit: int, offset: int) -> list[ScheduleRow]:
        rows: list[ScheduleRow] = await self._read(list_schedules, limit, offset)
        return rows

    async def delete_schedule(self, schedule_id: str) -> bool:
        deleted: bool = await self._write(delete_schedule, schedule_id)
        return deleted

    async def mutate_schedule(self, schedule_id: str, step: ScheduleStep, now: float,
                              wake: bool = True) -> ScheduleRow | None:
        row: ScheduleRow | None = await self._write(mutate_schedule, schedule_id, step, now,
                                                    wake, _start_workflow, _terminate,
                                                    _add_external_event)
        return row

    async def due_schedules(self, now: float, limit: int) -> list[str]:
        ids: list[str] = await self._read(due_schedules, now, limit)
        return ids

    async def next_schedule_time(self) -> float | None:
        due: float | None = await self._read(next_schedule_time)
        return due

    async def schedule_watch_runs(self, limit: int) -> list[str]:
        runs: list[str] = await self._read(schedule_watch_runs, limit)
        return runs

    async def get_scheduler_lease(self) -> tuple[str, float] | None:
        lease: tuple[str, float] | None = await self._read(get_scheduler_lease)
        return lease

    async def take_scheduler_lease(self, owner: str, previous_owner: str | None,
                                   expires_at: float) -> bool:
        taken: bool = await self._write(take_scheduler_lease, owner, previous_owner,
                                        expires_at)
        return taken

    async def release_scheduler_lease(self, owner: str) -> None:
        await self._write(release_scheduler_lease, owner)


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    user, _, host = parsed.netloc.rpartition("@")
    return urlunparse(parsed._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


# ---------------------------------------------------------------------------------------------
# Operations: plain async functions of a connection, run inside one transaction (writes) or
# on an autocommit connection (reads).
# ---------------------------------------------------------------------------------------------

async def _one(conn: AsyncConn, query: str, params: tuple[Any, ...] = ()) -> Any:
    cursor = await conn.execute(query, params)
    return await cursor.fetchone()


async def _all(conn: AsyncConn, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
    cursor = await conn.execute(query, params)
    return await cursor.fetchall()


async def _run(conn: AsyncConn, query: str, params: tuple[Any, ...] = ()) -> int:
    cursor = await conn.execute(query, params)
    return cursor.rowcount


async def _lock_run(conn: AsyncConn, run_id: str) -> Any:
    """Lock a run's row for this transaction: (task_queue, status, next_event_id) or None."""
    return await _one(conn, "SELECT task_queue, status, next_event_id FROM executions "
                            "WHERE run_id = %s FOR UPDATE", (run_id,))


async def _lock_workflow_id(conn: AsyncConn, workflow_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 1))",
                       (f"stalwart-workflow-id:{workflow_id}",))


async def _insert_inbox(conn: AsyncConn, run_id: str, event_type: str, timestamp: float,
                        attributes: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
                       "VALUES (%s, %s, %s, %s)",
                       (run_id, event_type, timestamp, _dumps(attributes)))


async def _append_event(conn: AsyncConn, run_id: str, event_id: int, event_type: str,
                        timestamp: float, attributes: dict[str, Any]) -> None:
    await conn.execute("INSERT INTO history (run_id, event_id, event_type, timestamp, "
                       "attributes) VALUES (%s, %s, %s, %s, %s)",
                       (run_id, event_id, event_type, timestamp, _dumps(attributes)))


async def _ensure_workflow_task(ctx: WriteContext, conn: AsyncConn, run_id: str,
                                task_queue: str, now: float, affinity: str | None) -> None:
    await conn.execute(
        "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, affinity) "
        "VALUES (%s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
        (run_id, task_queue, now, affinity))
    ctx.wake("workflow_task", task_queue)


async def _insert_execution(ctx: WriteContext, conn: AsyncConn, request: StartWorkflowRequest,
                            now: float, deadline: float | None) -> None:
    first_run_id = request.first_run_id or request.run_id
    await conn.execute(
        f"INSERT INTO executions ({_EXECUTION_COLUMNS}, parent_seq, parent_close_policy) "
        "VALUES (%s, %s, %s, %s, 1, %s, NULL, %s, %s, NULL, 2, NULL, NULL, %s, %s, %s, NULL, "
        "%s, %s, %s)",
        (request.run_id, request.workflow_id, request.workflow_type, request.task_queue, now,
         first_run_id, request.continued_run_id, deadline, request.parent_workflow_id,
         request.parent_run_id, _dumps(request.memo) if request.memo else None,
         request.parent_seq, request.parent_close_policy))
    if request.search_attributes:
        await write_search_attributes(conn, request.run_id, request.search_attributes)
    await _append_event(conn, request.run_id, 1, EventType.WORKFLOW_EXECUTION_STARTED, now,
                        started_attributes(request))
    if request.start_signal is not None:
        name, signal_input = request.start_signal
        await _insert_inbox(conn, request.run_id, EventType.WORKFLOW_EXECUTION_SIGNALED, now,
                            {"signal_name": name, "input": signal_input,
                             "identity": request.identity})
    if request.eager_worker_id is None:
        await _ensure_workflow_task(ctx, conn, request.run_id, request.task_queue, now, None)
    else:
        # Taken at once by a worker in the starting process: no poller needs waking.
        await conn.execute("INSERT INTO workflow_tasks (run_id, task_queue, visible_at, "
                           "affinity) VALUES (%s, %s, %s, %s)",
                           (request.run_id, request.task_queue, now, request.eager_worker_id))


async def _start_workflow(ctx: WriteContext, conn: AsyncConn, request: StartWorkflowRequest,
                          now: float) -> StartResult:
    await _lock_workflow_id(conn, request.workflow_id)
    open_row = await _one(
        conn, "SELECT run_id, workflow_type FROM executions WHERE workflow_id = %s AND "
              "status = 1", (request.workflow_id,))
    if open_row is not None:
        policy = request.id_conflict_policy
        if request.id_reuse_policy == 4 and policy == 0:  # TERMINATE_IF_RUNNING
            policy = 3
        if policy == 2:  # USE_EXISTING
            if request.start_signal is not None:
                name, signal_input = request.start_signal
                await _add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                          EventType.WORKFLOW_EXECUTION_SIGNALED,
                                          {"signal_name": name, "input": signal_input,
                                           "identity": request.identity}, now)
            return StartResult(open_row[0], started=False)
        if policy == 3:  # TERMINATE_EXISTING
            await _terminate(ctx, conn, request.workflow_id, open_row[0],
                             "terminated by a new start with the same workflow id", [],
                             request.identity, now)
        else:
            if request.start_signal is not None:  # signal-with-start signals the running run
                name, signal_input = request.start_signal
                await _add_external_event(ctx, conn, request.workflow_id, open_row[0],
                                          EventType.WORKFLOW_EXECUTION_SIGNALED,
                                          {"signal_name": name, "input": signal_input,
                                           "identity": request.identity}, now)
                return StartResult(open_row[0], started=False)
            raise exc.WorkflowAlreadyStartedError(request.workflow_id, open_row[1],
                                                  run_id=open_row[0])
    else:
        last = await _one(
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
                    f"{_REUSE_NAMES.get(reuse, reuse)} forbids another run; choose another id")
    deadline = now + request.execution_timeout if request.execution_timeout else None
    await _insert_execution(ctx, conn, request, now, deadline)
    eager_task = None
    if request.eager_worker_id is not None:
        # Eager start: a worker in the starting process takes the first task without polling.
        eager_task = await _claim_one_workflow_task(conn, request.run_id,
                                                    request.eager_worker_id, now,
                                                    _CHAINED_TASK_LEASE_SECONDS)
    return StartResult(request.run_id, started=True, eager_task=eager_task)


async def _start_workflow_with_task(ctx: WriteContext, conn: AsyncConn,
                                    request: StartWorkflowRequest,
                                    completion: WorkflowTaskCompletion,
                                    now: float) -> tuple[StartResult, CompletionResult | None]:
    """Start a run and commit its first workflow task, already run by the starting process's
    worker, in one transaction. If the start did not create a new run (the id was running),
    nothing of the completion is written."""
    result = await _start_workflow(ctx, conn, request, now)
    if not result.started or result.eager_task is None:
        return result, None
    return result, await _complete_workflow_task(ctx, conn, completion, now)


_CHILD_CLOSE_EVENTS = {
    ExecutionStatus.COMPLETED: EventType.CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ExecutionStatus.FAILED: EventType.CHILD_WORKFLOW_EXECUTION_FAILED,
    ExecutionStatus.CANCELED: EventType.CHILD_WORKFLOW_EXECUTION_CANCELED,
    ExecutionStatus.TERMINATED: EventType.CHILD_WORKFLOW_EXECUTION_TERMINATED,
    ExecutionStatus.TIMED_OUT: EventType.CHILD_WORKFLOW_EXECUTION_TIMED_OUT,
}


async def _parent_of(conn: AsyncConn, run_id: str) -> dict[str, Any]:
    row = await _one(conn, "SELECT parent_workflow_id, parent_run_id, parent_seq, "
                           "parent_close_policy FROM executions WHERE run_id = %s", (run_id,))
    if row is None or row[1] is None:
        return {}
    return {"parent_workflow_id": row[0], "parent_run_id": row[1], "parent_seq": row[2],
            "parent_close_policy": row[3]}


async def _inbox_event(ctx: WriteContext, conn: AsyncConn, run_id: str, event_type: str,
                       attributes: dict[str, Any], now: float) -> None:
    """Add an input event for an open run and make sure it gets a workflow task."""
    row = await _lock_run(conn, run_id)
    if row is None or row[1] != ExecutionStatus.RUNNING:
        return
    await _insert_inbox(conn, run_id, event_type, now, attributes)
    await _ensure_workflow_task(ctx, conn, run_id, row[0], now, None)


async def _notify_parent(ctx: WriteContext, conn: AsyncConn, run_id: str, status: int,
                         result: dict[str, Any] | None, failure: dict[str, Any] | None,
                         now: float) -> None:
    row = await _one(conn, "SELECT parent_run_id, parent_seq, workflow_id, workflow_type, "
                           "first_run_id FROM executions WHERE run_id = %s", (run_id,))
    if row is None or row[0] is None:
        return
    attrs: dict[str, Any] = {"seq": row[1], "workflow_id": row[2], "workflow_type": row[3],
                             "run_id": run_id}
    if result is not None:
        attrs["result"] = result
    if failure is not None:
        attrs["failure"] = failure
    await _inbox_event(ctx, conn, row[0], _CHILD_CLOSE_EVENTS[ExecutionStatus(status)], attrs,
                       now)


async def _apply_parent_close_policy(ctx: WriteContext, conn: AsyncConn, run_id: str,
                                     now: float) -> None:
    children = await _all(conn, "SELECT run_id, workflow_id, parent_close_policy FROM "
                                "executions WHERE parent_run_id = %s AND status = 1", (run_id,))
    for child_run_id, child_workflow_id, policy in children:
        if policy == 2:  # ABANDON
            continue
        if policy == 3:  # REQUEST_CANCEL
            await _inbox_event(ctx, conn, child_run_id,
                               EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                               {"cause": "parent workflow closed", "identity": ""}, now)
        else:  # TERMINATE (the default)
            try:
                await _terminate(ctx, conn, child_workflow_id, child_run_id,
                                 "parent workflow closed (parent_close_policy=TERMINATE)", [],
                                 "", now)
            except exc.WorkflowNotFoundError:
                pass  # it closed on its own between the SELECT and the lock


async def _start_child(ctx: WriteContext, conn: AsyncConn, parent_run_id: str,
                       parent_workflow_id: str, attrs: dict[str, Any], identity: str,
                       now: float) -> None:
    child_id = attrs["workflow_id"]
    base = {"seq": attrs["seq"], "workflow_id": child_id, "workflow_type": attrs["workflow_type"]}
    await _lock_workflow_id(conn, child_id)
    running = await _one(conn, "SELECT run_id FROM executions WHERE workflow_id = %s AND "
                               "status = 1", (child_id,))
    if running is not None:
        await _inbox_event(ctx, conn, parent_run_id,
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
    await _insert_execution(ctx, conn, request, now, now + timeout if timeout else None)
    await _inbox_event(ctx, conn, parent_run_id, EventType.CHILD_WORKFLOW_EXECUTION_STARTED,
                       {**base, "run_id": attrs["run_id"]}, now)


async def _external_target(conn: AsyncConn, source_run_id: str, attrs: dict[str, Any]
                           ) -> tuple[str | None, str]:
    try:
        target, _ = await _find_open_run(conn, attrs["workflow_id"], attrs.get("run_id"))
    except exc.WorkflowNotFoundError as error:
        return None, str(error)
    if attrs.get("child_workflow_only"):
        parent = await _one(conn, "SELECT parent_run_id FROM executions WHERE run_id = %s",
                            (target,))
        if parent is None or parent[0] != source_run_id:
            return None, f"workflow {attrs['workflow_id']!r} is not a child of this workflow"
    return target, ""


async def _signal_external(ctx: WriteContext, conn: AsyncConn, run_id: str,
                           attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = await _external_target(conn, run_id, attrs)
    if target is None:
        await _inbox_event(ctx, conn, run_id,
                           EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                           {"seq": attrs["seq"], "cause": cause}, now)
        return
    await _inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_SIGNALED,
                       {"signal_name": attrs["signal_name"], "input": attrs["input"],
                        "identity": identity}, now)
    await _inbox_event(ctx, conn, run_id, EventType.EXTERNAL_WORKFLOW_EXECUTION_SIGNALED,
                       {"seq": attrs["seq"]}, now)


async def _cancel_external(ctx: WriteContext, conn: AsyncConn, run_id: str,
                           attrs: dict[str, Any], identity: str, now: float) -> None:
    target, cause = await _external_target(conn, run_id, attrs)
    if target is None:
        await _inbox_event(ctx, conn, run_id,
                           EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED,
                           {"seq": attrs["seq"], "cause": cause}, now)
        return
    await _inbox_event(ctx, conn, target, EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                       {"cause": "requested by another workflow", "identity": identity}, now)
    await _inbox_event(ctx, conn, run_id,
                       EventType.EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED,
                       {"seq": attrs["seq"]}, now)


async def _update_workflow(ctx: WriteContext, conn: AsyncConn, workflow_id: str,
                           run_id: str | None, update_id: str, name: str,
                           input: list[dict[str, Any]], now: float) -> str:
    target, task_queue = await _find_open_run(conn, workflow_id, run_id, lock=True)
    await conn.execute(
        "INSERT INTO updates (run_id, update_id, name, input, state, created_at) "
        "VALUES (%s, %s, %s, %s, 0, %s) ON CONFLICT (run_id, update_id) DO NOTHING",
        (target, update_id, name, _dumps(input), now))
    await _ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


async def _get_update(conn: AsyncConn, run_id: str, update_id: str) -> dict[str, Any] | None:
    row = await _one(conn, "SELECT state, result, failure FROM updates WHERE run_id = %s AND "
                           "update_id = %s", (run_id, update_id))
    if row is None:
        return None
    return {"state": row[0], "result": _loads(row[1]) if row[1] else None,
            "failure": _loads(row[2]) if row[2] else None}


async def _query_workflow(ctx: WriteContext, conn: AsyncConn, workflow_id: str,
                          run_id: str | None, name: str, input: list[dict[str, Any]],
                          now: float) -> int:
    if run_id is None:
        row = await _one(conn, "SELECT run_id, task_queue FROM executions WHERE "
                               "workflow_id = %s ORDER BY start_time DESC LIMIT 1",
                         (workflow_id,))
    else:
        row = await _one(conn, "SELECT run_id, task_queue FROM executions WHERE run_id = %s "
                               "AND workflow_id = %s", (run_id, workflow_id))
    if row is None:
        raise exc.WorkflowNotFoundError(f"workflow {workflow_id!r} not found")
    inserted = await _one(conn, "INSERT INTO queries (run_id, task_queue, name, input, state, "
                                "created_at) VALUES (%s, %s, %s, %s, 0, %s) RETURNING id",
                          (row[0], row[1], name, _dumps(input), now))
    ctx.wake("query", row[1])
    return int(inserted[0])


async def _get_query(conn: AsyncConn, query_id: int) -> dict[str, Any] | None:
    row = await _one(conn, "SELECT state, result, failure FROM queries WHERE id = %s",
                     (query_id,))
    if row is None:
        return None
    return {"state": row[0], "result": _loads(row[1]) if row[1] else None,
            "failure": _loads(row[2]) if row[2] else None}


async def _claim_queries(ctx: WriteContext, conn: AsyncConn, task_queue: str, worker_id: str,
                         now: float, limit: int) -> list[dict[str, Any]]:
    rows = await _all(
        conn,
        "WITH picked AS (SELECT id FROM queries WHERE task_queue = %s AND (state = 0 OR "
        " (state = 1 AND claimed_at < %s)) ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE queries q SET state = 1, claimed_by = %s, claimed_at = %s FROM picked "
        "WHERE q.id = picked.id RETURNING q.id, q.run_id, q.name, q.input",
        (task_queue, now - _QUERY_RECLAIM_SECONDS, limit, worker_id, now))
    rows.sort(key=lambda r: r[0])
    return [{"id": r[0], "run_id": r[1], "name": r[2], "input": _loads(r[3])} for r in rows]


async def _answer_query(ctx: WriteContext, conn: AsyncConn, query_id: int,
                        result: dict[str, Any] | None, failure: dict[str, Any] | None) -> None:
    await conn.execute("UPDATE queries SET state = 2, result = %s, failure = %s WHERE id = %s",
                       (_dumps(result) if result is not None else None,
                        _dumps(failure) if failure is not None else None, query_id))
    ctx.wake("query_answered", str(query_id))


async def _delete_query(ctx: WriteContext, conn: AsyncConn, query_id: int) -> None:
    await conn.execute("DELETE FROM queries WHERE id = %s", (query_id,))


async def _mark_activity_async(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                               attempt: int, worker_id: str) -> bool:
    # The attempt now belongs to whoever holds its task token, not to this worker: a dead
    # worker's reclaim must not retry it. Its timeouts still apply.
    return await _run(conn, "UPDATE activity_tasks SET lease_owner = 'async' WHERE run_id = %s "
                            "AND seq = %s AND attempt = %s AND lease_owner = %s",
                      (run_id, seq, attempt, worker_id)) == 1


_REUSE_NAMES = {1: "ALLOW_DUPLICATE", 2: "ALLOW_DUPLICATE_FAILED_ONLY", 3: "REJECT_DUPLICATE",
                4: "TERMINATE_IF_RUNNING"}


async def _find_open_run(conn: AsyncConn, workflow_id: str, run_id: str | None,
                         lock: bool = True) -> tuple[str, str]:
    suffix = " FOR UPDATE" if lock else ""
    if run_id is None:
        row = await _one(conn, "SELECT run_id, task_queue, status FROM executions "
                               "WHERE workflow_id = %s ORDER BY start_time DESC LIMIT 1"
                               + suffix, (workflow_id,))
    else:
        row = await _one(conn, "SELECT run_id, task_queue, status FROM executions "
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


async def _add_external_event(ctx: WriteContext, conn: AsyncConn, workflow_id: str,
                              run_id: str | None, event_type: str, attributes: dict[str, Any],
                              now: float) -> str:
    target, task_queue = await _find_open_run(conn, workflow_id, run_id, lock=True)
    await _insert_inbox(conn, target, event_type, now, attributes)
    await _ensure_workflow_task(ctx, conn, target, task_queue, now, None)
    return target


async def _close_run(ctx: WriteContext, conn: AsyncConn, run_id: str, status: int, now: float,
                     result: dict[str, Any] | None, failure: dict[str, Any] | None,
                     next_run_id: str | None = None) -> None:
    await conn.execute(
        "UPDATE executions SET status = %s, close_time = %s, result = %s, failure = %s, "
        "next_run_id = %s WHERE run_id = %s",
        (status, now, _dumps(result) if result is not None else None,
         _dumps(failure) if failure is not None else None, next_run_id, run_id))
    await conn.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s", (run_id,))
    await conn.execute("DELETE FROM timers WHERE run_id = %s", (run_id,))
    await conn.execute("DELETE FROM inbox WHERE run_id = %s", (run_id,))
    pending_updates = await _all(
        conn, "UPDATE updates SET state = 2, failure = %s WHERE run_id = %s AND "
              "state IN (0, 1) RETURNING update_id",
        (_dumps({"message": "the workflow closed before the update completed",
                 "source": "Stalwart", "application_failure_info": {
                     "type": "WorkflowClosed", "non_retryable": True}}), run_id))
    for (update_id,) in pending_updates:
        ctx.wake("update", update_id)
    ctx.wake("closed", run_id)
    if status != ExecutionStatus.CONTINUED_AS_NEW:
        await _notify_parent(ctx, conn, run_id, status, result, failure, now)
    await _apply_parent_close_policy(ctx, conn, run_id, now)


async def _terminate(ctx: WriteContext, conn: AsyncConn, workflow_id: str, run_id: str | None,
                     reason: str, details: list[dict[str, Any]], identity: str,
                     now: float) -> str:
    target, _ = await _find_open_run(conn, workflow_id, run_id, lock=True)
    row = await _one(conn, "SELECT next_event_id FROM executions WHERE run_id = %s", (target,))
    next_event_id = row[0]
    await _append_event(conn, target, next_event_id, EventType.WORKFLOW_EXECUTION_TERMINATED,
                        now, {"reason": reason, "details": details, "identity": identity})
    await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                       (next_event_id + 1, target))
    await _close_run(ctx, conn, target, ExecutionStatus.TERMINATED, now, None,
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
        parent_workflow_id=row[14], parent_run_id=row[15],
        search_attributes=_loads(row[16]) if row[16] else {},
        memo=_loads(row[17]) if row[17] else {})


async def _get_execution(conn: AsyncConn, workflow_id: str | None, run_id: str | None
                         ) -> ExecutionRow | None:
    if run_id is not None:
        row = await _one(conn, f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE run_id = %s",
                         (run_id,))
        if row is not None and workflow_id is not None and row[1] != workflow_id:
            return None
    else:
        row = await _one(conn, f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE "
                               "workflow_id = %s ORDER BY start_time DESC LIMIT 1",
                         (workflow_id,))
    return _row_to_execution(row) if row is not None else None


async def _list_executions(conn: AsyncConn, status: int | None, workflow_type: str | None,
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
    rows = await _all(conn, f"SELECT {_EXECUTION_COLUMNS} FROM executions {where} "
                            "ORDER BY start_time DESC LIMIT %s", (*params, limit))
    return [_row_to_execution(r) for r in rows]


async def _get_history(conn: AsyncConn, run_id: str, after_event_id: int,
                       limit: int | None) -> list[HistoryEvent]:
    rows = await _all(conn, "SELECT event_id, event_type, timestamp, attributes FROM history "
                            "WHERE run_id = %s AND event_id > %s ORDER BY event_id LIMIT %s",
                      (run_id, after_event_id, limit))
    return [HistoryEvent(r[0], r[1], r[2], _loads(r[3])) for r in rows]


async def _read_inbox(conn: AsyncConn, run_id: str, after_id: int) -> list[InboxEvent]:
    rows = await _all(conn, "SELECT id, event_type, timestamp, attributes FROM inbox "
                            "WHERE run_id = %s AND id > %s ORDER BY id", (run_id, after_id))
    return [InboxEvent(r[0], r[1], r[2], _loads(r[3])) for r in rows]


async def _pending_activities(conn: AsyncConn, run_id: str) -> list[dict[str, Any]]:
    rows = await _all(
        conn, "SELECT seq, activity_id, activity_type, attempt, scheduled_at, started_at, "
              "heartbeat_at, last_failure, lease_owner, visible_at, cancel_requested "
              "FROM activity_tasks WHERE run_id = %s ORDER BY seq", (run_id,))
    return [{
        "seq": r[0], "activity_id": r[1], "activity_type": r[2], "attempt": r[3],
        "scheduled_at": r[4], "started_at": r[5], "last_heartbeat_at": r[6],
        "last_failure": _loads(r[7]) if r[7] else None, "worker_id": r[8],
        "next_attempt_at": r[9] if r[8] is None else None, "cancel_requested": bool(r[10]),
        "state": "started" if r[8] is not None else "scheduled",
    } for r in rows]


async def _register_worker(ctx: WriteContext, conn: AsyncConn, worker: WorkerRow) -> None:
    await conn.execute(
        "INSERT INTO workers (worker_id, identity, task_queue, host, pid, pid_start, "
        "heartbeat_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (worker_id) DO UPDATE "
        "SET identity = EXCLUDED.identity, task_queue = EXCLUDED.task_queue, "
        "host = EXCLUDED.host, pid = EXCLUDED.pid, pid_start = EXCLUDED.pid_start, "
        "heartbeat_at = EXCLUDED.heartbeat_at",
        (worker.worker_id, worker.identity, worker.task_queue, worker.host, worker.pid,
         worker.pid_start, worker.heartbeat_at))


async def _unregister_worker(ctx: WriteContext, conn: AsyncConn, worker_id: str) -> None:
    await conn.execute("DELETE FROM workers WHERE worker_id = %s", (worker_id,))


async def _list_workers(conn: AsyncConn) -> list[WorkerRow]:
    return [WorkerRow(*row) for row in await _all(
        conn, "SELECT worker_id, identity, task_queue, host, pid, pid_start, heartbeat_at "
              "FROM workers")]


async def _load_claims(conn: AsyncConn, tasks: list[tuple[str, int]]
                       ) -> list[WorkflowTaskClaim]:
    """Build claims for workflow tasks this transaction just leased: (run_id, attempt)."""
    run_ids = [run_id for run_id, _ in tasks]
    executions = {r[0]: r for r in await _all(
        conn, "SELECT run_id, workflow_id, workflow_type, task_queue, next_event_id FROM "
              "executions WHERE run_id = ANY(%s) AND status = 1", (run_ids,))}
    gone = [run_id for run_id in run_ids if run_id not in executions]
    if gone:
        await conn.execute("DELETE FROM workflow_tasks WHERE run_id = ANY(%s)", (gone,))
    live = [run_id for run_id in run_ids if run_id in executions]
    if not live:
        return []
    inboxes: dict[str, list[InboxEvent]] = {}
    for r in await _all(conn, "SELECT run_id, id, event_type, timestamp, attributes FROM inbox "
                              "WHERE run_id = ANY(%s) ORDER BY run_id, id", (live,)):
        inboxes.setdefault(r[0], []).append(InboxEvent(r[1], r[2], r[3], _loads(r[4])))
    updates: dict[str, list[dict[str, Any]]] = {}
    for u in await _all(conn, "SELECT run_id, update_id, name, input FROM updates WHERE "
                              "run_id = ANY(%s) AND state = 0 ORDER BY created_at", (live,)):
        updates.setdefault(u[0], []).append(
            {"update_id": u[1], "name": u[2], "input": _loads(u[3])})
    # A run's first task needs only its start event: hand it over with the claim instead of
    # making the worker read the history separately.
    first = [run_id for run_id in live if executions[run_id][4] == 2]
    starts: dict[str, list[HistoryEvent]] = {}
    if first:
        for r in await _all(conn, "SELECT run_id, event_id, event_type, timestamp, attributes "
                                  "FROM history WHERE run_id = ANY(%s) AND event_id = 1",
                            (first,)):
            starts[r[0]] = [HistoryEvent(r[1], r[2], r[3], _loads(r[4]))]
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


async def _claim_one_workflow_task(conn: AsyncConn, run_id: str, worker_id: str, now: float,
                                   lease_seconds: float) -> WorkflowTaskClaim | None:
    row = await _one(conn, "UPDATE workflow_tasks SET lease_owner = %s, lease_expires_at = %s, "
                           "affinity = %s WHERE run_id = %s RETURNING attempt",
                     (worker_id, now + lease_seconds, worker_id, run_id))
    if row is None:
        return None
    claims = await _load_claims(conn, [(run_id, row[0])])
    return claims[0] if claims else None


async def _claim_workflow_tasks(ctx: WriteContext, conn: AsyncConn, task_queue: str,
                                worker_id: str, now: float, lease_seconds: float,
                                limit: int) -> list[WorkflowTaskClaim]:
    rows = await _all(
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
    return await _load_claims(conn, [(r[0], r[1]) for r in rows])


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


async def _complete_workflow_task(ctx: WriteContext, conn: AsyncConn,
                                  completion: WorkflowTaskCompletion,
                                  now: float) -> CompletionResult:
    run_id = completion.run_id
    locked = await _lock_run(conn, run_id)
    task = await _one(conn, "SELECT lease_owner FROM workflow_tasks WHERE run_id = %s "
                            "FOR UPDATE", (run_id,))
    if task is None or task[0] != completion.worker_id:
        return CompletionResult(False, "lease lost")
    if locked is None or locked[1] != ExecutionStatus.RUNNING:
        await conn.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))
        return CompletionResult(False, "workflow closed")
    execution = await _one(
        conn, "SELECT workflow_id, workflow_type, task_queue, next_event_id, first_run_id, "
              "execution_deadline FROM executions WHERE run_id = %s", (run_id,))
    workflow_id, workflow_type, task_queue, next_event_id, first_run_id, deadline = execution
    closing = any(c.event_type in CLOSE_EVENT_TYPES for c in completion.commands)
    if closing and await _one(
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
                               "AND update_id = %s", (_dumps(update_failure), run_id, update_id))
            ctx.wake("update", update_id)
        await _finish_workflow_task(ctx, conn, completion, run_id, task_queue, now,
                                    CompletionResult(True, history_length=next_event_id - 1))
        return CompletionResult(True, history_length=next_event_id - 1)
    if completion.inbox_max_id:
        moved = await _run(
            conn,
            "INSERT INTO history (run_id, event_id, event_type, timestamp, attributes) "
            "SELECT run_id, %s + ROW_NUMBER() OVER (ORDER BY id) - 1, event_type, timestamp, "
            "attributes FROM inbox WHERE run_id = %s AND id <= %s",
            (event_id, run_id, completion.inbox_max_id))
        await conn.execute("DELETE FROM inbox WHERE run_id = %s AND id <= %s",
                           (run_id, completion.inbox_max_id))
        event_id += moved
    for accepted in completion.accepted_updates:
        await _append_event(conn, run_id, event_id, accepted.event_type, now,
                            accepted.attributes)
        event_id += 1
        await conn.execute("UPDATE updates SET state = 1 WHERE run_id = %s AND update_id = %s",
                           (run_id, accepted.attributes["update_id"]))
    for update_id, update_failure in completion.rejected_updates:
        await conn.execute("UPDATE updates SET state = 2, failure = %s WHERE run_id = %s AND "
                           "update_id = %s", (_dumps(update_failure), run_id, update_id))
        ctx.wake("update", update_id)
    await _append_event(conn, run_id, event_id, EventType.WORKFLOW_TASK_COMPLETED, now,
                        {"workflow_time": completion.workflow_time,
                         "identity": completion.identity})
    event_id += 1
    result = CompletionResult(True)
    eager_budget = completion.eager_activity_limit
    closed = False
    for command in completion.commands:
        attrs = command.attributes
        etype = command.event_type
        await _append_event(conn, run_id, event_id, etype, now, attrs)
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
            ctx.due(_timeouts_deadline(options, now, now, started_at, None))
        elif etype == EventType.ACTIVITY_TASK_CANCEL_REQUESTED:
            await _request_cancel_activity(ctx, conn, run_id, attrs["seq"], now)
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
            await _start_child(ctx, conn, run_id, workflow_id, attrs, completion.identity, now)
        elif etype == EventType.SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            await _signal_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
            await _cancel_external(ctx, conn, run_id, attrs, completion.identity, now)
        elif etype == EventType.UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            await upsert_search_attributes(conn, run_id, attrs["search_attributes"])
        elif etype == EventType.WORKFLOW_PROPERTIES_MODIFIED:
            await upsert_memo(conn, run_id, attrs["upserted_memo"])
        elif etype == EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED:
            await conn.execute(
                "UPDATE updates SET state = 3, result = %s, failure = %s WHERE run_id = %s "
                "AND update_id = %s",
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
                await conn.execute("UPDATE history SET attributes = %s WHERE run_id = %s AND "
                                   "event_id = %s", (_dumps(attrs), run_id, event_id - 1))
            await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                               (event_id, run_id))
            await _close_run(ctx, conn, run_id, _CLOSE_STATUS[EventType(etype)], now,
                             attrs.get("result"), attrs.get("failure"), next_run_id)
            if next_run_id is not None:
                timeout = attrs.get("execution_timeout")
                await _insert_execution(ctx, conn, StartWorkflowRequest(
                    workflow_id=workflow_id, workflow_type=attrs["workflow_type"],
                    task_queue=attrs["task_queue"], input=attrs["input"], run_id=next_run_id,
                    random_seed=completion.new_run_seed, execution_timeout=timeout,
                    first_run_id=first_run_id, continued_run_id=run_id,
                    identity=completion.identity, **await _parent_of(conn, run_id),
                ), now, now + timeout if timeout else deadline)
            break
    result.history_length = event_id - 1
    if closed:
        return result
    await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                       (event_id, run_id))
    await _finish_workflow_task(ctx, conn, completion, run_id, task_queue, now, result)
    return result


async def _finish_workflow_task(ctx: WriteContext, conn: AsyncConn,
                                completion: WorkflowTaskCompletion, run_id: str,
                                task_queue: str, now: float, result: CompletionResult) -> None:
    """Keep the run's workflow task if more input waits (claimed at once by the same worker,
    whose cache is warm), else delete it."""
    more = await _one(conn, "SELECT EXISTS (SELECT 1 FROM inbox WHERE run_id = %s) OR EXISTS "
                            "(SELECT 1 FROM updates WHERE run_id = %s AND state = 0)",
                      (run_id, run_id))
    if more[0]:
        if completion.claim_next_task:
            await conn.execute("UPDATE workflow_tasks SET attempt = 1 WHERE run_id = %s",
                               (run_id,))
            result.next_task = await _claim_one_workflow_task(
                conn, run_id, completion.worker_id, now, _CHAINED_TASK_LEASE_SECONDS)
        else:
            await conn.execute(
                "UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                "visible_at = %s, attempt = 1 WHERE run_id = %s", (now, run_id))
            ctx.wake("workflow_task", task_queue)
    else:
        await conn.execute("DELETE FROM workflow_tasks WHERE run_id = %s", (run_id,))


async def _request_cancel_activity(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                                   now: float) -> None:
    row = await _one(conn, "SELECT lease_owner FROM activity_tasks WHERE run_id = %s AND "
                           "seq = %s FOR UPDATE", (run_id, seq))
    if row is None:
        return
    if row[0] is None:
        # Not running anywhere: cancelled at once.
        await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                           (run_id, seq))
        await _insert_inbox(conn, run_id, EventType.ACTIVITY_TASK_CANCELED, now, {
            "seq": seq, "failure": {
                "message": "Activity cancelled", "source": "Stalwart",
                "activity_failure_info": {"activity_id": str(seq)},
                "cause": {"message": "Activity cancelled", "canceled_failure_info": {}}}})
    else:
        await conn.execute("UPDATE activity_tasks SET cancel_requested = TRUE WHERE "
                           "run_id = %s AND seq = %s", (run_id, seq))


async def _fail_workflow_task(ctx: WriteContext, conn: AsyncConn, run_id: str, worker_id: str,
                              failure: dict[str, Any], retry_at: float, now: float) -> None:
    locked = await _lock_run(conn, run_id)
    task = await _one(conn, "SELECT lease_owner, attempt, task_queue FROM workflow_tasks "
                            "WHERE run_id = %s FOR UPDATE", (run_id,))
    if task is None or task[0] != worker_id or locked is None:
        return
    if task[1] == 1:
        # Recorded once per failure streak, so a crash loop does not bloat the history.
        next_event_id = locked[2]
        await _append_event(conn, run_id, next_event_id, EventType.WORKFLOW_TASK_FAILED, now,
                            {"failure": failure, "identity": worker_id})
        await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                           (next_event_id + 1, run_id))
    await conn.execute("UPDATE workflow_tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                       "visible_at = %s, attempt = attempt + 1, affinity = NULL "
                       "WHERE run_id = %s", (retry_at, run_id))
    ctx.due(retry_at)


async def _release_workflow_task(ctx: WriteContext, conn: AsyncConn, run_id: str,
                                 worker_id: str, now: float) -> None:
    row = await _one(conn, "UPDATE workflow_tasks SET lease_owner = NULL, "
                           "lease_expires_at = NULL, visible_at = %s, affinity = NULL "
                           "WHERE run_id = %s AND lease_owner = %s RETURNING task_queue",
                     (now, run_id, worker_id))
    if row is not None:
        ctx.wake("workflow_task", row[0])


async def _take_rate_tokens(conn: AsyncConn, task_queue: str, rate: float, wanted: int,
                           now: float) -> int:
    """How many activities the queue's shared token bucket lets start now (and take them).
    The bucket row is locked, so workers on every machine draw from the same tokens."""
    await conn.execute("INSERT INTO activity_rate_limits (task_queue, rate, tokens, updated_at) "
                       "VALUES (%s, %s, %s, %s) ON CONFLICT (task_queue) DO NOTHING",
                       (task_queue, rate, max(1.0, rate), now))
    row = await _one(conn, "SELECT tokens, updated_at FROM activity_rate_limits WHERE "
                           "task_queue = %s FOR UPDATE", (task_queue,))
    assert row is not None
    tokens = refill_tokens(rate, float(row[0]), float(row[1]), now)
    granted = min(wanted, int(tokens))
    await conn.execute("UPDATE activity_rate_limits SET rate = %s, tokens = %s, updated_at = %s "
                       "WHERE task_queue = %s", (rate, tokens - granted, now, task_queue))
    return granted


async def _claim_activity_tasks(ctx: WriteContext, conn: AsyncConn, task_queue: str,
                                worker_id: str, now: float, limit: int,
                                rate_limit: float | None = None) -> list[ActivityTaskClaim]:
    if rate_limit is not None:
        granted = await _take_rate_tokens(conn, task_queue, rate_limit, limit, now)
        if granted <= 0:
            return []
        claims = await _claim_activity_rows(ctx, conn, task_queue, worker_id, now, granted)
        if len(claims) < granted:
            await conn.execute("UPDATE activity_rate_limits SET tokens = tokens + %s "
                               "WHERE task_queue = %s", (granted - len(claims), task_queue))
        return claims
    return await _claim_activity_rows(ctx, conn, task_queue, worker_id, now, limit)


async def _claim_activity_rows(ctx: WriteContext, conn: AsyncConn, task_queue: str,
                               worker_id: str, now: float,
                               limit: int) -> list[ActivityTaskClaim]:
    rows = await _all(
        conn, f"SELECT {_ACTIVITY_COLUMNS} FROM activity_tasks WHERE task_queue = %s AND "
              "lease_owner IS NULL AND visible_at <= %s ORDER BY visible_at LIMIT %s "
              "FOR UPDATE SKIP LOCKED", (task_queue, now, limit))
    if not rows:
        return []
    claims = []
    updates = []
    for r in rows:
        options = _loads(r[8])
        deadline = _timeouts_deadline(options, r[10], r[11], now, None)
        updates.append((worker_id, now, deadline, r[0], r[1]))
        claims.append(ActivityTaskClaim(
            run_id=r[0], seq=r[1], workflow_id=r[2], workflow_type=r[3], activity_type=r[4],
            activity_id=r[5], task_queue=r[6], input=_loads(r[7]), options=options,
            attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11], started_at=now,
            heartbeat_details=_loads(r[13]) if r[13] else []))
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "UPDATE activity_tasks SET lease_owner = %s, started_at = %s, heartbeat_at = NULL, "
            "deadline_at = %s WHERE run_id = %s AND seq = %s", updates)
    for claim in claims:
        ctx.due(_timeouts_deadline(claim.options, claim.scheduled_at,
                                   claim.attempt_scheduled_at, now, None))
    return claims


async def _leased_activity(conn: AsyncConn, run_id: str, seq: int, attempt: int,
                           worker_id: str | None) -> Any:
    row = await _one(conn, "SELECT task_queue, lease_owner, attempt, started_at, options, "
                           "scheduled_at FROM activity_tasks WHERE run_id = %s AND seq = %s "
                           "FOR UPDATE", (run_id, seq))
    if row is None or row[2] != attempt:
        return None
    if worker_id is not None and row[1] != worker_id:
        return None
    return row


async def _complete_activity_task(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                                  attempt: int, worker_id: str | None, result: dict[str, Any],
                                  identity: str, now: float, claim_workflow_task: bool
                                  ) -> tuple[bool, WorkflowTaskClaim | None]:
    locked = await _lock_run(conn, run_id)
    if locked is None:
        return False, None
    row = await _leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False, None
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                       (run_id, seq))
    await _insert_inbox(conn, run_id, EventType.ACTIVITY_TASK_COMPLETED, now, {
        "seq": seq, "result": result, "attempt": attempt, "identity": identity,
        "started_time": row[3]})
    return True, await _wake_workflow(ctx, conn, locked, run_id, worker_id or "", now,
                                      claim_workflow_task and worker_id is not None)


async def _complete_activity_and_workflow_task(
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
    locked = await _lock_run(conn, run_id)
    if locked is None:
        return "lost", None, None
    if await _leased_activity(conn, run_id, seq, attempt, completion.worker_id) is None:
        return "lost", None, None
    busy = await _one(
        conn, "SELECT EXISTS (SELECT 1 FROM workflow_tasks WHERE run_id = %s) OR "
              "EXISTS (SELECT 1 FROM inbox WHERE run_id = %s) OR "
              "EXISTS (SELECT 1 FROM updates WHERE run_id = %s AND state = 0)",
        (run_id, run_id, run_id))
    if not busy[0] and completion.history_length is not None:
        # A cached instance behind the run (another worker advanced it) must not commit.
        busy = (locked[2] != completion.history_length + 1,)
    if busy[0]:
        _, claim = await _complete_activity_task(ctx, conn, run_id, seq, attempt,
                                                 completion.worker_id, result,
                                                 completion.identity, now, True)
        return "fallback", None, claim
    if locked[1] != ExecutionStatus.RUNNING:
        return "lost", None, None
    task_queue = locked[0]
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                       (run_id, seq))
    inserted = await _one(
        conn, "INSERT INTO inbox (run_id, event_type, timestamp, attributes) "
              "VALUES (%s, %s, %s, %s) RETURNING id",
        (run_id, EventType.ACTIVITY_TASK_COMPLETED, now, _dumps({
            "seq": seq, "result": result, "attempt": attempt,
            "identity": completion.identity, "started_time": started_at})))
    await conn.execute(
        "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, lease_owner, "
        "lease_expires_at, affinity) VALUES (%s, %s, %s, %s, %s, %s)",
        (run_id, task_queue, now, completion.worker_id, now + _CHAINED_TASK_LEASE_SECONDS,
         completion.worker_id))
    completion.inbox_max_id = int(inserted[0])
    return "committed", await _complete_workflow_task(ctx, conn, completion, now), None


async def _wake_workflow(ctx: WriteContext, conn: AsyncConn, locked: Any, run_id: str,
                         worker_id: str, now: float, claim: bool) -> WorkflowTaskClaim | None:
    """Give a run with new inbox input a workflow task; ``locked`` is its locked row."""
    if locked[1] != ExecutionStatus.RUNNING:
        return None
    task_queue = locked[0]
    inserted = await _one(conn, "INSERT INTO workflow_tasks (run_id, task_queue, visible_at, "
                                "affinity) VALUES (%s, %s, %s, %s) ON CONFLICT (run_id) "
                                "DO NOTHING RETURNING run_id",
                          (run_id, task_queue, now, worker_id))
    if inserted is not None and claim:
        return await _claim_one_workflow_task(conn, run_id, worker_id, now,
                                              _CHAINED_TASK_LEASE_SECONDS)
    ctx.wake("workflow_task", task_queue)
    return None


async def _fail_activity_task(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                              attempt: int, worker_id: str | None, failure: dict[str, Any],
                              final_failure: dict[str, Any] | None, retry_at: float | None,
                              heartbeat_details: list[dict[str, Any]] | None, event_type: str,
                              identity: str, now: float) -> bool:
    locked = await _lock_run(conn, run_id)
    if locked is None:
        return False
    row = await _leased_activity(conn, run_id, seq, attempt, worker_id)
    if row is None:
        return False
    if retry_at is not None:
        options = _loads(row[4])
        await conn.execute(
            "UPDATE activity_tasks SET attempt = attempt + 1, lease_owner = NULL, "
            "started_at = NULL, heartbeat_at = NULL, visible_at = %s, "
            "attempt_scheduled_at = %s, last_failure = %s, "
            "heartbeat_details = COALESCE(%s, heartbeat_details), deadline_at = %s, "
            "cancel_requested = FALSE WHERE run_id = %s AND seq = %s",
            (retry_at, retry_at, _dumps(failure),
             _dumps(heartbeat_details) if heartbeat_details is not None else None,
             _timeouts_deadline(options, row[5], retry_at, None, None), run_id, seq))
        ctx.wake("activity_task", row[0])
        ctx.due(retry_at)
        return True
    await conn.execute("DELETE FROM activity_tasks WHERE run_id = %s AND seq = %s",
                       (run_id, seq))
    await _insert_inbox(conn, run_id, event_type, now, {
        "seq": seq, "failure": final_failure or failure, "attempt": attempt,
        "identity": identity, "started_time": row[3]})
    await _wake_workflow(ctx, conn, locked, run_id, "", now, False)
    return True


async def _heartbeat_activity_task(ctx: WriteContext, conn: AsyncConn, run_id: str, seq: int,
                                   attempt: int, worker_id: str, details: list[dict[str, Any]],
                                   now: float) -> bool | None:
    row = await _one(conn, "SELECT lease_owner, attempt, options, scheduled_at, "
                           "attempt_scheduled_at, started_at, cancel_requested FROM "
                           "activity_tasks WHERE run_id = %s AND seq = %s FOR UPDATE",
                     (run_id, seq))
    if row is None or row[0] != worker_id or row[1] != attempt:
        return None
    deadline = _timeouts_deadline(_loads(row[2]), row[3], row[4], row[5], now)
    await conn.execute("UPDATE activity_tasks SET heartbeat_at = %s, heartbeat_details = %s, "
                       "deadline_at = %s WHERE run_id = %s AND seq = %s",
                       (now, _dumps(details), deadline, run_id, seq))
    return bool(row[6])


async def _fire_due_timers(ctx: WriteContext, conn: AsyncConn, now: float, limit: int) -> int:
    # Locks the timer and its run together, skipping both when either is busy: a run whose
    # workflow task is committing right now gets its timer on the next sweep, and no sweeper
    # ever waits on another (or deadlocks with a commit that cancels the timer).
    rows = await _all(
        conn, "SELECT t.run_id, t.seq, e.task_queue, e.status FROM timers t "
              "JOIN executions e ON e.run_id = t.run_id WHERE t.fire_at <= %s "
              "ORDER BY t.fire_at LIMIT %s FOR UPDATE OF t, e SKIP LOCKED", (now, limit))
    for run_id, seq, task_queue, status in rows:
        await conn.execute("DELETE FROM timers WHERE run_id = %s AND seq = %s", (run_id, seq))
        if status != ExecutionStatus.RUNNING:
            continue
        await _insert_inbox(conn, run_id, EventType.TIMER_FIRED, now,
                            {"seq": seq, "timer_id": str(seq)})
        await _wake_workflow(ctx, conn, (task_queue, status), run_id, "", now, False)
    return len(rows)


def _row_to_expired(r: Any) -> ExpiredActivity:
    return ExpiredActivity(
        run_id=r[0], seq=r[1], workflow_id=r[2], activity_type=r[4], activity_id=r[5],
        options=_loads(r[8]), attempt=r[9], scheduled_at=r[10], attempt_scheduled_at=r[11],
        started_at=r[12], heartbeat_details=_loads(r[13]) if r[13] else [], lease_owner=r[14],
        heartbeat_at=r[15], last_failure=_loads(r[16]) if r[16] else None)


async def _expired_activities(conn: AsyncConn, now: float, limit: int
                              ) -> list[ExpiredActivity]:
    rows = await _all(conn, f"SELECT {_ACTIVITY_COLUMNS} FROM activity_tasks WHERE "
                            "deadline_at <= %s ORDER BY deadline_at LIMIT %s", (now, limit))
    return [_row_to_expired(r) for r in rows]


async def _activities_of_worker(conn: AsyncConn, worker_id: str) -> list[ExpiredActivity]:
    rows = await _all(conn, f"SELECT {_ACTIVITY_COLUMNS} FROM activity_tasks WHERE "
                            "lease_owner = %s", (worker_id,))
    return [_row_to_expired(r) for r in rows]


async def _release_workflow_tasks_of_worker(ctx: WriteContext, conn: AsyncConn, worker_id: str,
                                            now: float) -> int:
    rows = await _all(conn, "UPDATE workflow_tasks SET lease_owner = NULL, "
                            "lease_expires_at = NULL, visible_at = %s, affinity = NULL "
                            "WHERE lease_owner = %s RETURNING task_queue", (now, worker_id))
    await conn.execute("UPDATE workflow_tasks SET affinity = NULL WHERE affinity = %s",
                       (worker_id,))
    await conn.execute("DELETE FROM workers WHERE worker_id = %s", (worker_id,))
    for (task_queue,) in rows:
        ctx.wake("workflow_task", task_queue)
    return len(rows)


async def _time_out_executions(ctx: WriteContext, conn: AsyncConn, now: float,
                               limit: int) -> int:
    rows = await _all(conn, "SELECT run_id, next_event_id FROM executions WHERE status = 1 AND "
                            "execution_deadline <= %s LIMIT %s FOR UPDATE SKIP LOCKED",
                      (now, limit))
    for run_id, next_event_id in rows:
        await _append_event(conn, run_id, next_event_id,
                            EventType.WORKFLOW_EXECUTION_TIMED_OUT, now, {"retry_state": 3})
        await conn.execute("UPDATE executions SET next_event_id = %s WHERE run_id = %s",
                           (next_event_id + 1, run_id))
        await _close_run(ctx, conn, run_id, ExecutionStatus.TIMED_OUT, now, None,
                         {"message": "Workflow execution timed out", "source": "Stalwart",
                          "timeout_failure_info": {"timeout_type": 0}})
    return len(rows)


async def _next_due_time(conn: AsyncConn, now: float) -> float | None:
    """The earliest future moment at which something becomes due or visible."""
    row = await _one(
        conn,
        "SELECT LEAST("
        " (SELECT MIN(fire_at) FROM timers),"
        " (SELECT MIN(deadline_at) FROM activity_tasks WHERE deadline_at IS NOT NULL),"
        " (SELECT MIN(visible_at) FROM activity_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > %s),"
        " (SELECT MIN(visible_at) FROM workflow_tasks WHERE lease_owner IS NULL"
        "  AND visible_at > %s),"
        " (SELECT MIN(lease_expires_at) FROM workflow_tasks WHERE lease_owner IS NOT NULL),"
        " (SELECT MIN(execution_deadline) FROM executions WHERE status = 1"
        "  AND execution_deadline IS NOT NULL),"
        # A schedule's next time; one overdue by more than a second is left out, so a
        # scheduler that is not keeping up does not make every sweeper spin.
        " (SELECT MIN(next_action_at) FROM schedules WHERE next_action_at > %s))",
        (now, now, now - 1.0))
    return row[0] if row else None


async def _delete_closed_runs(ctx: WriteContext, conn: AsyncConn, closed_before: float,
                              limit: int) -> int:
    rows = await _all(
        conn, "DELETE FROM executions WHERE run_id IN (SELECT run_id FROM executions e "
              "WHERE status <> 1 AND close_time < %s AND NOT EXISTS (SELECT 1 FROM executions c "
              "WHERE c.parent_run_id = e.run_id AND c.status = 1) ORDER BY close_time "
              "LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING run_id", (closed_before, limit))
    run_ids = [r[0] for r in rows]
    if run_ids:
        for table in ("history", "search_attribute_values", "updates", "queries", "inbox"):
            await conn.execute(f"DELETE FROM {table} WHERE run_id = ANY(%s)", (run_ids,))
    return len(run_ids)


async def _store_status(conn: AsyncConn) -> dict[str, Any]:
    """Counts an operator wants to see before and after a cleanup."""
    row = await _one(
        conn,
        "SELECT (SELECT value FROM stalwart_meta WHERE key = 'schema_version'),"
        " (SELECT COUNT(*) FROM executions WHERE status = 1),"
        " (SELECT COUNT(*) FROM executions WHERE status <> 1),"
        " (SELECT COUNT(*) FROM history), (SELECT COUNT(*) FROM workflow_tasks),"
        " (SELECT COUNT(*) FROM activity_tasks), (SELECT COUNT(*) FROM timers),"
        " (SELECT COUNT(*) FROM workers)")
    return {
        "schema_version": int(row[0]) if row[0] else 0, "open_runs": row[1],
        "closed_runs": row[2], "history_events": row[3], "pending_workflow_tasks": row[4],
        "pending_activity_tasks": row[5], "timers": row[6], "workers": row[7],
    }


async def _ready_backlog(conn: AsyncConn, now: float) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for kind, queue, count in await _all(
            conn, "SELECT 'workflow', task_queue, COUNT(*) FROM workflow_tasks WHERE "
                  "lease_owner IS NULL AND visible_at <= %s GROUP BY task_queue UNION ALL "
                  "SELECT 'activity', task_queue, COUNT(*) FROM activity_tasks WHERE "
                  "lease_owner IS NULL AND visible_at <= %s GROUP BY task_queue", (now, now)):
        out[(kind, queue)] = int(count)
    return out


__all__ = ["SCHEMA_VERSION", "PostgresStore"]
