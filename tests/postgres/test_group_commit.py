"""Group commit on PostgreSQL: concurrent writes share transactions, each keeps its own outcome."""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest

from stalwart._store.postgres import PostgresStore
from stalwart._store.tx import Tx
from stalwart.exceptions import StoreError

from .conftest import admin_connect

COUNT = 200
FAILS_IN_PYTHON = 57
FAILS_IN_SQL = 131


class Refused(Exception):
    pass


def _insert(tx: Tx, key: int) -> int:
    tx.run("INSERT INTO scratch (key) VALUES (?)", (key,))
    if key == FAILS_IN_PYTHON:
        # After its write: the write must not survive, nor take its batch's neighbours down.
        raise Refused(f"refused {key}")
    if key == FAILS_IN_SQL:
        tx.run("INSERT INTO scratch (key) VALUES (?)", (key,))  # duplicate primary key
    tx.wake("scratch", str(key))
    return key


async def test_concurrent_writes_share_commits_and_each_gets_its_own_outcome(
        db_url: str, pg_schema: str) -> None:
    store = await PostgresStore.open(db_url)  # creates the schema
    try:
        with admin_connect() as conn:
            conn.execute(f"CREATE TABLE {pg_schema}.scratch (key INTEGER PRIMARY KEY)")
        sub = store.subscribe(("scratch", "3"))
        outcomes = await asyncio.gather(
            *(store._driver.write(_insert, key) for key in range(COUNT)),
            return_exceptions=True)
        assert await sub.wait(10), "a committed write did not wake its subscriber"
        sub.close()
    finally:
        await store.close()

    expected: list[Any] = list(range(COUNT))
    assert [o for i, o in enumerate(outcomes) if i not in (FAILS_IN_PYTHON, FAILS_IN_SQL)] == \
        [k for k in expected if k not in (FAILS_IN_PYTHON, FAILS_IN_SQL)]
    assert isinstance(outcomes[FAILS_IN_PYTHON], Refused)
    assert isinstance(outcomes[FAILS_IN_SQL], psycopg.errors.UniqueViolation | StoreError)

    with admin_connect() as conn:
        keys = [r[0] for r in conn.execute(f"SELECT key FROM {pg_schema}.scratch ORDER BY key")]
        transactions = conn.execute(
            f"SELECT count(DISTINCT xmin::text) FROM {pg_schema}.scratch").fetchone()[0]
    assert keys == [k for k in expected if k not in (FAILS_IN_PYTHON, FAILS_IN_SQL)]
    # Rows inserted by one transaction share its xmin: fewer transactions than writes.
    assert transactions < len(keys)


async def test_a_write_after_close_is_refused(db_url: str) -> None:
    store = await PostgresStore.open(db_url)
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store._driver.write(_insert, 1)


GUESSES = 60
REFUTED = 23


def _guessing_insert(tx: Tx, key: int) -> tuple[int, bool]:
    """Inserts ``key``, guessing (where it may) that no row has it yet; ``REFUTED`` is
    inserted twice in one batch's worth of writes, so its second guess is wrong."""
    if tx.guessing:
        tx.assume_none("SELECT 1 FROM scratch WHERE key = ?", (key,))
    elif tx.one("SELECT 1 FROM scratch WHERE key = ?", (key,)) is not None:
        return key, False
    tx.run("INSERT INTO scratch (key) VALUES (?)", (key,))
    return key, True


async def test_a_refuted_guess_reruns_its_batch_without_guessing(
        db_url: str, pg_schema: str) -> None:
    store = await PostgresStore.open(db_url)
    try:
        with admin_connect() as conn:
            conn.execute(f"CREATE TABLE {pg_schema}.scratch (key INTEGER PRIMARY KEY)")
        keys = [*range(GUESSES), REFUTED]
        outcomes = await asyncio.gather(*(store._driver.write(_guessing_insert, key)
                                          for key in keys))
    finally:
        await store.close()
    # Every write got its own outcome: each key inserted once, the repeated one refused by
    # its read (whether it met the first in a batch, where its guess was refuted, or after).
    # Batches commit on several threads, so either of the two writes of REFUTED may be the
    # one that lands: exactly one does.
    assert [o for k, o in enumerate(outcomes[:GUESSES]) if k != REFUTED] == \
        [(key, True) for key in range(GUESSES) if key != REFUTED]
    assert sorted([outcomes[REFUTED], outcomes[GUESSES]]) == [(REFUTED, False),
                                                              (REFUTED, True)]
    with admin_connect() as conn:
        assert [r[0] for r in conn.execute(
            f"SELECT key FROM {pg_schema}.scratch ORDER BY key")] == list(range(GUESSES))
