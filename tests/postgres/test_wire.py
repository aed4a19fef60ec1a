"""The driver's statements on libpq's pipeline (``WireTx``): values as psycopg's cursors give
them, statements prepared on their second use, errors raised as psycopg raises them at the
sync that reads them, and a connection always handed back clean (or closed)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.errors
import pytest
from psycopg import pq

from stalwart._store.postgres.wire import WireTx, wire_query, wire_tx
from stalwart._store.tx import GuessRefuted
from tests.helpers.postgres import count_round_trips

from .conftest import admin_connect


@pytest.fixture
def conn(pg_schema: str) -> Iterator[psycopg.Connection[Any]]:
    with admin_connect() as connection:
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {pg_schema}")
        connection.execute(f"SET search_path TO {pg_schema}")
        connection.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        yield connection


def _clean(conn: psycopg.Connection[Any]) -> None:
    assert not conn.closed
    assert conn.pgconn.pipeline_status == pq.PipelineStatus.OFF
    assert conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
    assert conn.execute("SELECT 1").fetchone() == (1,)  # psycopg can use it again


def _write(conn: psycopg.Connection[Any], statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    with wire_tx(conn, begin=True) as tx:
        for sql, params in statements:
            tx.run(sql, params)
        tx.commit()


def test_question_marks_become_numbered_parameters() -> None:
    assert wire_query("SELECT ? + ?, 'a%b' WHERE k = ?") == b"SELECT $1 + $2, 'a%b' WHERE k = $3"


def test_values_come_back_as_a_psycopg_cursor_gives_them(conn: psycopg.Connection[Any]) -> None:
    params = (7, 2**40, -1.5, "naïve ✓", None, True, b"\x00\xff", [1, 2, 3], '{"a": [1]}')
    sql = ("SELECT ?::integer, ?::bigint, ?::double precision, ?::text, ?::text, ?::boolean, "
           "?::bytea, ?::integer[], ?::text")
    tx = WireTx(conn)
    try:
        # Three times: unprepared, then prepared, then prepared again.
        rows = [tx.one(sql, params) for _ in range(3)]
    finally:
        tx.close()
    expected = conn.execute(sql.replace("?", "%s"), params).fetchone()
    assert rows == [expected] * 3
    assert expected == (7, 2**40, -1.5, "naïve ✓", None, True, b"\x00\xff", [1, 2, 3],
                        '{"a": [1]}')
    _clean(conn)


def test_a_statement_is_prepared_on_its_second_use(conn: psycopg.Connection[Any]) -> None:
    def prepared() -> list[str]:
        return [row[0] for row in conn.execute(
            "SELECT statement FROM pg_prepared_statements WHERE name LIKE '\\_st%'")]

    _write(conn, [("INSERT INTO t (k, v) VALUES (?, ?)", (1, "a"))])
    assert prepared() == []
    _write(conn, [("INSERT INTO t (k, v) VALUES (?, ?)", (2, "b")),
                  ("INSERT INTO t (k, v) VALUES (?, ?)", (3, "c"))])
    assert prepared() == ["INSERT INTO t (k, v) VALUES ($1, $2)"]
    assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [
        (1, "a"), (2, "b"), (3, "c")]
    _clean(conn)


def test_an_error_is_raised_as_psycopg_raises_it_and_the_write_rolls_back(
        conn: psycopg.Connection[Any]) -> None:
    _write(conn, [("INSERT INTO t (k, v) VALUES (?, ?)", (1, "kept"))])
    with pytest.raises(psycopg.errors.UniqueViolation):
        _write(conn, [("INSERT INTO t (k, v) VALUES (?, ?)", (2, "rolled back")),
                      ("INSERT INTO t (k, v) VALUES (?, ?)", (1, "clash")),
                      ("INSERT INTO t (k, v) VALUES (?, ?)", (3, "never run"))])
    _clean(conn)
    assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [(1, "kept")]


def test_a_read_raises_at_once_and_the_transaction_goes_on_after_a_savepoint(
        conn: psycopg.Connection[Any]) -> None:
    # The shape a schedule's step uses to keep its earlier work when one start is refused.
    tx = WireTx(conn)
    try:
        tx.begin()
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (1, "before"))
        tx.run("SAVEPOINT s")
        with pytest.raises(psycopg.errors.UndefinedTable):
            tx.one("SELECT * FROM missing_table WHERE k = ?", (1,))
        tx.run("ROLLBACK TO SAVEPOINT s")
        tx.run("RELEASE SAVEPOINT s")
        assert tx.all("SELECT v FROM t") == [("before",)]
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (2, "after"))
        tx.commit()
    finally:
        tx.close()
    _clean(conn)
    assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [
        (1, "before"), (2, "after")]


def test_a_statement_that_fails_to_prepare_fails_alike_every_time(
        conn: psycopg.Connection[Any]) -> None:
    for _ in range(3):  # the second use is the one that prepares
        with pytest.raises(psycopg.errors.UndefinedColumn):
            _write(conn, [("UPDATE t SET nowhere = ? WHERE k = ?", ("x", 1))])
        _clean(conn)


def test_an_error_in_the_operation_itself_leaves_the_connection_clean(
        conn: psycopg.Connection[Any]) -> None:
    with pytest.raises(ZeroDivisionError), wire_tx(conn, begin=True) as tx:
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (1, "sent, never committed"))
        tx.later("SELECT k FROM t")  # sent, its rows never read
        raise ZeroDivisionError
    _clean(conn)
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (0,)


def test_counts_and_many_rows_in_one_pipeline(conn: psycopg.Connection[Any]) -> None:
    # Far more than the socket's buffers hold, each way: the driver reads while it sends.
    big = "x" * 2000
    tx = WireTx(conn)
    try:
        tx.begin()
        tx.many("INSERT INTO t (k, v) VALUES (?, ?)", ((k, big) for k in range(20_000)))
        assert tx.count("UPDATE t SET v = ? WHERE k % 2 = 0", ("even",)) == 10_000
        tx.commit()
    finally:
        tx.close()
    _clean(conn)
    assert conn.execute("SELECT count(*), count(*) FILTER (WHERE v = 'even') FROM t"
                        ).fetchone() == (20_000, 10_000)


def test_a_connection_killed_mid_transaction_is_closed_not_reused(
        conn: psycopg.Connection[Any], pg_schema: str) -> None:
    pid = conn.info.backend_pid
    with pytest.raises(psycopg.OperationalError) as raised, wire_tx(conn, begin=True) as tx:
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (1, "lost"))
        with admin_connect() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        tx.one("SELECT count(*) FROM t")
    assert raised.value.sqlstate in (None, "57P01")
    assert conn.closed
    with admin_connect() as admin:
        assert admin.execute(f"SELECT count(*) FROM {pg_schema}.t").fetchone() == (0,)


def test_rows_of_a_statement_skipped_after_an_error_are_refused_clearly(
        conn: psycopg.Connection[Any]) -> None:
    tx = WireTx(conn)
    try:
        tx.begin()
        failing = tx.later("SELECT * FROM missing_table")
        skipped = tx.later("SELECT 1")
        with pytest.raises(psycopg.errors.UndefinedTable):
            failing.all()
        with pytest.raises(psycopg.errors.InFailedSqlTransaction, match="earlier statement"):
            skipped.all()
        tx.abandon()
    finally:
        tx.close()
    _clean(conn)


def test_an_assumption_that_holds_costs_no_round_trip_of_its_own(
        conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    syncs = count_round_trips(monkeypatch)
    with wire_tx(conn, begin=True) as tx:
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (1, "a"))
        tx.assume_none("SELECT 1 FROM t WHERE k = ?", (2,))
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (2, "b"))
        tx.commit()
    assert syncs[0] == 1  # the commit's
    assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,), (2,)]
    _clean(conn)


def test_a_refuted_assumption_rolls_back_all_of_its_transaction(
        conn: psycopg.Connection[Any]) -> None:
    _write(conn, [("INSERT INTO t (k, v) VALUES (?, ?)", (1, "a"))])
    with pytest.raises(GuessRefuted), wire_tx(conn, begin=True) as tx:
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (2, "b"))
        # Seen as it stands among the statements: the row inserted just before counts.
        tx.assume_none("SELECT 1 FROM t WHERE k = ?", (2,))
        tx.run("INSERT INTO t (k, v) VALUES (?, ?)", (3, "c"))
        tx.commit()
    assert conn.execute("SELECT k FROM t ORDER BY k").fetchall() == [(1,)]
    _clean(conn)
    # A real error of the same class is not mistaken for a refuted guess.
    with pytest.raises(psycopg.errors.InvalidTextRepresentation), \
            wire_tx(conn, begin=True) as tx:
        tx.run("SELECT CAST(? AS integer)", ("seven",))
        tx.commit()
    _clean(conn)
