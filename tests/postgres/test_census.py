"""A store that nobody else listens to tells nobody anything; a store that arrives later still
hears every commit of the ones that have not counted it yet.

Each store names its LISTEN connection in ``pg_stat_activity`` and counts the others about
once a second (``Announcer.alone``). These tests run real stores on a real server; "another
process" is a second store, which shares nothing in-process with the first.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from stalwart._store import wakeup
from stalwart._store.base import ExecutionStatus, StartWorkflowRequest
from stalwart._store.postgres import PostgresStore, connection
from stalwart._store.postgres import announcer as announcing
from tests.helpers.postgres import with_schema
from tests.helpers.waiting import eventually

from .conftest import admin_connect


def _request(workflow_id: str) -> StartWorkflowRequest:
    return StartWorkflowRequest(workflow_id=workflow_id, workflow_type="Steps", task_queue="q",
                                input=[], run_id=f"run-{workflow_id}", random_seed=1)


def _record_announcements(store: PostgresStore, monkeypatch: pytest.MonkeyPatch
                          ) -> list[Any]:
    announcer = store._db.announcer
    sent: list[Any] = []
    add = announcer.add

    def recording(*args: Any) -> None:
        sent.append(args)
        add(*args)
    monkeypatch.setattr(announcer, "add", recording)
    return sent


async def _census_says(store: PostgresStore, alone: bool) -> None:
    async def agrees() -> bool:
        return store._db.announcer.alone is alone
    await eventually(agrees, timeout=15, what=f"the census to say alone={alone}")


async def test_a_store_alone_announces_nothing_until_another_store_listens(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await PostgresStore.open(db_url)
    second: PostgresStore | None = None
    try:
        await _census_says(first, True)
        sent = _record_announcements(first, monkeypatch)
        await first.start_workflow(_request("alone"), time.time())
        await first.terminate_workflow("alone", None, "done", [], "test", time.time())
        assert sent == []

        second = await PostgresStore.open(db_url)
        await _census_says(first, False)
        closed = second.subscribe(("closed", "run-heard"))
        await first.start_workflow(_request("heard"), time.time())
        await first.terminate_workflow("heard", None, "done", [], "test", time.time())
        assert await closed.wait(30), "the second store never heard the close"
        closed.close()
        assert any(("closed", "run-heard") in keys for keys, *_ in sent), sent
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_a_store_of_another_schema_does_not_count(db_url: str, postgres_server: str
                                                         ) -> None:
    other_schema = "test_census_other"
    here = await PostgresStore.open(db_url)
    elsewhere = await PostgresStore.open(with_schema(postgres_server, other_schema))
    try:
        await _census_says(here, True)
        await _census_says(elsewhere, True)
    finally:
        await here.close()
        await elsewhere.close()
        with admin_connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {other_schema} CASCADE")


async def test_a_newcomer_hears_a_store_whose_census_has_not_counted_it(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The first store counts once and never again: only the newcomer's hello can tell it that
    # it is no longer alone. The newcomer's fallback look (every LOOK_AGAIN_SECONDS) is put out
    # of reach, so only a notification can wake it.
    first = await PostgresStore.open(db_url)
    second: PostgresStore | None = None
    try:
        await _census_says(first, True)
        monkeypatch.setattr(announcing, "CENSUS_REFRESH_SECONDS", 3600.0)
        monkeypatch.setattr(wakeup, "LOOK_AGAIN_SECONDS", 3600.0)
        await first.start_workflow(_request("late"), time.time())

        second = await PostgresStore.open(db_url)
        # Open means every store that listened before has answered the hello.
        assert first._db.announcer.alone is False
        closed = second.subscribe(("closed", "run-late"))
        row = await second.get_execution("late", None)
        assert row is not None and row.status == ExecutionStatus.RUNNING
        await first.terminate_workflow("late", None, "done", [], "test", time.time())
        assert await closed.wait(30), "the newcomer never heard the close"
        closed.close()
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_a_hello_heard_during_a_census_keeps_the_store_from_being_alone(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await PostgresStore.open(db_url)
    try:
        await _census_says(store, True)
        announcer = store._db.announcer
        count = announcing.others_listening
        counted = asyncio.Event()
        loop = asyncio.get_running_loop()

        def hello_meanwhile(conn: Any, schema: str, origin: str) -> bool:
            # Nobody else listened when the server was asked; a hello arrives before the
            # answer is used: the store must not conclude it is alone.
            alone = count(conn, schema, origin)
            announcer.greeted("newcomer")
            loop.call_soon_threadsafe(counted.set)
            return alone
        monkeypatch.setattr(announcing, "others_listening", hello_meanwhile)
        monkeypatch.setattr(announcing, "CENSUS_REFRESH_SECONDS", 0.0)
        with announcer._cond:
            announcer._cond.notify()
        await asyncio.wait_for(counted.wait(), 30)
        assert announcer.alone is False
    finally:
        await store.close()


async def test_a_store_that_never_answers_does_not_keep_a_newcomer_from_opening(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    first = await PostgresStore.open(db_url)
    monkeypatch.setattr(first._db.announcer, "_take_answers", lambda: [])
    second: PostgresStore | None = None
    try:
        second = await PostgresStore.open(db_url)
        assert second._db._arrival is not None and second._db._arrival.late
        # The silent store was told all the same: it announces from now on.
        assert first._db.announcer.alone is False
    finally:
        await first.close()
        if second is not None:
            await second.close()


async def test_announce_always_tells_other_processes_with_nobody_counted(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = await PostgresStore.open(db_url + "&announce=always")
    try:
        # Counted often: the store would have found itself alone by now.
        monkeypatch.setattr(announcing, "CENSUS_REFRESH_SECONDS", 0.0)
        sent = _record_announcements(store, monkeypatch)
        await store.start_workflow(_request("told"), time.time())
        await store.terminate_workflow("told", None, "done", [], "test", time.time())
        assert store._db.announcer.alone is False
        assert any(("closed", "run-told") in keys for keys, *_ in sent), sent
    finally:
        await store.close()


def test_announce_takes_auto_or_always() -> None:
    assert connection.parse_url("postgresql://h/db").announce == "auto"
    assert connection.parse_url("postgresql://h/db?announce=always").announce == "always"
    with pytest.raises(ValueError, match="announce='never' must be 'auto'"):
        connection.parse_url("postgresql://h/db?announce=never")
