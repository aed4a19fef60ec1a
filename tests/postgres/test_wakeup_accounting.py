"""Ready tasks wake as few pollers of other processes as there are tasks, and none is lost.

The other processes are stood in for by worker rows on another host (alive by their
heartbeat): their channels are listened to here, on a connection of the test's own, so what
each would have been told is read exactly as the server delivers it. That connection is named
as a store's LISTEN connection is, so the store's census counts it as another store.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from psycopg import sql

from stalwart._engine import activity_worker, workflow_worker
from stalwart._store.base import StartWorkflowRequest, WorkerRow
from stalwart._store.postgres import PostgresStore
from stalwart._store.postgres.peers import channel_of, listener_name
from stalwart.client import Client
from stalwart.worker import Worker

from ..unit.store import helpers
from . import workflows as w
from .conftest import admin_connect

QUEUE = "work-q"


def _request(n: int) -> StartWorkflowRequest:
    return StartWorkflowRequest(workflow_id=f"wf-{n}", workflow_type="Steps", task_queue=QUEUE,
                                input=[], run_id=f"run-{n}", random_seed=1)


class Peers:
    """Worker rows of processes on another host, and a connection that hears their channels
    and the store's own (in commit order, across channels)."""

    def __init__(self, schema: str, count: int) -> None:
        self.host = f"elsewhere-{uuid.uuid4().hex[:8]}"
        self.schema = schema
        self.rows = [WorkerRow(worker_id=f"peer-{n}", identity=f"peer-{n}", task_queue=QUEUE,
                               host=self.host, pid=1000 + n, pid_start="",
                               heartbeat_at=time.time() + 3600) for n in range(count)]
        self.channels = {channel_of(schema, self.host, row.pid): row.worker_id
                         for row in self.rows}
        self.conn = admin_connect()
        self.conn.execute("SELECT set_config('application_name', %s, false)",
                          (listener_name(schema, "test-peers"),))
        for channel in [*self.channels, f"stalwart.{schema}"]:
            self.conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    async def register(self, store: PostgresStore) -> None:
        for row in self.rows:
            await store.register_worker(row)

    def until_closed(self, run_id: str) -> list[tuple[str, list[str]]]:
        """Every notification up to the one that says ``run_id`` closed: (peer or "all",
        lines after the origin)."""
        heard: list[tuple[str, list[str]]] = []
        for notify in self.conn.notifies(timeout=30):
            lines = notify.payload.split("\n")[1:]
            heard.append((self.channels.get(notify.channel, "all"), lines))
            if f"closed:{run_id}" in lines:
                return heard
        raise AssertionError(f"run {run_id} was never announced closed; heard {heard}")


@pytest.fixture
def peers(pg_schema: str) -> Iterator[Peers]:
    listening = Peers(pg_schema, 3)
    try:
        yield listening
    finally:
        listening.conn.close()


def _work(heard: list[tuple[str, list[str]]]) -> list[tuple[str, str]]:
    return [(peer, line) for peer, lines in heard for line in lines
            if line.startswith("work:") or "_task:" in line]


async def test_n_ready_tasks_wake_one_process_told_n_and_none_broadcast(
        db_url: str, peers: Peers) -> None:
    store = await PostgresStore.open(db_url)
    try:
        await peers.register(store)
        for n in range(5):
            await store.start_workflow(_request(n), time.time())
        await store.terminate_workflow("wf-0", None, "marker", [], "test", time.time())
        heard = _work(peers.until_closed("run-0"))
    finally:
        await store.close()
    # No poller here: all five tasks go to other processes, one at a time or together, each
    # to one process in turn, counted; nothing about the queue goes to everyone.
    assert heard and all(peer != "all" for peer, _ in heard), heard
    told = [line.split(":") for _, line in heard]
    assert sum(int(parts[1]) for parts in told) == 5
    assert all(parts[2:] == ["0", "workflow_task", QUEUE] for parts in told)
    assert len(heard) <= 5


