"""Random interleavings of workers, timers and signals never gap or duplicate event ids.

A seeded random loop stands in for a property-based test: each step runs a random handful of
store operations concurrently (so they share group-commit batches and interleave at every
await), then checks every run's history.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from stalwart._model.events import Command, EventType, HistoryEvent
from stalwart._store import open_store
from stalwart._store.database import DatabaseStore
from stalwart.exceptions import WorkflowNotFoundError

from .helpers import (
    QUEUE,
    T0,
    complete,
    complete_workflow,
    payload,
    schedule,
    start_request,
    start_timer,
)

STEPS = 60
RESOLVING = {EventType.ACTIVITY_TASK_COMPLETED, EventType.ACTIVITY_TASK_FAILED,
             EventType.ACTIVITY_TASK_TIMED_OUT, EventType.ACTIVITY_TASK_CANCELED}
FAILURE = {"message": "flaky", "application_failure_info": {"type": "Flaky"}}


class Simulation:
    def __init__(self, store: DatabaseStore, rng: random.Random) -> None:
        self.store = store
        self.rng = rng
        self.now = T0
        self.runs: list[str] = []
        self.next_seq: dict[tuple[str, str], int] = {}
        self.started = 0
        self.held: list[tuple[str, Any]] = []
        self.fenced = 0

    def seq(self, run_id: str, kind: str) -> int:
        key = (run_id, kind)
        self.next_seq[key] = self.next_seq.get(key, 0) + 1
        return self.next_seq[key]

    async def start_one(self) -> None:
        self.started += 1
        workflow_id = f"wf-{self.started}"
        result = await self.store.start_workflow(
            start_request(workflow_id, run_id=f"run-{self.started}"), self.now)
        self.runs.append(result.run_id)

    async def workflow_worker(self, worker: str) -> None:
        claims = await self.store.claim_workflow_tasks(QUEUE, worker, self.now, 10,
                                                       self.rng.randint(1, 3))
        for claim in claims:
            await asyncio.sleep(0)  # let other operations in between claim and commit
            commands: list[Command] = []
            for _ in range(self.rng.randint(0, 2)):
                if self.rng.random() < 0.6:
                    commands.append(schedule(self.seq(claim.run_id, "activity"),
                                             maximum_attempts=3))
                else:
                    commands.append(start_timer(self.seq(claim.run_id, "timer"),
                                                self.rng.uniform(0.5, 8)))
            if self.rng.random() < 0.08:
                commands.append(complete_workflow())
            await complete(self.store, claim, commands, self.now, worker=worker)

    async def slow_workflow_worker(self) -> None:
        """Claim with a short lease and commit in a later step, often after losing the lease."""
        claims = await self.store.claim_workflow_tasks(QUEUE, "slow", self.now, 2, 1)
        self.held.extend(("slow", claim) for claim in claims)

    async def finish_held(self) -> None:
        held, self.held = self.held, []
        for worker, claim in held:
            commands = [start_timer(self.seq(claim.run_id, "timer"), 1.0)]
            result = await complete(self.store, claim, commands, self.now, worker=worker)
            if not result.accepted:
                self.fenced += 1  # its timer seq stays unused; gaps in seqs are harmless

    async def activity_worker(self, worker: str) -> None:
        claims = await self.store.claim_activity_tasks(QUEUE, worker, self.now,
                                                       self.rng.randint(1, 4))
        for claim in claims:
            await asyncio.sleep(0)
            roll = self.rng.random()
            if roll < 0.6:
                await self.store.complete_activity_task(
                    claim.run_id, claim.seq, claim.attempt, worker, payload(claim.seq), worker,
                    self.now, self.rng.random() < 0.5)
            elif roll < 0.85:
                await self.store.fail_activity_task(
                    claim.run_id, claim.seq, claim.attempt, worker, FAILURE, None,
                    self.now + self.rng.uniform(0, 3), None, EventType.ACTIVITY_TASK_FAILED,
                    worker, self.now)
            else:
                await self.store.fail_activity_task(
                    claim.run_id, claim.seq, claim.attempt, worker, FAILURE, FAILURE, None,
                    None, EventType.ACTIVITY_TASK_FAILED, worker, self.now)

    async def signal(self) -> None:
        try:
            await self.store.signal_workflow(f"wf-{self.rng.randint(1, self.started)}", None,
                                             "poke", [], "client", self.now)
        except WorkflowNotFoundError:
            pass  # that run has closed

    def operations(self) -> list[Awaitable[Any]]:
        choices: list[Callable[[], Awaitable[Any]]] = [
            lambda: self.workflow_worker("w1"),
            lambda: self.workflow_worker("w2"),
            lambda: self.activity_worker("a1"),
            lambda: self.activity_worker("a2"),
            lambda: self.store.fire_due_timers(self.now, self.rng.randint(1, 5)),
            lambda: self.signal(),
            lambda: self.start_one(),
            lambda: self.slow_workflow_worker(),
            lambda: self.finish_held(),
        ]
        return [self.rng.choice(choices)() for _ in range(self.rng.randint(1, 5))]

    async def check(self) -> None:
        for run_id in self.runs:
            check_history(run_id, await self.store.get_history(run_id))


def check_history(run_id: str, history: list[HistoryEvent]) -> None:
    ids = [e.event_id for e in history]
    assert ids == list(range(1, len(ids) + 1)), f"{run_id}: event ids {ids}"
    scheduled: set[int] = set()
    timers: set[int] = set()
    resolved: Counter[int] = Counter()
    fired: Counter[int] = Counter()
    for e in history:
        seq = int(e.attributes.get("seq", 0))
        if e.event_type == EventType.ACTIVITY_TASK_SCHEDULED:
            assert seq not in scheduled, f"{run_id}: activity {seq} scheduled twice"
            scheduled.add(seq)
        elif e.event_type in RESOLVING:
            assert seq in scheduled, f"{run_id}: event {e.event_id} resolves unknown {seq}"
            resolved[seq] += 1
        elif e.event_type == EventType.TIMER_STARTED:
            timers.add(seq)
        elif e.event_type == EventType.TIMER_FIRED:
            assert seq in timers, f"{run_id}: event {e.event_id} fires unknown timer {seq}"
            fired[seq] += 1
    assert all(n == 1 for n in resolved.values()), f"{run_id}: {resolved}"
    assert all(n == 1 for n in fired.values()), f"{run_id}: {fired}"


@pytest.mark.parametrize("seed", range(6))
async def test_random_interleavings_never_gap_or_duplicate_event_ids(
        db_url: str, seed: int) -> None:
    rng = random.Random(seed)
    # synchronous=NORMAL: durability is not under test here, ordering is.
    url = f"{db_url}?synchronous=NORMAL" if db_url.startswith("sqlite:") else db_url
    store = await open_store(url)
    assert isinstance(store, DatabaseStore)
    simulation = Simulation(store, rng)
    try:
        for _ in range(3):
            await simulation.start_one()
        for _ in range(STEPS):
            await asyncio.gather(*simulation.operations())
            await simulation.check()
            simulation.now += rng.uniform(0, 4)
        # The run must have exercised what it claims to: resolutions and timer fires.
        kinds: Counter[str] = Counter()
        for run_id in simulation.runs:
            kinds.update(e.event_type for e in await store.get_history(run_id))
    finally:
        await store.close()
    assert kinds[EventType.ACTIVITY_TASK_COMPLETED] > 0
    assert kinds[EventType.TIMER_FIRED] > 0
    assert kinds[EventType.WORKFLOW_EXECUTION_SIGNALED] > 0
    assert simulation.fenced > 0
