"""The PostgreSQL store itself: URLs, schema migration, cross-process wakeups, retention."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from stalwart._engine.liveness import HOST, process_start_time
from stalwart._store import open_store
from stalwart._store.base import ExecutionStatus, StartWorkflowRequest, WorkerRow
from stalwart._store.postgres import PostgresStore
from stalwart._store.postgres.connection import Announcer, parse_url
from stalwart._store.schema import SCHEMA_VERSION, migrations
from stalwart.client import Client
from stalwart.exceptions import StoreError
from stalwart.worker import Worker
from tests.helpers.postgres import (
    WRITER_THREADS,
    collect_refuted_guesses,
    count_round_trips,
    server_url,
)

from . import workflows as w
from .conftest import admin_connect


def _request(workflow_id: str, task_queue: str = "q") -> StartWorkflowRequest:
    return StartWorkflowRequest(workflow_id=workflow_id, workflow_type="Steps",
                                task_queue=task_queue, input=[], run_id=f"run-{workflow_id}",
                                random_seed=1)


async def _worker_here(store: PostgresStore, task_queue: str) -> None:
    """A worker row of this process: ready tasks of its queue are told to this process."""
    await store.register_worker(WorkerRow(
        worker_id=f"here-{task_queue}", identity="here", task_queue=task_queue, host=HOST,
        pid=os.getpid(), pid_start=process_start_time(os.getpid()), heartbeat_at=time.time()))


def test_store_url_options_are_parsed_and_libpq_ones_passed_on() -> None:
    options = parse_url("postgresql://me:secret@db:6432/app?schema=tenant_1&pool_size=4"
                        "&sslmode=disable")
    assert options.schema == "tenant_1"
    assert options.pool_size == 4
    assert "sslmode=disable" in options.conninfo
    assert "schema=" not in options.conninfo and "pool_size" not in options.conninfo
    assert "secret" not in options.where
    assert parse_url("postgres://db/app").schema == "stalwart"


async def test_store_url_attribute_hides_the_password() -> None:
    url = "postgresql://app:s3cret@db.internal:5432/prod?schema=tenant"
    store = PostgresStore(url, parse_url(url))  # not opened: nothing to connect to
    try:
        assert "s3cret" not in store.url
        assert store.url == "postgresql://app:***@db.internal:5432/prod?schema=tenant"
    finally:
        await store.close()


@pytest.mark.parametrize("query", ["schema=Bad-Name", "schema=", "pool_size=1",
                                   "pool_size=many"])
def test_store_url_bad_options_are_refused_with_the_reason(query: str) -> None:
    with pytest.raises(ValueError, match=r"schema|pool_size"):
        parse_url(f"postgresql://db/app?{query}")


async def test_store_unreachable_server_raises_store_error() -> None:
    with pytest.raises(StoreError, match="connecting"):
        await Client.connect("postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2")


async def test_store_selected_by_stalwart_url(monkeypatch: pytest.MonkeyPatch,
                                              db_url: str) -> None:
    monkeypatch.setenv("STALWART_URL", db_url)
    client = await Client.connect()
    try:
        assert isinstance(client.store, PostgresStore)
    finally:
        await client.close()


async def test_store_concurrent_first_connects_migrate_once(db_url: str,
                                                            pg_schema: str) -> None:
    stores = await asyncio.gather(*(PostgresStore.open(db_url) for _ in range(6)))
    try:
        with admin_connect() as conn:
            rows = conn.execute(f"SELECT key, value FROM {pg_schema}.stalwart_meta "
                                "ORDER BY key").fetchall()
        applied = [(f"migration:{number:04d}", "applied") for number, _ in migrations()]
        assert rows == [("application", "stalwart"), *applied,
                        ("schema_version", str(SCHEMA_VERSION))]
        # All of them work on the one schema.
        await stores[0].start_workflow(_request("shared"), time.time())
        assert (await stores[5].get_execution("shared", None)) is not None
    finally:
        for store in stores:
            await store.close()


async def test_store_refuses_a_schema_of_another_application(db_url: str,
                                                             pg_schema: str) -> None:
    with admin_connect() as conn:
        conn.execute(f"CREATE SCHEMA {pg_schema}")
        conn.execute(f"CREATE TABLE {pg_schema}.executions (id INTEGER)")
    with pytest.raises(StoreError, match="another application"):
        await open_store(db_url)


async def test_store_refuses_a_newer_schema_version(db_url: str, pg_schema: str) -> None:
    store = await PostgresStore.open(db_url)
    await store.close()
    with admin_connect() as conn:
        conn.execute(f"UPDATE {pg_schema}.stalwart_meta SET value = '999' "
                     "WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="upgrade Stalwart"):
        await PostgresStore.open(db_url)


async def test_store_commit_wakes_a_store_of_another_connection_set(db_url: str) -> None:
    # Two stores share nothing in-process, like two processes: only NOTIFY can wake B. Ready
    # tasks are told to processes with a worker on their queue: this one has one.
    store_a = await PostgresStore.open(db_url)
    store_b = await PostgresStore.open(db_url)
    try:
        await _worker_here(store_b, "wake-q")
        sub = store_b.subscribe(("workflow_task", "wake-q"))
        await store_a.start_workflow(_request("wake", "wake-q"), time.time())
        assert await sub.wait(30), "store B never heard store A's commit"
        sub.close()
        closed = store_b.subscribe(("closed", "run-wake"))
        await store_a.terminate_workflow("wake", None, "done", [], "test", time.time())
        assert await closed.wait(30)
        closed.close()
        row = await store_b.get_execution("wake", None)
        assert row is not None and row.status == ExecutionStatus.TERMINATED
    finally:
        await store_a.close()
        await store_b.close()


async def test_store_retention_deletes_closed_runs_only(client: Client, task_queue: str,
                                                        pg_schema: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[w.Steps, w.Sleeper],
                      activities=[w.square]):
        for n in range(3):
            await client.execute_workflow(w.Steps.run, args=[2, 0], id=f"old-{n}",
                                          task_queue=task_queue)
        await client.start_workflow(w.Sleeper.run, id="still-open", task_queue=task_queue)
        store = client.store
        before = await store.status()
        assert before["closed_runs"] == 3 and before["open_runs"] == 1
        assert await store.delete_closed_runs(time.time() + 1, limit=2) == 2
        assert await store.delete_closed_runs(time.time() + 1, limit=2) == 1
        after = await store.status()
        assert after["closed_runs"] == 0 and after["open_runs"] == 1
        assert await store.get_execution("old-0", None) is None
        with psycopg.connect(client.store.url.split("?")[0]) as conn:
            leftovers = conn.execute(
                f"SELECT COUNT(*) FROM {pg_schema}.history h WHERE NOT EXISTS (SELECT 1 FROM "
                f"{pg_schema}.executions e WHERE e.run_id = h.run_id)").fetchone()
        assert leftovers == (0,)
        await client.get_workflow_handle("still-open").terminate()


async def test_prefix_ranges_compare_by_code_point_in_a_database_of_another_collation() -> None:
    # In an ICU en-US database "aB-2" sorts between "ab" and "ab" + U+10FFFF; compared by code
    # point (COLLATE "C") it does not, and neither prefix filter may list it.
    name = f"stalwart_collation_{uuid.uuid4().hex[:8]}"
    with admin_connect() as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu "
                     "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
    try:
        url = urlunparse(urlparse(server_url())._replace(path=f"/{name}", query=""))
        store = await open_store(url)
        try:
            now = time.time()
            for workflow_id in ("ab-1", "aB-2", "ab", "a-b", "abé"):
                await store.start_workflow(_request(workflow_id), now)
            listed = await store.list_executions(workflow_id_prefix="ab")
            filtered = await store.list_workflows("WorkflowId STARTS_WITH 'ab'", 100, 0)
        finally:
            await store.close()
    finally:
        with admin_connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    assert sorted(r.workflow_id for r in listed) == ["ab", "ab-1", "abé"]
    assert sorted(r.workflow_id for r in filtered) == ["ab", "ab-1", "abé"]


def test_wake_ups_are_split_to_fit_the_notify_payload_limit() -> None:
    announcer = Announcer(parse_url(server_url()), "origin")
    try:
        keys = {("activity_task", f"queue-{n:05d}-{'x' * 40}") for n in range(400)}
        payloads = announcer.payloads(keys, 12.5)
        assert len(payloads) > 1
        assert all(len(p.encode()) <= 7000 and p.startswith("origin\n") for p in payloads)
        lines = [line for p in payloads for line in p.split("\n")[1:]]
        assert sorted(lines) == sorted([f"{k}:{v}" for k, v in keys] + ["due:12.5"])
        # One key too long for any payload still wakes everyone.
        [alone] = announcer.payloads({("workflow_task", "q" * 8000)}, float("inf"))
        assert alone == "origin\nexternal:"
    finally:
        announcer.close()


def test_tasks_addressed_to_a_process_are_split_to_fit_the_notify_payload_limit() -> None:
    announcer = Announcer(parse_url(server_url()), "origin")
    try:
        lines = [f"work:1:0:activity_task:queue-{n:05d}-{'x' * 40}" for n in range(400)]
        # A queue name too long for any payload is left to the pollers' periodic look.
        payloads = announcer._split([*lines, "work:1:0:activity_task:" + "q" * 8000])
        assert len(payloads) > 1
        assert all(len(p.encode()) <= 7000 and p.startswith("origin\n") for p in payloads)
        assert [line for p in payloads for line in p.split("\n")[1:]] == lines
    finally:
        announcer.close()


async def test_a_write_wakes_another_process_store_after_its_commit(
        postgres_server: str, pg_schema: str) -> None:
    url = f"{postgres_server}?schema={pg_schema}"
    writer, other = await PostgresStore.open(url), await PostgresStore.open(url)
    try:
        await _worker_here(other, "wake-q")
        sub = other.subscribe(("workflow_task", "wake-q"))
        await writer.start_workflow(StartWorkflowRequest(
            workflow_id="wake", workflow_type="W", task_queue="wake-q", input=[],
            run_id="wake-run", random_seed=1), time.time())
        assert await sub.wait(30), "the other store was not woken"
        # Woken after the commit: what woke it is there to be seen.
        row = await other.get_execution("wake", None)
        assert row is not None and row.run_id == "wake-run"
        sub.close()
    finally:
        await writer.close()
        await other.close()


async def test_a_start_admitted_by_guessing_costs_one_round_trip_and_a_wrong_guess_none(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A new workflow id is guessed free and checked with the writes (one round trip); a
    guess the server refutes is rolled back and the start decided as it always was."""
    from stalwart import exceptions as exc

    syncs = count_round_trips(monkeypatch, threads=WRITER_THREADS)
    store = await PostgresStore.open(db_url)
    try:
        syncs[0] = 0
        first = _request("guessed")
        assert (await store.start_workflow(first, time.time())).started
        assert syncs[0] == 1
        # The id is taken by an open run: refuted, then refused as before.
        again = _request("guessed")
        again.run_id = "run-guessed-2"
        with pytest.raises(exc.WorkflowAlreadyStartedError):
            await store.start_workflow(again, time.time())
        await store.terminate_workflow("guessed", None, "done", [], "test", time.time())
        # Closed: allowed again by the default policy, in one round trip; forbidden by
        # REJECT_DUPLICATE, whose guess (no run at all) the closed run refutes.
        syncs[0] = 0
        assert (await store.start_workflow(again, time.time())).started
        assert syncs[0] == 1
        await store.terminate_workflow("guessed", None, "done", [], "test", time.time())
        rejected = _request("guessed")
        rejected.run_id, rejected.id_reuse_policy = "run-guessed-3", 3
        with pytest.raises(exc.WorkflowAlreadyStartedError):
            await store.start_workflow(rejected, time.time())
        runs = await store.list_executions()
        assert sorted((r.run_id, r.status) for r in runs if r.workflow_id == "guessed") == [
            ("run-guessed", ExecutionStatus.TERMINATED),
            ("run-guessed-2", ExecutionStatus.TERMINATED)]
        # A policy that expects an open run reads first: no guess for the server to refute.
        refuted = collect_refuted_guesses(monkeypatch)
        assert (await store.start_workflow(_request("entity"), time.time())).started
        existing = _request("entity")
        existing.run_id, existing.id_conflict_policy = "run-entity-2", 2  # USE_EXISTING
        used = await store.start_workflow(existing, time.time())
        assert (used.started, used.run_id) == (False, "run-entity")
        assert refuted == []
    finally:
        await store.close()
