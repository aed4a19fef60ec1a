"""Several worker processes serve one queue of workflows that sleep on durable timers between
activities, on a SQLite file and on PostgreSQL. The workflow task a fired timer makes goes to
the worker whose cache holds the run (no replay elsewhere), and a run whose worker was SIGKILLed
while it slept is finished by another.

Histories tell who ran each workflow task: ``WorkflowTaskCompleted`` names the worker's
identity, ``slot<N>-<pid>``. The worker processes wait a minute (``STALWART_AFFINITY_GRACE``)
before taking a task offered to another worker, so a task that went elsewhere could only have
been handed over (its worker gone), never taken because its worker was slow to claim.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest

from stalwart._store.ops.executions import AFFINITY_GRACE_VARIABLE
from stalwart.client import Client
from tests.helpers.processes import WorkerSlots, workers_registered
from tests.helpers.waiting import eventually

from . import affinity_worker_process as wp

BOTH_STORES = pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)


def affinity_slots(url: str, task_queue: str, logs: Path) -> WorkerSlots:
    # Another worker's task is taken only after a minute: see the module's docstring.
    return WorkerSlots("tests.e2e.affinity_worker_process", url, task_queue, logs,
                       env={AFFINITY_GRACE_VARIABLE: "60"})


async def task_runners(client: Client, workflow_id: str) -> list[tuple[str, str]]:
    """(what the task took, who completed it) for each workflow task, in history order: what
    it took is ``TimerFired`` if a timer woke the run for it, else ``other``."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    runs: list[tuple[str, str]] = []
    cause = "other"
    for event in history.events:
        kind = str(event.event_type)
        if kind == "TimerFired":
            cause = "TimerFired"
        elif kind == "WorkflowTaskCompleted":
            runs.append((cause, event.attributes["identity"].split("-")[0]))
            cause = "other"
    return runs


@BOTH_STORES
async def test_a_fired_timers_task_runs_on_the_worker_that_ran_the_run(
        client: Client, db_url: str, task_queue: str, tmp_path: Path) -> None:
    rounds, runs = 4, 6
    slots = affinity_slots(db_url, task_queue, tmp_path)
    try:
        for slot in (1, 2, 3):
            slots.start(slot)
        await workers_registered(client, 3)
        handles = [await client.start_workflow(wp.Napper.run, args=[rounds, 0.2],
                                               id=f"nap-{n}", task_queue=task_queue)
                   for n in range(runs)]
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 90)
    finally:
        slots.stop_all()
    assert results == [wp.expected(rounds)] * runs
    after_timers = 0
    for n in range(runs):
        tasks = await task_runners(client, f"nap-{n}")
        for (_, before), (cause, runner) in itertools.pairwise(tasks):
            if cause == "TimerFired":
                after_timers += 1
                assert runner == before, (f"nap-{n}", tasks)
    assert after_timers == rounds * runs


@BOTH_STORES
async def test_a_run_whose_worker_was_killed_while_it_slept_is_finished_by_another(
        client: Client, db_url: str, task_queue: str, tmp_path: Path) -> None:
    slots = affinity_slots(db_url, task_queue, tmp_path)
    try:
        for slot in (1, 2):
            slots.start(slot)
        await workers_registered(client, 2)
        handle = await client.start_workflow(wp.Napper.run, args=[2, 2.0], id="nap-kill",
                                             task_queue=task_queue)

        async def sleeping() -> bool:
            history = await handle.fetch_history()
            kinds = [str(e.event_type) for e in history.events]
            return "TimerStarted" in kinds and "TimerFired" not in kinds

        await eventually(sleeping, timeout=30, what="the run to sleep on its first timer")
        holder = (await task_runners(client, "nap-kill"))[-1][1]
        slots.kill(int(holder.removeprefix("slot")))
        result = await asyncio.wait_for(handle.result(), 45)
    finally:
        slots.stop_all()
    assert result == wp.expected(2)
    tasks = await task_runners(client, "nap-kill")
    [survivor] = {f"slot{slot}" for slot in (1, 2)} - {holder}
    fired = [runner for cause, runner in tasks if cause == "TimerFired"]
    # The killed worker's liveness ended its claim on the run, whether it was found dead
    # before the first timer fired or after (the task then offered to it is handed over).
    assert fired == [survivor, survivor], tasks
