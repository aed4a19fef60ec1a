"""Store-side deadlines: fires timers, times out activities and workflows, reclaims the work of
dead workers. Every worker runs one; all of their actions are fenced, so several at once are
safe, and the one that survives a crash does the dead one's share."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from .. import exceptions as exc
from .._model.events import EventType
from .._store.base import ExpiredActivity, Store
from ..converter import DataConverter
from .activity_worker import activity_error_failure
from .clock import Clock
from .liveness import HEARTBEAT_INTERVAL_SECONDS, ProcessWatch, is_dead
from .retry import decide

logger = logging.getLogger(__name__)

RETENTION_SWEEP_SECONDS = 60.0
# Attempts of a dead worker handed over at once.
RECLAIM_CONCURRENCY = 32

_TIMEOUT_NAMES = {
    exc.TimeoutType.START_TO_CLOSE: "StartToClose",
    exc.TimeoutType.SCHEDULE_TO_START: "ScheduleToStart",
    exc.TimeoutType.SCHEDULE_TO_CLOSE: "ScheduleToClose",
    exc.TimeoutType.HEARTBEAT: "Heartbeat",
}


def expired_timeout_type(activity: ExpiredActivity, now: float) -> exc.TimeoutType | None:
    options = activity.options
    s2c = options.get("schedule_to_close_timeout")
    if s2c and activity.scheduled_at + s2c <= now:
        return exc.TimeoutType.SCHEDULE_TO_CLOSE
    if activity.started_at is None:
        s2s = options.get("schedule_to_start_timeout")
        if s2s and activity.attempt_scheduled_at + s2s <= now:
            return exc.TimeoutType.SCHEDULE_TO_START
        return None
    heartbeat = options.get("heartbeat_timeout")
    if heartbeat and (activity.heartbeat_at or activity.started_at) + heartbeat <= now:
        return exc.TimeoutType.HEARTBEAT
    stc = options.get("start_to_close_timeout")
    if stc and activity.started_at + stc <= now:
        return exc.TimeoutType.START_TO_CLOSE
    return None


class Sweeper:
    def __init__(self, *, store: Store, worker_id: str, identity: str, converter: DataConverter,
                 clock: Clock, retention: float | None = None) -> None:
        self.store = store
        self.worker_id = worker_id
        self.identity = identity
        self.converter = converter
        self.clock = clock
        self._last_due: float | None = None
        self._retention = retention
        self._next_retention_sweep = 0.0
        self._watch: ProcessWatch | None = None

    async def run_forever(self, stopping: asyncio.Event) -> None:
        sub = self.store.subscribe(("deadline", "*"))
        # A neighbour's exit wakes this loop at once (it sweeps, finds the worker dead, hands
        # its work over).
        self._watch = ProcessWatch(asyncio.get_running_loop(), sub.event.set)
        try:
            while not stopping.is_set():
                try:
                    due = await self.sweep_once()
                except exc.StoreError as error:
                    logger.warning("sweeping deadlines failed, retrying: %s", error)
                    due = None
                now = self.clock.now()
                wait = HEARTBEAT_INTERVAL_SECONDS
                if due is not None:
                    wait = max(0.0, min(wait, due - now))
                targets = getattr(self.store, "sweep_targets", None)
                if targets is not None:
                    targets[self.worker_id] = now + wait
                await sub.wait(wait)
                if targets is not None:
                    targets[self.worker_id] = -math.inf
        finally:
            self._watch.close()
            self._watch = None
            targets = getattr(self.store, "sweep_targets", None)
            if targets is not None:
                targets.pop(self.worker_id, None)
            sub.close()

    async def sweep_once(self) -> float | None:
        """Do everything that is due now; return when the next thing falls due."""
        now = self.clock.now()
        store = self.store
        await store.fire_due_timers(now, 1000)
        for activity in await store.find_expired_activities(now, 500):
            await self._time_out_activity(activity, now)
        await store.time_out_executions(now, 500)
        if self._retention is not None and now >= self._next_retention_sweep:
            # Retention runs at most once a minute and in batches, to keep commits short.
            self._next_retention_sweep = now + RETENTION_SWEEP_SECONDS
            await store.delete_closed_runs(now - self._retention, 1000)
        workers = await store.list_workers()
        for worker in workers:
            if worker.worker_id != self.worker_id and is_dead(worker, now):
                await self._reclaim(worker.worker_id, now)
        if self._watch is not None:
            self._watch.watch(workers)
        if self._last_due is not None and self._last_due <= now:
            # Something fell due (a retry backoff ended, a lease expired): let pollers look.
            store.notifier.publish([("workflow_task", "*"), ("activity_task", "*")])
        self._last_due = await store.next_due_time(now)
        return self._last_due

    async def _time_out_activity(self, activity: ExpiredActivity, now: float) -> None:
        timeout_type = expired_timeout_type(activity, now)
        if timeout_type is None:
            return
        cause = {
            "message": f"activity {_TIMEOUT_NAMES[timeout_type]} timeout",
            "source": "Stalwart",
            "timeout_failure_info": {"timeout_type": int(timeout_type),
                                     "last_heartbeat_details": activity.heartbeat_details},
        }
        await self._fail_attempt(activity, cause, now, timed_out=True)

    async def _fail_attempt(self, activity: ExpiredActivity, cause: dict[str, Any], now: float,
                            *, timed_out: bool, worker_lost: bool = False) -> None:
        s2c = activity.options.get("schedule_to_close_timeout")
        decision = decide(activity.options.get("retry_policy"), activity.attempt, cause, now,
                          activity.scheduled_at + s2c if s2c else None)
        if worker_lost and decision.retry_at is not None:
            decision.retry_at = now
        final = None
        if decision.retry_at is None:
            final = activity_error_failure(cause, activity.activity_type, activity.activity_id,
                                           self.identity, decision.retry_state, timed_out)
        event_type = (EventType.ACTIVITY_TASK_TIMED_OUT if timed_out
                      else EventType.ACTIVITY_TASK_FAILED)
        await self.store.fail_activity_task(
            activity.run_id, activity.seq, activity.attempt, None, cause, final,
            decision.retry_at, None, event_type, self.identity, now)

    async def _reclaim(self, dead_worker_id: str, now: float) -> None:
        activities = await self.store.find_activities_of_worker(dead_worker_id)

        async def hand_over(activity: ExpiredActivity) -> None:
            cause = {
                "message": f"the worker running attempt {activity.attempt} of this activity "
                           f"({dead_worker_id}) died",
                "source": "Stalwart",
                "application_failure_info": {"type": "WorkerLost", "non_retryable": False,
                                             "details": [], "next_retry_delay": None,
                                             "category": 0},
            }
            await self._fail_attempt(activity, cause, now, timed_out=False, worker_lost=True)

        # Each attempt is its own fenced transaction: concurrently, they share commits (the
        # SQLite writer batches them; PostgreSQL runs them on several connections at once).
        for start in range(0, len(activities), RECLAIM_CONCURRENCY):
            await asyncio.gather(*(hand_over(activity) for activity
                                   in activities[start:start + RECLAIM_CONCURRENCY]))
        released = await self.store.release_workflow_tasks_of_worker(dead_worker_id, now)
        logger.warning("worker %s is gone: %d activities and %d workflow tasks handed over",
                       dead_worker_id, len(activities), released)