async def test_ready_tasks_this_process_has_room_for_wake_no_other_process(
        db_url: str, peers: Peers) -> None:
    store = await PostgresStore.open(db_url)
    try:
        await peers.register(store)
        left = [3]
        room = store.subscribe(("workflow_task", QUEUE), room=lambda: left[0])
        for n in range(3):
            await store.start_workflow(_request(n), time.time())
        # Its poller is full now: the next two tasks are announced, each to one process.
        left[0] = 0
        await store.start_workflow(_request(3), time.time())
        await store.start_workflow(_request(4), time.time())
        room.close()
        await store.terminate_workflow("wf-0", None, "marker", [], "test", time.time())
        heard = _work(peers.until_closed("run-0"))
    finally:
        await store.close()
    # The three this process had room for are told to nobody; the two after it, one at a time
    # or together (the announcer sends what committed meanwhile in one go), each to one process.
    assert heard and all(peer != "all" for peer, _ in heard), heard
    told = [line.split(":") for _, line in heard]
    assert sum(int(parts[1]) for parts in told) == 2, heard
    assert all(parts[2:] == ["0", "workflow_task", QUEUE] for parts in told), heard


async def test_a_process_without_room_hands_the_rest_on_once_around(
        db_url: str, peers: Peers) -> None:
    store = await PostgresStore.open(db_url)
    try:
        await peers.register(store)
        woken = store.subscribe(("activity_task", QUEUE), room=lambda: 1)
        # Told of three tasks by another process: its poller here takes one, and the two
        # left go to the next process, one hop further.
        store._db._on_notify(f"elsewhere\nwork:3:0:activity_task:{QUEUE}")
        assert await woken.wait(0)
        # Told of tasks already handed on by every other process: no further hop.
        store._db._on_notify(f"elsewhere\nwork:4:3:activity_task:{QUEUE}")
        woken.close()
        await store.start_workflow(_request(0), time.time())
        await store.terminate_workflow("wf-0", None, "marker", [], "test", time.time())
        heard = peers.until_closed("run-0")
    finally:
        await store.close()
    handed = [(peer, line) for peer, lines in heard for line in lines
              if line.startswith("work:") and "activity_task" in line]
    assert [line for _, line in handed] == [f"work:2:1:activity_task:{QUEUE}"], heard


async def test_a_dropped_notification_strands_no_task(
        client: Client, db_url: str, task_queue: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The starting store tells nobody anything: the worker's pollers find the work by their
    # periodic look alone (shortened here so the test is quick).
    monkeypatch.setattr(activity_worker, "IDLE_POLL_FALLBACK_SECONDS", 0.2)
    monkeypatch.setattr(workflow_worker, "IDLE_POLL_FALLBACK_SECONDS", 0.2)
    silent = await Client.connect(db_url)
    dropped: list[Any] = []
    monkeypatch.setattr(silent.store._db.announcer, "add",  # type: ignore[attr-defined]
                        lambda *args: dropped.append(args))
    try:
        async with Worker(client, task_queue=task_queue, workflows=[w.Steps],
                          activities=[w.square]):
            results = [await silent.execute_workflow(w.Steps.run, args=[2, 0],
                                                     id=f"dropped-{n}", task_queue=task_queue)
                       for n in range(3)]
    finally:
        await silent.close()
    assert results == [w.expected_steps_result(2)] * 3
    assert any(work for _, _, work, _ in dropped), "the starts were never announced"


async def test_a_task_offered_to_a_worker_elsewhere_is_told_to_its_process_alone(
        db_url: str, peers: Peers) -> None:
    store = await PostgresStore.open(db_url)
    now = time.time()
    try:
        await peers.register(store)
        # A run that the worker "peer-1" (another process) ran last, asleep on a timer.
        run_id = await helpers.start(store, "sleeper", now)
        claim = await helpers.claim_one(store, now, worker="peer-1")
        assert (await helpers.complete(store, claim, [helpers.start_timer(1, 10)], now,
                                       worker="peer-1")).accepted
        assert await store.fire_due_timers(now + 10, 100) == 1
        await store.terminate_workflow("sleeper", None, "marker", [], "test", time.time())
        heard = peers.until_closed(run_id)
    finally:
        await store.close()
    affine = [(peer, line) for peer, lines in heard for line in lines
              if line.startswith("affine_task:")]
    assert affine == [("peer-1", "affine_task:peer-1")], heard
