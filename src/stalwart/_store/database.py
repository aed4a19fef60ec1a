"""The store, written once over a driver: every ``Store`` method is one operation from
``ops`` run by the driver of the database (``sqlite`` or ``postgres``).

A driver knows how to run ``fn(tx, *args)``: ``write`` as one transaction whose wake-ups are
published after the commit, ``read`` outside any write, ``point`` for a tiny indexed read
(SQLite answers it on the caller's thread). ``prechecks`` says whether a poll should first ask
such a point read whether there is anything to claim: on SQLite that spares the single writer
a transaction that would find nothing; on PostgreSQL it would only add a round trip.
``loses_wakeups`` says whether another process's wake-up can fail to arrive (PostgreSQL's
``NOTIFY`` goes out after the commit, so a crash in between loses it; SQLite's writer itself
watches the file's change counter), so that a waiter with no timeout looks again on its own;
result waiters do so together, in one read for all of them (``CloseLooks``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from .. import exceptions as exc
from .._model.events import EventType, HistoryEvent
from .._model.list_filter import parse_list_query
from . import wakeup
from .base import (
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
    StreamPublish,
    WorkerRow,
    WorkflowTaskClaim,
    WorkflowTaskCompletion,
)
from .ops import (
    activity_steering,
    executions,
    messages,
    reset,
    schedules,
    standalone,
    streams,
    sweeper,
    tasks,
    visibility,
)
from .ops.completion import complete_workflow_task
from .tx import Dialect, Pending, Tx, WakeKeys
from .wakeup import Notifier, Subscription

T = TypeVar("T")

logger = logging.getLogger(__name__)


class Driver(Protocol):
    dialect: Dialect
    prechecks: bool
    loses_wakeups: bool

    def write(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]: ...

    async def read(self, fn: Callable[..., T], *args: Any) -> T: ...

    async def point(self, fn: Callable[..., T], *args: Any) -> T: ...

    def heartbeat_worker_blocking(self, worker_id: str, now: float) -> None: ...

    def hand_on(self, key: tuple[str, str]) -> None: ...

    async def close(self) -> None: ...


def has_ready_work(tx: Tx, now: float) -> bool:
    return tx.one(
        "SELECT 1 FROM workflow_tasks WHERE visible_at <= ? AND lease_owner IS NULL "
        "UNION ALL SELECT 1 FROM activity_tasks WHERE visible_at <= ? AND lease_owner IS NULL "
        "UNION ALL SELECT 1 FROM timers WHERE fire_at <= ? LIMIT 1", (now, now, now)
    ) is not None


def fetch_sql(tx: Tx, sql: str, params: tuple[Any, ...]) -> list[Any]:
    return tx.all(sql, params)


def _handed_row(rows: Pending) -> ExecutionRow | None:
    """The closed row a commit handed over (``close_run``), or None if it cannot be had (the
    caller reads it instead)."""
    try:
        row = rows.one()
    except Exception as error:  # a driver whose rows do not outlive the commit
        logger.debug("closed row handed over unreadable, reading it: %s", error)
        return None
    return None if row is None else executions.row_to_execution(row)


# Run ids per read of ``CloseLooks`` (SQLite allows 32,766 parameters; PostgreSQL takes one).
CLOSE_LOOK_CHUNK = 500


class CloseLooks:
    """Where a close committed by another process can go unheard (``Driver.loses_wakeups``):
    every ``LOOK_AGAIN_SECONDS`` one read asks which of the runs this process's result waiters
    wait for are no longer running, and wakes their waiters, instead of each waiter reading its
    own run (2,000 agents awaiting their results made 400 reads a second of it)."""

    def __init__(self, store: DatabaseStore) -> None:
        self._store = store
        self._waiting: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    def add(self, run_id: str) -> None:
        self._waiting[run_id] += 1
        loop = asyncio.get_running_loop()
        # A store used from a second event loop (the first one closed) looks from that one.
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._look_forever(), name="stalwart-close-looks")

    def remove(self, run_id: str) -> None:
        left = self._waiting[run_id] - 1
        if left > 0:
            self._waiting[run_id] = left
        else:
            del self._waiting[run_id]

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _look_forever(self) -> None:
        while self._waiting:
            await asyncio.sleep(wakeup.LOOK_AGAIN_SECONDS)
            run_ids = list(self._waiting)
            done: list[str] = []
            try:
                for start in range(0, len(run_ids), CLOSE_LOOK_CHUNK):
                    done += await self._store._read(
                        executions.runs_not_running,
                        run_ids[start:start + CLOSE_LOOK_CHUNK])
            except exc.StoreError as error:
                logger.debug("looking for closed runs failed (%s); looking again later", error)
            if done:
                self._store.notifier.publish([("closed", run_id) for run_id in done])


class DatabaseStore:
    """The ``Store`` of both databases; subclasses only open their driver."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.notifier = Notifier()
        # What each sweeper of this process sleeps until (the engine keeps it up to date); a
        # commit here or elsewhere that makes something due earlier wakes them.
        self.sweep_targets: dict[str, float] = {}
        self._closed = False
        self._driver: Driver
        self._close_looks = CloseLooks(self)

    def publish(self, keys: Iterable[tuple[str, str]], earliest_due: float) -> None:
        """Called by the driver after a commit (its own, or another process's); ``keys`` as
        the commit's ``Tx.wake_keys`` left them carry what it handed to waiters."""
        wake = set(keys)
        if earliest_due < min(self.sweep_targets.values(), default=-math.inf):
            wake.add(("deadline", ""))
        if wake:
            self.notifier.publish(wake, keys.handed if isinstance(keys, WakeKeys) else None)

    def subscribe(self, *keys: tuple[str, str],
                  room: Callable[[], int] | None = None) -> Subscription:
        return self.notifier.subscribe(keys, room)

    def hand_on(self, key: tuple[str, str]) -> None:
        if not self._closed:
            self._driver.hand_on(key)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close_looks.close()
            await self._driver.close()

    def _write(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        # Not a coroutine of its own: the driver's awaitable is handed on (one frame fewer
        # on every write). Every caller awaits it at once.
        if self._closed:
            raise exc.StoreError("the store is closed")
        return self._driver.write(fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise exc.StoreError("the store is closed")
        return await self._driver.read(fn, *args)

    async def _worth_claiming(self, check: Callable[..., bool], *args: Any) -> bool:
        return not self._driver.prechecks or await self._driver.point(check, *args)

    # -- clients -------------------------------------------------------------------------
    async def start_workflow(self, request: StartWorkflowRequest, now: float) -> StartResult:
        return await self._write(executions.start_workflow, request, now)

    async def start_workflow_with_task(
            self, request: StartWorkflowRequest, completion: WorkflowTaskCompletion, now: float
    ) -> tuple[StartResult, CompletionResult | None]:
        return await self._write(tasks.start_workflow_with_task, request, completion, now)

    async def signal_workflow(self, workflow_id: str, run_id: str | None, signal_name: str,
                              input: list[dict[str, Any]], identity: str, now: float,
                              header: dict[str, Any] | None = None) -> str:
        attrs: dict[str, Any] = {"signal_name": signal_name, "input": input,
                                 "identity": identity}
        if header:
            attrs["header"] = header
        return await self._write(executions.add_external_event, workflow_id, run_id,
                                 EventType.WORKFLOW_EXECUTION_SIGNALED, attrs, now)

    async def request_cancel_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                      identity: str, now: float) -> str:
        attrs = {"cause": reason, "identity": identity}
        return await self._write(executions.add_external_event, workflow_id, run_id,
                                 EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED, attrs, now)

    async def terminate_workflow(self, workflow_id: str, run_id: str | None, reason: str,
                                 details: list[dict[str, Any]], identity: str,
                                 now: float) -> str:
        return await self._write(executions.terminate, workflow_id, run_id, reason, details,
                                 identity, now)

    async def reset_workflow(self, request: reset.ResetRequest, now: float) -> str:
        return await self._write(reset.reset_workflow, request, now)

    async def reset_links(self, run_id: str) -> tuple[str | None, str | None, str | None]:
        return await self._read(reset.reset_links, run_id)

    async def steer_activities(self, workflow_id: str, run_id: str | None,
                               activity_id: str | None, activity_type: str | None,
                               action: str, params: dict[str, Any],
                               now: float) -> list[dict[str, Any]]:
        return await self._write(activity_steering.steer_activities, workflow_id, run_id,
                                 activity_id, activity_type, action, params, now)

    async def get_execution(self, workflow_id: str | None,
                            run_id: str | None) -> ExecutionRow | None:
        return await self._read(executions.get_execution, workflow_id, run_id)

    async def list_executions(self, *, status: int | None = None,
                              workflow_type: str | None = None,
                              workflow_id_prefix: str | None = None,
                              task_queue: str | None = None,
                              limit: int = 100) -> list[ExecutionRow]:
        return await self._read(executions.list_executions, status, workflow_type,
                                workflow_id_prefix, task_queue, limit)

    async def list_workflows(self, query: str | None, limit: int,
                             offset: int) -> list[ExecutionRow]:
        parsed = parse_list_query(query)
        return await self._read(visibility.list_by_query, query or "", parsed, limit, offset)

    async def count_workflows(self, query: str | None) -> int:
        parsed = parse_list_query(query)
        return await self._read(visibility.count_by_query, query or "", parsed)

    # -- activities started from a client (ops/standalone.py) -----------------------------
    async def start_standalone_activity(self, request: dict[str, Any],
                                        now: float) -> tuple[str, bool]:
        return await self._write(standalone.start, request, now)

    async def cancel_standalone_activity(self, activity_id: str, run_id: str | None,
                                         reason: str | None, now: float) -> None:
        await self._write(standalone.request_cancel, activity_id, run_id, reason, now)

    async def terminate_standalone_activity(self, activity_id: str, run_id: str | None,
                                            reason: str | None, now: float) -> None:
        await self._write(standalone.terminate, activity_id, run_id, reason, now)

    async def steer_standalone_activity(self, activity_id: str, run_id: str | None,
                                        action: str, params: dict[str, Any],
                                        now: float) -> dict[str, Any]:
        return await self._write(standalone.steer, activity_id, run_id, action, params, now)

    async def update_standalone_activity_options(
            self, activity_id: str, run_id: str | None, changes: dict[str, Any] | None,
            now: float) -> dict[str, Any]:
        return await self._write(standalone.update_options, activity_id, run_id, changes, now)

    async def describe_standalone_activity(self, activity_id: str,
                                           run_id: str | None) -> dict[str, Any]:
        return await self._read(standalone.describe, activity_id, run_id)

    async def resolve_standalone_activity(self, activity_id: str, run_id: str | None) -> str:
        return await self._read(standalone.resolve_run, activity_id, run_id)

    async def standalone_activity_outcome(self, run_id: str) -> tuple[int, Any, Any] | None:
        return await self._read(standalone.outcome, run_id)

    async def list_standalone_activities(self, query: str | None, limit: int,
                                         offset: int) -> list[dict[str, Any]]:
        parsed = parse_list_query(query)
        return await self._read(standalone.list_activities, query or "", parsed, limit, offset)

    async def count_standalone_activities(self, query: str | None) -> int:
        return await self._read(standalone.count_activities, query or "",
                                parse_list_query(query))

    async def get_history(self, run_id: str, after_event_id: int = 0,
                          limit: int | None = None) -> list[HistoryEvent]:
        return await self._read(executions.get_history, run_id, after_event_id, limit)

    async def get_inbox(self, run_id: str) -> list[InboxEvent]:
        return await self._read(executions.read_inbox, run_id, 0)

    async def list_pending_activities(self, run_id: str) -> list[dict[str, Any]]:
        return await self._read(executions.pending_activities, run_id)

    async def wait_closed(self, run_id: str, timeout: float | None,
                          subscribed: Subscription | None = None) -> ExecutionRow | None:
        """Wait until ``run_id`` closes; the closed row, or None on timeout.

        A close committed by this process hands the row over with its wake-up (``Tx.hand``),
        so it is not read again. Any other wake-up is followed by a read, and so is none for
        ``LOOK_AGAIN_SECONDS`` where the driver ``loses_wakeups``. ``subscribed``: a
        subscription to ``("closed", run_id)`` made before the run was started (this call
        closes it); it has seen every close since, so the first look is a wait, not a read."""
        key = ("closed", run_id)
        sub = subscribed if subscribed is not None else self.subscribe(key)
        look = subscribed is None
        looked_for = False
        try:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            while True:
                if look:
                    handed = sub.handed.pop(key, None)
                    row = None if handed is None else _handed_row(handed)
                    if row is None:
                        row = await self._driver.point(executions.get_execution, None, run_id)
                        if row is None:
                            raise exc.WorkflowNotFoundError(
                                f"workflow run {run_id!r} not found")
                    if row.status != ExecutionStatus.RUNNING:
                        return row
                look = True
                remaining = None if deadline is None else deadline - loop.time()
                if remaining is not None and remaining <= 0:
                    return None
                look_again = wakeup.LOOK_AGAIN_SECONDS
                if remaining is None and self._driver.loses_wakeups and not looked_for:
                    looked_for = True
                    self._close_looks.add(run_id)
                if remaining is None or remaining < look_again:
                    await sub.wait(remaining)
                    continue
                # Looking again is being woken by a timer: cheaper than a timed wait, which
                # costs a task of its own (every result() pays for this one).
                timer = loop.call_later(look_again, sub.event.set)
                try:
                    await sub.wait(None)
                finally:
                    timer.cancel()
        finally:
            if looked_for:
                self._close_looks.remove(run_id)
            sub.close()

    async def fetch_sql(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of one read-only statement written with ``?`` placeholders (for the server's
        read model, whose SQL is its own)."""
        return await self._read(fetch_sql, sql, params)

    # -- workers -------------------------------------------------------------------------
    async def register_worker(self, worker: WorkerRow) -> None:
        await self._write(sweeper.register_worker, worker)

    async def unregister_worker(self, worker_id: str) -> None:
        await self._write(sweeper.unregister_worker, worker_id)

    def heartbeat_worker_blocking(self, worker_id: str, now: float) -> None:
        """Called from the worker's liveness thread, on a connection of its own, so a worker
        whose event loop is busy still shows it is alive."""
        if not self._closed:  # the client was closed before its worker: nothing to keep alive
            self._driver.heartbeat_worker_blocking(worker_id, now)

    async def list_workers(self) -> list[WorkerRow]:
        return await self._read(sweeper.list_workers)

    async def claim_workflow_tasks(self, task_queue: str, worker_id: str, now: float,
                                   lease_seconds: float, limit: int) -> list[WorkflowTaskClaim]:
        if not await self._worth_claiming(tasks.has_ready_workflow_task, task_queue,
                                         worker_id, now):
            return []
        return await self._write(tasks.claim_workflow_tasks, task_queue, worker_id, now,
                                 lease_seconds, limit)

    async def complete_workflow_task(self, completion: WorkflowTaskCompletion,
                                     now: float) -> CompletionResult:
        return await self._write(complete_workflow_task, completion, now)

    async def fail_workflow_task(self, run_id: str, worker_id: str, failure: dict[str, Any],
                                 retry_at: float, now: float, inbox_max_id: int = 0) -> None:
        await self._write(tasks.fail_workflow_task, run_id, worker_id, failure, retry_at, now,
                          inbox_max_id)

    async def time_out_workflow_task(self, run_id: str, worker_id: str, inbox_max_id: int,
                                     now: float) -> None:
        await self._write(tasks.time_out_workflow_task, run_id, worker_id, inbox_max_id, now)

    async def release_workflow_task(self, run_id: str, worker_id: str, now: float) -> None:
        await self._write(tasks.release_workflow_task, run_id, worker_id, now)

    async def claim_activity_tasks(self, task_queue: str, worker_id: str, now: float,
                                   limit: int, rate_limit: float | None = None
                                   ) -> list[ActivityTaskClaim]:
        if not await self._worth_claiming(tasks.has_ready_activity_task, task_queue, now):
            return []
        return await self._write(tasks.claim_activity_tasks, task_queue, worker_id, now, limit,
                                 rate_limit)

    async def complete_activity_task(self, run_id: str, seq: int, attempt: int,
                                     worker_id: str | None,
                                     result: dict[str, Any], identity: str, now: float,
                                     claim_workflow_task: bool
                                     ) -> tuple[bool, WorkflowTaskClaim | None]:
        return await self._write(tasks.complete_activity_task, run_id, seq, attempt, worker_id,
                                 result, identity, now, claim_workflow_task)

    async def complete_activity_and_workflow_task(
            self, seq: int, attempt: int, result: dict[str, Any], started_at: float,
            completion: WorkflowTaskCompletion, now: float
    ) -> tuple[str, CompletionResult | None, WorkflowTaskClaim | None]:
        return await self._write(tasks.complete_activity_and_workflow_task, seq, attempt,
                                 result, started_at, completion, now)

    async def fail_activity_task(self, run_id: str, seq: int, attempt: int,
                                 worker_id: str | None, failure: dict[str, Any],
                                 final_failure: dict[str, Any] | None, retry_at: float | None,
                                 heartbeat_details: list[dict[str, Any]] | None,
                                 event_type: str, identity: str, now: float) -> bool:
        return await self._write(tasks.fail_activity_task, run_id, seq, attempt, worker_id,
                                 failure, final_failure, retry_at, heartbeat_details,
                                 event_type, identity, now)

    async def heartbeat_activity_task(self, run_id: str, seq: int, attempt: int,
                                      worker_id: str | None, details: list[dict[str, Any]],
                                      now: float) -> bool | None:
        return await self._write(tasks.heartbeat_activity_task, run_id, seq, attempt,
                                 worker_id, details, now)

    # -- updates, queries, async completion -----------------------------------------------
    async def update_workflow(self, workflow_id: str, run_id: str | None, update_id: str,
                              name: str, input: list[dict[str, Any]], now: float) -> str:
        return await self._write(messages.update_workflow, workflow_id, run_id, update_id,
                                 name, input, now)

    async def get_update(self, run_id: str, update_id: str) -> dict[str, Any] | None:
        return await self._driver.point(messages.get_update, run_id, update_id)

    async def query_workflow(self, workflow_id: str, run_id: str | None, name: str,
                             input: list[dict[str, Any]], now: float) -> int:
        return await self._write(messages.query_workflow, workflow_id, run_id, name, input,
                                 now)

    async def get_query(self, query_id: int) -> dict[str, Any] | None:
        return await self._driver.point(messages.get_query, query_id)

    async def delete_query(self, query_id: int) -> None:
        await self._write(messages.delete_query, query_id)

    async def claim_queries(self, task_queue: str, worker_id: str, now: float,
                            limit: int) -> list[dict[str, Any]]:
        if not await self._worth_claiming(messages.has_pending_queries, task_queue, now):
            return []
        return await self._write(messages.claim_queries, task_queue, worker_id, now, limit)

    async def answer_query(self, query_id: int, result: dict[str, Any] | None,
                           failure: dict[str, Any] | None) -> None:
        await self._write(messages.answer_query, query_id, result, failure)

    async def mark_activity_async(self, run_id: str, seq: int, attempt: int,
                                  worker_id: str) -> bool:
        return await self._write(messages.mark_activity_async, run_id, seq, attempt, worker_id)

    # -- sweeper -------------------------------------------------------------------------
    async def fire_due_timers(self, now: float, limit: int) -> int:
        if not await self._worth_claiming(sweeper.has_due_timers, now):
            return 0
        return await self._write(sweeper.fire_due_timers, now, limit)

    async def find_expired_activities(self, now: float, limit: int) -> list[ExpiredActivity]:
        return await self._read(sweeper.expired_activities, now, limit)

    async def find_activities_of_worker(self, worker_id: str) -> list[ExpiredActivity]:
        return await self._read(sweeper.activities_of_worker, worker_id)

    async def release_workflow_tasks_of_worker(self, worker_id: str, now: float) -> int:
        return await self._write(sweeper.release_workflow_tasks_of_worker, worker_id, now)

    async def time_out_executions(self, now: float, limit: int) -> int:
        if not await self._worth_claiming(sweeper.has_expired_executions, now):
            return 0
        return await self._write(sweeper.time_out_executions, now, limit)

    async def next_due_time(self, now: float) -> float | None:
        return await self._read(sweeper.next_due_time, now)

    async def has_ready_work(self, now: float) -> bool:
        """Whether any workflow task, activity task or timer is due now."""
        return await self._read(has_ready_work, now)

    # -- operations ----------------------------------------------------------------------
    # -- workflow streams ----------------------------------------------------------------
    async def publish_stream(self, run_id: str, items: list[StreamPublish],
                             now: float) -> list[int]:
        return await self._write(streams.publish, run_id, items, now)

    async def resolve_stream(self, workflow_id: str, run_id: str | None
                             ) -> streams.StreamTarget | None:
        return await self._driver.point(streams.resolve, workflow_id, run_id)

    async def read_stream(self, chain_id: str, from_offset: int, topics: list[str] | None,
                          run_id: str | None, limit: int) -> list[Any]:
        return await self._driver.point(streams.read, chain_id, from_offset, topics, run_id,
                                        limit)

    async def stream_head(self, chain_id: str) -> int:
        return await self._driver.point(streams.head, chain_id)

    async def stream_run_open(self, run_id: str) -> bool:
        return await self._driver.point(streams.run_open, run_id)

    async def delete_closed_runs(self, closed_before: float, limit: int = 1000) -> int:
        """Retention: forget up to ``limit`` runs closed before ``closed_before`` with their
        history (its stored payloads too), search attribute rows, updates and queries, and
        then closed activities started from a client; how many went. Open runs, and closed
        parents of open children, are kept."""
        return await self._write(sweeper.delete_closed_runs, closed_before, limit)

    async def backlog(self, now: float) -> dict[tuple[str, str], int]:
        return await self._read(sweeper.ready_backlog, now)

    async def status(self) -> dict[str, Any]:
        return await self._read(sweeper.store_status)

    # -- schedules -----------------------------------------------------------------------
    async def create_schedule(self, row: ScheduleRow, now: float) -> bool:
        return await self._write(schedules.create_schedule, row, now)

    async def get_schedule(self, schedule_id: str) -> ScheduleRow | None:
        return await self._read(schedules.get_schedule, schedule_id)

    async def list_schedules(self, limit: int, offset: int) -> list[ScheduleRow]:
        return await self._read(schedules.list_schedules, limit, offset)

    async def delete_schedule(self, schedule_id: str) -> bool:
        return await self._write(schedules.delete_schedule, schedule_id)

    async def mutate_schedule(self, schedule_id: str, step: ScheduleStep, now: float,
                              wake: bool = True) -> ScheduleRow | None:
        return await self._write(schedules.mutate_schedule, schedule_id, step, now, wake)

    async def due_schedules(self, now: float, limit: int) -> list[str]:
        return await self._read(schedules.due_schedules, now, limit)

    async def next_schedule_time(self) -> float | None:
        return await self._read(schedules.next_schedule_time)

    async def schedule_watch_runs(self, limit: int) -> list[str]:
        return await self._read(schedules.schedule_watch_runs, limit)

    async def get_scheduler_lease(self) -> tuple[str, float] | None:
        return await self._read(schedules.get_scheduler_lease)

    async def take_scheduler_lease(self, owner: str, previous_owner: str | None,
                                   expires_at: float) -> bool:
        return await self._write(schedules.take_scheduler_lease, owner, previous_owner,
                                 expires_at)

    async def release_scheduler_lease(self, owner: str) -> None:
        await self._write(schedules.release_scheduler_lease, owner)
