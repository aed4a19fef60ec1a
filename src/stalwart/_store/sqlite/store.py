"""SQLite store. Knows SQL and sqlite3; knows nothing of workflow code.

Each public write method submits one operation to the group-commit writer; each operation is a
plain function of a connection that runs inside the writer's transaction.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from typing import Any

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
    Reader,
    SqliteOptions,
    Writer,
    check_file,
    connect,
    migrate,
    parse_url,
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
    has_pending_queries,
    query_workflow,
    update_workflow,
)
from .ops_schedules import (
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
from .ops_sweeper import (
    activities_of_worker,
    delete_closed_runs,
    expired_activities,
    fire_due_timers,
    has_due_timers,
    has_expired_executions,
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
    has_ready_activity_task,
    has_ready_workflow_task,
    heartbeat_activity_task,
    mark_activity_async,
    release_workflow_task,
    start_workflow_with_task,
)
from .ops_visibility import count_by_query, list_by_query


class SqliteStore:
    """The embedded default store: one SQLite file in WAL mode, durable commits."""

    def __init__(self, url: str, options: SqliteOptions) -> None:
        self.url = url
        self._options = options
        self.notifier = Notifier()
        # What each sweeper of this process sleeps until; a commit that makes something due
        # earlier wakes them (-inf, the default, means "always wake").
        self.sweep_targets: dict[str, float] = {}
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

    def _on_commit(self, keys: set[tuple[str, str]], earliest_due: float) -> None:
        if earliest_due < min(self.sweep_targets.values(), default=-math.inf):
            keys = keys | {("deadline", "")}
        if keys:
            self.notifier.publish(keys)

    async def _write(self, fn: Any, *args: Any) -> Any:
        return await self._writer.submit(fn, *args)

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
        row: ExecutionRow | None = await self._reader.run(get_execution, workflow_id, run_id)
        return row

    async def list_executions(self, *, status: int | None = None,
                              workflow_type: str | None = None,
                              workflow_id_prefix: str | None = None,
                              task_queue: str | None = None,
                              limit: int = 100) -> list[ExecutionRow]:
        rows: list[ExecutionRow] = await self._reader.run(
            list_executions, status, workflow_type, workflow_id_prefix, task_queue, limit)
        return rows

    async def list_workflows(self, query: str | None, limit: int,
                             offset: int) -> list[ExecutionRow]:
        parsed = parse_list_query(query)
        rows: list[ExecutionRow] = await self._reader.run(list_by_query, query or "", parsed,
                                                          limit, offset)
        return rows

    async def count_workflows(self, query: str | None) -> int:
        parsed = parse_list_query(query)
        count: int = await self._reader.run(count_by_query, query or "", parsed)
        return count

    async def get_history(self, run_id: str, after_event_id: int = 0,
                          limit: int | None = None) -> list[HistoryEvent]:
        events: list[HistoryEvent] = await self._reader.run(get_history, run_id,
                                                            after_event_id, limit)
        return events

    async def get_inbox(self, run_id: str) -> list[InboxEvent]:
        events: list[InboxEvent] = await self._reader.run(read_inbox, run_id, 0)
        return events

    async def list_pending_activities(self, run_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self._reader.run(pending_activities, run_id)
        return rows

    async def wait_closed(self, run_id: str, timeout: float | None) -> ExecutionRow | None:
        """Wait until ``run_id`` closes; the closed row, or None on timeout."""
        sub = self.subscribe(("closed", run_id))
        try:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while True:
                row: ExecutionRow | None = self._reader.point(get_execution, None, run_id)
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
        """Called from the worker's liveness thread, on a connection of its own."""
        if self._closed:
            return  # the client was closed before its worker; nothing to keep alive
        if self._heartbeat_conn is None:
            self._heartbeat_conn = connect(self._options)
        self._heartbeat_conn.execute(
            "UPDATE workers SET heartbeat_at = ? WHERE worker_id = ?", (now, worker_id))

    async def list_workers(self) -> list[WorkerRow]:
        rows: list[WorkerRow] = await self._reader.run(list_workers)
        return rows

    async def claim_workflow_tasks(self, task_queue: str, worker_id: str, now: float,
                                   lease_seconds: float, limit: int) -> list[WorkflowTaskClaim]:
        if not self._reader.point(has_ready_workflow_task, task_queue, worker_id, now):
            return []
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
        if not self._reader.point(has_ready_activity_task, task_queue, now):
            return []
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
        row: dict[str, Any] | None = self._reader.point(get_update, run_id, update_id)
        return row

    async def query_workflow(self, workflow_id: str, run_id: str | None, name: str,
                             input: list[dict[str, Any]], now: float) -> int:
        query_id: int = await self._write(query_workflow, workflow_id, run_id, name, input,
                                          now)
        return query_id

    async def get_query(self, query_id: int) -> dict[str, Any] | None:
        row: dict[str, Any] | None = self._reader.point(get_query, query_id)
        return row

    async def delete_query(self, query_id: int) -> None:
        await self._write(delete_query, query_id)

    async def claim_queries(self, task_queue: str, worker_id: str, now: float,
                            limit: int) -> list[dict[str, Any]]:
        if not self._reader.point(has_pending_queries, task_queue, now):
            return []
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
        if not self._reader.point(has_due_timers, now):
            return 0
        fired: int = await self._write(fire_due_timers, now, limit)
        return fired

    async def find_expired_activities(self, now: float, limit: int) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._reader.run(expired_activities, now, limit)
        return rows

    async def find_activities_of_worker(self, worker_id: str) -> list[ExpiredActivity]:
        rows: list[ExpiredActivity] = await self._reader.run(activities_of_worker, worker_id)
        return rows

    async def release_workflow_tasks_of_worker(self, worker_id: str, now: float) -> int:
        released: int = await self._write(release_workflow_tasks_of_worker, worker_id, now)
        return released

    async def time_out_executions(self, now: float, limit: int) -> int:
        if not self._reader.point(has_expired_executions, now):
            return 0
        count: int = await self._write(time_out_executions, now, limit)
        return count

    async def delete_closed_runs(self, closed_before: float, limit: int = 1000) -> int:
        deleted: int = await self._write(delete_closed_runs, closed_before, limit)
        return deleted

    async def backlog(self, now: float) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = await self._reader.run(ready_backlog, now)
        return counts

    async def status(self) -> dict[str, Any]:
        status: dict[str, Any] = await self._reader.run(store_status)
        return status

    async def next_due_time(self, now: float) -> float | None:
        due: float | None = await self._reader.run(next_due_time, now)
        return due

    # -- schedules -----------------------------------------------------------------------
    async def create_schedule(self, row: ScheduleRow, now: float) -> bool:
        created: bool = await self._write(create_schedule, row, now)
        return created

    async def get_schedule(self, schedule_id: str) -> ScheduleRow | None:
        row: ScheduleRow | None = await self._reader.run(get_schedule, schedule_id)
        return row

    async def list_schedules(self, limit: int, offset: int) -> list[ScheduleRow]:
        rows: list[ScheduleRow] = await self._reader.run(list_schedules, limit, offset)
        return rows

    async def delete_schedule(self, schedule_id: str) -> bool:
        deleted: bool = await self._write(delete_schedule, schedule_id)
        return deleted

    async def mutate_schedule(self, schedule_id: str, step: ScheduleStep, now: float,
                              wake: bool = True) -> ScheduleRow | None:
        row: ScheduleRow | None = await self._write(mutate_schedule, schedule_id, step, now,
                                                    wake)
        return row

    async def due_schedules(self, now: float, limit: int) -> list[str]:
        ids: list[str] = await self._reader.run(due_schedules, now, limit)
        return ids

    async def next_schedule_time(self) -> float | None:
        due: float | None = await self._reader.run(next_schedule_time)
        return due

    async def schedule_watch_runs(self, limit: int) -> list[str]:
        runs: list[str] = await self._reader.run(schedule_watch_runs, limit)
        return runs

    async def get_scheduler_lease(self) -> tuple[str, float] | None:
        lease: tuple[str, float] | None = await self._reader.run(get_scheduler_lease)
        return lease

    async def take_scheduler_lease(self, owner: str, previous_owner: str | None,
                                   expires_at: float) -> bool:
        taken: bool = await self._write(take_scheduler_lease, owner, previous_owner,
                                        expires_at)
        return taken

    async def release_scheduler_lease(self, owner: str) -> None:
        await self._write(release_scheduler_lease, owner)


__all__ = ["SqliteStore"]
