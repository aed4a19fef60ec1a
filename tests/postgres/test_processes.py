"""Several worker processes on one PostgreSQL database, killed connections and killed workers.

Worker processes are real subprocesses; wakeups between them travel only by LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from stalwart._engine.liveness import HOST_VARIABLE, LEASE_VARIABLE
from stalwart._store.base import StartWorkflowRequest
from stalwart._store.postgres import PostgresStore
from stalwart.client import Client
from stalwart.worker import Worker
from tests.helpers.processes import WorkerSlots, workers_registered
from tests.helpers.waiting import eventually

from . import workflows as w
from .conftest import admin_connect


def worker_processes(url: str, task_queue: str, logs: Path, max_activities: int) -> WorkerSlots:
    return WorkerSlots("tests.postgres.worker_process", url, task_queue, logs,
                       args=[max_activities])


async def _completions(client: Client, workflow_id: str) -> list[dict[str, Any]]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [event.attributes for event in history.events
            if str(event.event_type) == "ActivityTaskCompleted"]


async def _scheduled_seqs(client: Client, workflow_id: str) -> list[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return [str(event.event_id) for event in history.events
            if str(event.event_type) == "ActivityTaskScheduled"]


async def test_processes_two_workers_share_a_queue_woken_by_notify(
        client: Client, db_url: str, task_queue: str, tmp_path: Path) -> None:
    workers = worker_processes(db_url, task_queue, tmp_path, max_activities=2)
    try:
        workers.start(1)
        workers.start(2)
        await workers_registered(client, 2)
        handles = [await client.start_workflow(w.SlowSteps.run, 5, id=f"two-{n}",
                                               task_queue=task_queue) for n in range(20)]
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 60)
    finally:
        workers.stop_all()
    assert results == [w.expected_steps_result(5)] * 20
    slots = Counter()
    for n in range(20):
        for attributes in await _completions(client, f"two-{n}"):
            slots[attributes["identity"].split("-")[0]] += 1
    assert set(slots) == {"slot1", "slot2"}, slots
    assert sum(slots.values()) == 100


async def test_processes_a_killed_worker_on_another_host_is_found_by_its_lease(
        client: Client, db_url: str, task_queue: str, tmp_path: Path) -> None:
    # Slot 1 says it runs on another host, so its neighbours cannot look its process up: only
    # its liveness lease (here 1 s, from the environment) running out tells them it is dead.
    elsewhere = f"elsewhere-{task_queue}"
    workers = worker_processes(db_url, task_queue, tmp_path, max_activities=10)
    try:
        workers.start(1, {HOST_VARIABLE: elsewhere, w.HOLD_VARIABLE: "1"})
        await workers_registered(client, 1)
        handles = [await client.start_workflow(w.Held.run, n, id=f"held-{n}",
                                               task_queue=task_queue) for n in range(4)]

        async def all_started() -> bool:
            for handle in handles:
                pending = await client.store.list_pending_activities(
                    handle.result_run_id or "")
                if not any(activity["state"] == "started" for activity in pending):
                    return False
            return True

        await eventually(all_started, what="slot 1 to start every held activity")
        [row] = await client.store.list_workers()
        assert row.host == elsewhere and row.identity.startswith("slot1-")
        workers.kill(1)
        workers.start(2, {LEASE_VARIABLE: "1"})
        results = await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), 60)
    finally:
        workers.stop_all()
    assert results == [n * n for n in range(4)]
    for n in range(4):
        # The second attempt, in slot 2: the first was handed over, not timed out (1 h).
        history = await client.get_workflow_handle(f"held-{n}").fetch_history()
        [started] = [e.attributes for e in history.events
                     if str(e.event_type) == "ActivityTaskStarted"]
        assert started["attempt"] == 2 and started["identity"].startswith("slot2-")


async def test_processes_terminated_backends_are_replaced_mid_run(
        postgres_server: str, pg_schema: str, task_queue: str,
        caplog: pytest.LogCaptureFixture) -> None:
    app = f"stalwart_{pg_schema}"
    url = f"{postgres_server}?schema={pg_schema}&application_name={app}"
    client = await Client.connect(url)
    try:
        key = f"gate-{task_queue}"
        w.gates[key] = asyncio.Event()
        w.gates[f"{key}-after"] = asyncio.Event()
        w.gates[f"{key}-after"].set()
        async with Worker(client, task_queue=task_queue, workflows=[w.Gated],
                          activities=[w.wait_for_gate]) as worker:
            handle = await client.start_workflow(w.Gated.run, [key, f"{key}-after"],
                                                 id="gated", task_queue=task_queue)

            async def activity_started() -> bool:
                pending = await client.store.list_pending_activities(handle.result_run_id or "")
                return any(activity["state"] == "started" for activity in pending)

            await eventually(activity_started, what="the gated activity to start")
            with admin_connect() as conn:
                killed = [row[0] for row in conn.execute(
                    "WITH targets AS MATERIALIZED (SELECT pid FROM pg_stat_activity WHERE "
                    "application_name = %s AND pid <> pg_backend_pid()) "
                    "SELECT pid FROM targets WHERE pg_terminate_backend(pid)", (app,)).fetchall()]
            # The pool's connections, the LISTEN connection, the liveness heartbeat's.
            assert len(killed) >= 3, killed
            killed_at = time.time()
            caplog.set_level(logging.WARNING, logger="stalwart._store.postgres")
            w.gates[key].set()
            result = await asyncio.wait_for(handle.result(), 60)
            assert result == [f"{key} passed", f"{key}-after passed"]

            async def heartbeat_resumed() -> bool:
                rows = await client.store.list_workers()
                return any(row.heartbeat_at > killed_at for row in rows
                           if row.identity == worker.identity)

            await eventually(heartbeat_resumed, timeout=20,
                             what="the liveness heartbeat to reconnect")
        assert any("connection lost" in record.getMessage() for record in caplog.records)
        with admin_connect() as conn:
            now_pids = {row[0] for row in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (app,))}
        assert now_pids and not now_pids & set(killed)
        # The LISTEN connection came back: another store's commit still wakes this one (a
        # run closing is told to every process).
        probe = await PostgresStore.open(f"{postgres_server}?schema={pg_schema}")
        try:
            sub = client.store.subscribe(("closed", "probe-run"))
            await probe.start_workflow(StartWorkflowRequest(
                workflow_id="probe", workflow_type="Gated", task_queue="probe-q", input=[],
                run_id="probe-run", random_seed=1), time.time())
            await probe.terminate_workflow("probe", "probe-run", "probe", [], "test",
                                           time.time())
            assert await sub.wait(30), "no wakeup after the LISTEN connection was killed"
            sub.close()
        finally:
            await probe.close()
    finally:
        w.gates.clear()
        await client.close()


@pytest.mark.slow
async def test_processes_four_workers_killed_at_random_finish_every_workflow_once(
        client: Client, db_url: str, task_queue: str, tmp_path: Path) -> None:
    workflows = 200
    rng = random.Random(int(os.environ.get("STALWART_TEST_SEED", time.time_ns())))
    workers = worker_processes(db_url, task_queue, tmp_path, max_activities=8)
    kills = 0
    try:
        for slot in range(1, 5):
            workers.start(slot)
        await workers_registered(client, 4)
        handles = await asyncio.gather(*(
            client.start_workflow(w.Steps.run, args=[w.STEPS, 0], id=f"chaos-{n}",
                                  task_queue=task_queue) for n in range(workflows)))
        results_task = asyncio.ensure_future(asyncio.wait_for(
            asyncio.gather(*(h.result() for h in handles)), 120))
        while not results_task.done() and kills < 8:
            # Random moments, not synchronisation: the kill lands wherever the work is.
            await asyncio.wait({results_task}, timeout=rng.uniform(0.2, 0.8))
            if results_task.done():
                break
            slot = rng.choice(workers.alive())
            workers.kill(slot)
            kills += 1
            workers.start(slot)
        results = await results_task
    finally:
        workers.stop_all()
    assert kills >= 1, "the run finished before any worker was killed; nothing was tested"
    assert results == [w.expected_steps_result()] * workflows
    slots: Counter[str] = Counter()
    for n in range(workflows):
        completions = await _completions(client, f"chaos-{n}")
        per_seq = Counter(attributes["scheduledEventId"] for attributes in completions)
        scheduled = await _scheduled_seqs(client, f"chaos-{n}")
        assert len(scheduled) == w.STEPS and sorted(per_seq) == sorted(scheduled), (n, per_seq)
        assert set(per_seq.values()) == {1}, (n, per_seq)
        for attributes in completions:
            slots[attributes["identity"].split("-")[0]] += 1
    assert set(slots) == {"slot1", "slot2", "slot3", "slot4"}, slots
