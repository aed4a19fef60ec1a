"""Opening a store file: migrations, concurrent first opens, and files that are not ours."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from stalwart._store import open_store
from stalwart._store.schema import SCHEMA_VERSION, migrations
from stalwart._store.sqlite.store import SqliteStore
from stalwart.exceptions import StoreError

from .helpers import T0, count_file_rows, start

_OPEN_ON_SIGNAL = """
import asyncio, pathlib, sys, time
from stalwart._store import open_store

ready, go, url = sys.argv[1:4]
pathlib.Path(ready).touch()
deadline = time.monotonic() + 30
while not pathlib.Path(go).exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.001)

async def main() -> None:
    store = await open_store(url)
    await store.close()

asyncio.run(main())
"""


def _tables(path: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))
    finally:
        conn.close()


def _meta(path: str) -> dict[str, str]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT key, value FROM stalwart_meta").fetchall())
    finally:
        conn.close()


async def test_open_twice_migrates_once_and_keeps_data(db_path: str) -> None:
    url = f"sqlite:///{db_path}"
    first = await open_store(url)
    assert isinstance(first, SqliteStore)
    try:
        await start(first, "wf-1")
    finally:
        await first.close()
    tables = _tables(db_path)

    second = await open_store(url)
    try:
        execution = await second.get_execution("wf-1", None)
    finally:
        await second.close()

    assert execution is not None
    assert _tables(db_path) == tables
    assert _meta(db_path) == {"schema_version": str(SCHEMA_VERSION), "application": "stalwart",
                              **{f"migration:{number:04d}": "applied"
                                 for number, _ in migrations()}}
    assert count_file_rows(db_path, "executions") == 1


async def test_open_store_two_processes_migrate_new_file_at_once(tmp_path: Path) -> None:
    db_path = tmp_path / "shared.db"
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(4)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _OPEN_ON_SIGNAL, str(r), str(go), f"sqlite:///{db_path}",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        for r in ready
    ]
    try:
        # Release them together once all are up, so their migrations really overlap.
        deadline = time.monotonic() + 30
        while not all(r.exists() for r in ready):
            assert time.monotonic() < deadline, "child processes did not start"
            assert all(p.returncode is None for p in processes), "a child exited early"
            await asyncio.sleep(0.005)
        go.touch()
        outcomes = []
        for p in processes:
            _, stderr = await asyncio.wait_for(p.communicate(), 60)
            outcomes.append((p.returncode, stderr.decode()))
    finally:
        for p in processes:
            if p.returncode is None:
                p.kill()
                await p.communicate()

    assert [code for code, _ in outcomes] == [0] * len(processes), outcomes
    assert _meta(str(db_path)) == {"schema_version": str(SCHEMA_VERSION),
                                   "application": "stalwart",
                                   **{f"migration:{number:04d}": "applied"
                                      for number, _ in migrations()}}
    store = await open_store(f"sqlite:///{db_path}")
    try:
        await start(store, "after-race")
    finally:
        await store.close()
    assert count_file_rows(str(db_path), "executions") == 1


async def test_open_store_rejects_non_sqlite_file_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 100)

    with pytest.raises(StoreError) as caught:
        await open_store(f"sqlite:///{path}")

    assert str(path) in str(caught.value)
    assert "not a SQLite database" in str(caught.value)
    assert path.read_text().startswith("these are my notes")


async def test_open_store_rejects_sqlite_file_of_another_application(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()

    with pytest.raises(StoreError) as caught:
        await open_store(f"sqlite:///{path}")

    message = str(caught.value)
    assert str(path) in message
    assert "another application" in message
    assert "users" in message
    assert _tables(str(path)) == ["users"]


async def test_open_store_rejects_newer_schema(db_path: str) -> None:
    store = await open_store(f"sqlite:///{db_path}")
    await store.close()
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE stalwart_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()

    with pytest.raises(StoreError, match=r"schema version 99, newer"):
        await open_store(f"sqlite:///{db_path}")


async def test_open_store_rejects_directory_and_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        await open_store(f"sqlite:///{tmp_path}")
    with pytest.raises(StoreError, match="does not exist"):
        await open_store(f"sqlite:///{tmp_path / 'missing' / 'store.db'}")


@pytest.mark.parametrize(("url", "match"), [
    ("mysql://localhost/db", "not understood"),
    ("sqlite:///", "names no file"),
    ("sqlite:///x.db?synchronous=OFF", "synchronous='OFF'"),
])
async def test_open_store_bad_url_is_explained(url: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        await open_store(url)


async def test_open_store_empty_file_is_initialised(db_path: str) -> None:
    Path(db_path).touch()

    store = await open_store(f"sqlite:///{db_path}")
    try:
        assert await start(store, "wf-1") == "run-wf-1"
    finally:
        await store.close()
    assert _meta(db_path)["application"] == "stalwart"


async def test_closed_store_refuses_writes(db_path: str) -> None:
    store = await open_store(f"sqlite:///{db_path}")
    await store.close()

    with pytest.raises(StoreError, match="closed"):
        await start(store, "wf-1", now=T0)
