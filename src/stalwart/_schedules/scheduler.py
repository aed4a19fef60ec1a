"""The scheduler loop: every worker runs one; the one holding the store's scheduler lease fires.

The lease is an efficiency device, not the safety net: each firing is one store transaction
that re-reads the schedule, so even two loops that both think they hold the lease fire a due
time once. The holder renews the lease well before it lapses; the others take it over when it
lapses or when its holder is known dead by the workers' liveness (a SIGKILLed worker on this
host is seen dead at once).

The loop does not poll: it sleeps until the earliest next time of any schedule, a wake from a
schedule change or a close of a workflow some schedule is watching, or a slow fallback.
"""

from __future__ import annotations

import asyncio
import logging

from .. import exceptions as exc
from .._engine.clock import Clock
from .._engine.liveness import LIVENESS_TIMEOUT_SECONDS, is_dead
from .._store.base import Store
from . import logic

logger = logging.getLogger(__name__)

LEASE_SECONDS = 10.0
# How often a loop without the lease looks whether the holder is gone.
STANDBY_CHECK_SECONDS = LIVENESS_TIMEOUT_SECONDS
# The longest sleep when nothing is due: a safety net for missed wakes, not the mechanism.
FALLBACK_SECONDS = 30.0
DUE_BATCH = 100
# Beyond this many watched runs, wake on any close instead of on each.
MAX_WATCHED_RUNS = 200


class Scheduler:
    def __init__(self, *, store: Store, worker_id: str, clock: Clock) -> None:
        self.store = store
        self.worker_id = worker_id
        self.clock = clock
        self._lease_expires: float | None = None
        self._watched: list[str] = []

    def _keys(self) -> list[tuple[str, str]]:
        keys = [("schedule", "*")]
        if self.clock.skips:
            # The time-skipping environment announces its jumps as deadline wakes.
            keys.append(("deadline", "*"))
        if len(self._watched) > MAX_WATCHED_RUNS:
            keys.append(("closed", "*"))
        else:
            keys += [("closed", run_id) for run_id in self._watched]
        return keys

    async def run_forever(self, stopping: asyncio.Event) -> None:
        try:
            while not stopping.is_set():
                # Subscribe before looking, so a change made while we look still wakes us.
                sub = self.store.subscribe(*self._keys())
                try:
                    try:
                        wait = await self.run_once()
                    except exc.StoreError as error:
                        logger.warning("scheduler pass failed, retrying: %s", error)
                        wait = STANDBY_CHECK_SECONDS
                    await sub.wait(wait)
                finally:
                    sub.close()
        finally:
            if self._lease_expires is not None:
                try:
                    await self.store.release_scheduler_lease(self.worker_id)
                except Exception as error:  # the store may be closing; the lease lapses
                    logger.debug("could not release the scheduler lease: %s", error)

    async def run_once(self) -> float:
        """One pass; returns how long to sleep (in seconds of real time)."""
        now = self.clock.now()
        if not await self._hold_lease(now):
            return STANDBY_CHECK_SECONDS
        for schedule_id in await self.store.due_schedules(now, DUE_BATCH):
            try:
                await self.store.mutate_schedule(
                    schedule_id, lambda row, txn: logic.tick(row, txn, now), now, wake=False)
            except exc.StoreError:
                raise
            except Exception as error:
                # One broken schedule must not stop the others; it is retried next pass.
                logger.exception("schedule %s could not fire: %s", schedule_id, error)
        self._watched = await self.store.schedule_watch_runs(MAX_WATCHED_RUNS + 1)
        now = self.clock.now()
        wait = FALLBACK_SECONDS
        if self._lease_expires is not None:
            wait = min(wait, max(0.0, self._lease_expires - LEASE_SECONDS / 2 - now))
        due = await self.store.next_schedule_time()
        if due is not None:
            wait = min(wait, max(0.0, due - now))
        return wait

    async def _hold_lease(self, now: float) -> bool:
        lease = await self.store.get_scheduler_lease()
        owner = lease[0] if lease is not None else None
        if owner == self.worker_id and lease is not None \
                and lease[1] - now > LEASE_SECONDS / 2:
            return True
        if owner is not None and owner != self.worker_id and lease is not None \
                and lease[1] > now and not await self._owner_dead(owner, now):
            self._lease_expires = None
            return False
        expires = now + LEASE_SECONDS
        if await self.store.take_scheduler_lease(self.worker_id, owner, expires):
            if owner != self.worker_id:
                logger.info("worker %s now runs the scheduler", self.worker_id)
            self._lease_expires = expires
            return True
        self._lease_expires = None
        return False

    async def _owner_dead(self, owner: str, now: float) -> bool:
        for worker in await self.store.list_workers():
            if worker.worker_id == owner:
                return is_dead(worker, now)
        return True  # unregistered: it shut down or was reclaimed
