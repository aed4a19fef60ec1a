"""Deferred writes on PostgreSQL: held back, sent as one statement, each seeing the rows as they
were before them all, and always sent before the next statement and before the commit."""

from __future__ import annotations

from stalwart._store.postgres import PostgresStore
from stalwart._store.postgres.wire import WireTx, joined
from stalwart._store.tx import Tx

from .conftest import admin_connect


def _move_and_read(tx: Tx, key: int) -> tuple[list[int], list[int]]:
    # The copy reads ``a`` as it was before the DELETE, and the DELETE does not see the row
    # inserted with it: as on SQLite, where they run one after another in this order.
    tx.defer("INSERT INTO b SELECT k FROM a")
    tx.defer("DELETE FROM a")
    tx.defer("INSERT INTO a (k) VALUES (?)", (key,))
    assert isinstance(tx, WireTx) and len(tx.deferred) >= 3  # held back so far
    a = [row[0] for row in tx.all("SELECT k FROM a ORDER BY k")]
    b = [row[0] for row in tx.all("SELECT k FROM b ORDER BY k")]
    assert not tx.deferred
    # Sent with the commit, nothing reading it first.
    tx.defer("INSERT INTO b (k) VALUES (?)", (key + 1,))
    return a, b


def _two_steps(tx: Tx) -> list[tuple[list[int], list[int]]]:
    # As two operations sharing one group-committed transaction: the first one's last
    # deferred write goes out with the second one's first ones.
    return [_move_and_read(tx, 10), _move_and_read(tx, 20)]


async def test_deferred_writes_go_out_as_one_statement_before_the_next_read_and_the_commit(
        db_url: str, pg_schema: str) -> None:
    store = await PostgresStore.open(db_url)
    try:
        with admin_connect() as conn:
            conn.execute(f"CREATE TABLE {pg_schema}.a (k INTEGER PRIMARY KEY)")
            conn.execute(f"CREATE TABLE {pg_schema}.b (k INTEGER PRIMARY KEY)")
            conn.execute(f"INSERT INTO {pg_schema}.a VALUES (1)")
        first, second = await store._driver.write(_two_steps)
        with admin_connect() as conn:
            a = [row[0] for row in conn.execute(f"SELECT k FROM {pg_schema}.a ORDER BY k")]
            b = [row[0] for row in conn.execute(f"SELECT k FROM {pg_schema}.b ORDER BY k")]
    finally:
        await store.close()
    assert first == ([10], [1])
    assert second == ([20], [1, 10, 11])
    assert a == [20]
    assert b == [1, 10, 11, 21]


def test_joined_statement_names_each_write() -> None:
    assert joined(["DELETE FROM a", "INSERT INTO b VALUES (1)", "UPDATE c SET x = 1"]) == (
        "WITH w0 AS (DELETE FROM a), w1 AS (INSERT INTO b VALUES (1)) UPDATE c SET x = 1")
