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
import threading
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg

from ... import exceptions as exc
from ..._model.events import EventType, HistoryEvent
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
)
from ..wakeup import Notifier, Subscription
from .connection import (
    Database,
    PostgresOptions,
    is_connection_error,
    parse_url,
    store_error,
)
from .ops_executions import (
    add_external_event,
    get_execution,
    get_history,
    list_executions,
    pending_activities,
    read_inbox,
    start_workflow,
    terminate,
)
from .ops_messages import (
    answer_query,
    claim_queries,
    delete_query,
    get_query,
    get_update,
    mark_activity_async,
    query_workflow,
    update_workflow,
)
from .ops_sweeper import (
    activities_of_worker,
    delete_closed_runs,
    expired_activities,
    fire_due_timers,
    list_workers,
    next_due_time,
    ready_backlog,
    register_worker,
    release_workflow_tasks_of_worker,
    store_status,
    time_out_executions,
    unregister_worker,
)
from .ops_tasks import (
    claim_activity_tasks,
    claim_workflow_tasks,
    complete_activity_and_workflow_task,
    complete_activity_task,
    complete_workflow_task,
    fail_activity_task,
    fail_workflow_task,
    heartbeat_activity_task,
    release_workflow_task,
    start_workflow_with_task,
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
from .schema import migrate
from .visibility import (
    count_by_query,
    list_by_query,
)


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
        result: StartResult = await self._write(start_workflow, request, now)
        return result

    async def start_workflow_with_task(
            self, request: StartWorkflowRequest, completion: WorkflowTaskCompletion, now: float
    ) -> tuple[StartResult, CompletionResult | None]:
        outcome: tuple[StartResult, CompletionResult | None] = await self._write(
            start_workflow_with_task, request, completion, now)
        return outcome

    async def signal_workflow(self, workflow_id: str, run_id: str | None, signal_name: str,
                              input: list[dict[str, Any]], identity: str, now: float) -> str:
        attrs = {"signal_name": signal_name, "input": input, "identity": identity}
        target: str = await self._write(add_external_event, workflow_id, run_id,
                                         EventType.WORKFLOW_EXECUTION_SIGNALED, attrs, now)
        return target

    async def request_cancel_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                      identity: str, now: float) -> str:
        attrs = {"cause": reason, "identity": identity}
        target: str = await self._write(add_external_event, workflow_id, run_id,
                                         EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED, attrs,
                                         now)
        return target

    async def terminate_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                 details: list[dict[str, Any]], identity: str,
                                 now: float) -> str:
        target: str = await self._write(terminate, workflow_id, run_id, reason, details,
                                         identity, now)
        return target

    async def get_execution(self, workflow_id: str | None,
                            run_id: str | None) -> ExecutionRow | None:
        row: ExecutionRow | None = await self._read(get_execution, workflow_id, run_id)
        return row

    async def list_executions(self, *, status: int | None = None,
                              workflow_type: str | None = None,
                              workflow_id_prefix: str | None = None,
                              task_queue: str | None = None,
                              limit: int = 100) -> list[ExecutionRow]:
        rows: list[ExecutionRow] = await self._read(
            list_executions, status, workflow_type, workflow_id_prefix, task_queue, limit)
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
        events: list[HistoryEvent] = await self._read(get_history, run_id, after_event_id,
                                                      limit)
        return events

    async def get_inbox(self, run_id: str) -> list[InboxEvent]:
        events: list[InboxEvent] = await self._read(read_inbox, run_id, 0)
        return events

    async def list_pending_activities(self, run_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._read(pending_activities, run_id)
        return rows

    async def wait_closed(self, run_id: str, timeout: float | None) -> ExecutionRow | None:
        """Wait until ``run_id`` closes; the closed row, or None on timeout."""
        sub = self.subscribe(("closed", run_id))
        try:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while True:
                row: ExecutionRow | None = await self._read(get_execution, None, run_id)
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
        await self._write(register_worker, worker)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._write(unregister_worker, worker_id)

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
        rows: list[WorkerRow] = await self._read(list_workers)
        return rows

    async def claim_workflow_tasks(self, task_queue: str, worker_id: str, now: float,
                                   lease_seconds: float, limit: int) -> list[WorkflowTaskClaim]:
        claims: list[WorkflowTaskClaim] = await self._write(
            claim_workflow_tasks, task_queue, worker_id, now, lease_seconds, limit)
        return claims

    async def complete_workflow_task(self, completion: WorkflowTaskCompletion,
                                     now: float) -> CompletionResult:
        result: CompletionResult = await self._write(complete_workflow_task, completion, now)
        return result

    async def fail_workflow_task(self, run_id: str, worker_id: str, failure: dict[str, Any],
                                 retry_at: float, now: float) -> None:
        await self._write(fail_workflow_task, run_id, worker_id, failure, retry_at, now)

    async def release_workflow_task(self, run_id: str, worker_id: str, now: float) -> None:
        await self._write(release_workflow_task, run_id, worker_id, now)

    async def claim_activity_tasks(self, task_queue: str, worker_id: str, now: float,
                                   limit: int, rate_limit: float | None = None
                                   ) -> list[ActivityTaskClaim]:
        claims: list[ActivityTaskClaim] = await self._write(
            claim_activity_tasks, task_queue, worker_id, now, limit, rate_limit)
        return claims

    async def complete_activity_task(self, run_id: str, seq: int, attempt: int,
                                     worker_id: str | None,
                                     result: dict[str, Any], identity: str, now: float,
                                     claim_workflow_task: bool
                                     ) -> tuple[bool, WorkflowTaskClaim | None]:
        outcome: tuple[bool, WorkflowTaskClaim | None] = await self._write(
            complete_activity_task, run_id, seq, attempt, worker_id, result, identity, now,
            claim_workflow_task)
        return outcome

    async def complete_activity_and_workflow_task(
            self, seq: int, attempt: int, result: dict[str, Any], started_at: float,
            completion: WorkflowTaskCompletion, now: float
    ) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]:
        outcome: tuple[str, CompletionResult | None, WorkflowTaskClaim | None] = \
            await self._write(complete_activity_and_workflow_task, seq, attempt, result,
                              started_at, completion, now)
        return outcome

    async def fail_activity_task(self, run_id: str, seq: int, attempt: int,
                                 worker_id: str | None, failure: dict[str, Any],
                                 final_failure: dict[str, Any] | None, retry_at: float | None,
                                 heartbeat_details: list[dict[str, Any]] | None,
                                 event_type: str, identity: str, now: float) -> bool:
        accepted: bool = await self._write(
            fail_activity_task, run_id, seq, attempt, worker_id, failure, final_failure,
            retry_at, heartbeat_details, event_type, identity, now)
        return accepted

    async def heartbeat_activity_task(self, run_id: str, seq: int, attempt: int,
                                      worker_id: str, details: list[dict[str, Any]],
                                      now: float) -> bool | None:
        cancel: bool | None = await self._write(heartbeat_activity_task, run_id, seq, attempt,
                                                worker_id, details, now)
        return cancel

    # -- updates, queries, async completion -----------------------------------------------
    async def update_workflow(self, workflow_id: str, run_id: str | None, update_id: str,
                              name: str, input: list[dict[str, Any]], now: float) -> str:
        target: str = await self._write(update_workflow, workflow_id, run_id, update_id, name,
                                         input, now)
        return target

    async def get_update(self, run_id: str, update_id: str) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._read(get_update, run_id, update_id)
        return row

    async def query_workflow(self, workflow_id: str, run_id: str | None, name: str,
                             input: list[dict[str, Any]], now: float) -> int:
        query_id: int = await self._write(query_workflow, workflow_id, run_id, name, input,
                                          now)
        return query_id

    async def get_query(self, query_id: int) -> dict[str, Any] | None:
        row: dict[str, Any] | None = await self._read(get_query, query_id)
        return row

    async def delete_query(self, query_id: int) -> None:
        await self._write(delete_query, query_id)

    async def claim_queries(self, task_queue: str, worker_id: str, now: float,
                            limit: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._write(claim_queries, task_queue, worker_id,
                                                       now, limit)
        return rows

    async def answer_query(self, query_id: int, result: dict[str, Any] | None,
                           failure: dict[str, Any] | None) -> None:
        await self._write(answer_query, query_id, result, failure)

    async def mark_activity_async(self, run_id: str, seq: int, attempt: int,
                                  worker_id: str) -> bool:
        marked: bool = await self._write(mark_activity_async, run_id, seq, attempt, worker_id)
        return marked

    # -- sweeper -------------------------------------------------------------------------
    async def fire_due_timers(self, now: float, limit: int) -> int:
        fired: int = await self._write(fire_due_timers, now, limit)
        return fired

    async def find_expired_activities(self, now: float, limit: int) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._read(expired_activities, now, limit)
        return rows

    async def find_activities_of_worker(self, worker_id: str) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._read(activities_of_worker, worker_id)
        return rows

    async def release_workflow_tasks_of_worker(self, worker_id: str, now: float) -> int:
        released: int = await self._write(release_workflow_tasks_of_worker, worker_id, now)
        return released

    async def time_out_executions(self, now: float, limit: int) -> int:
        count: int = await self._write(time_out_executions, now, limit)
        return count

    async def next_due_time(self, now: float) -> float | None:
        due: float | None = await self._read(next_due_time, now)
        return due

    # -- operations ----------------------------------------------------------------------
    async def delete_closed_runs(self, closed_before: float, limit: int = 1000) -> int:
        """Retention: forget up to ``limit`` runs closed before ``closed_before`` with their
        history, search attribute rows, updates and queries; how many went. Open runs, and
        closed parents of open children, are kept."""
        deleted: int = await self._write(delete_closed_runs, closed_before, limit)
        return deleted

    async def backlog(self, now: float) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = await self._read(ready_backlog, now)
        return counts

    async def status(self) -> dict[str, Any]:
        status: dict[str, Any] = await self._read(store_status)
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
                                                    wake, start_workflow, terminate,
                                                    add_external_event)
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


__all__ = ["PostgresStore"]
