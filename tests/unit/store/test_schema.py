"""One schema history: after migrating, SQLite and PostgreSQL hold the same tables, columns,
keys and indexes (types compared by kind: the two databases spell them differently)."""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

import pytest

from stalwart._store import open_store, schema
from stalwart._store.schema import SCHEMA_VERSION, migrations, statements
from stalwart._store.sqlite.connection import migrate as sqlite_migrate
from stalwart._store.tx import SQLITE
from tests.helpers.postgres import admin_connect, fresh_schema_url

# (table, column) -> (kind, not null); table -> primary key columns; index -> its shape.
Schema = tuple[dict[tuple[str, str], tuple[str, bool]], dict[str, tuple[str, ...]],
               dict[str, tuple[str, tuple[str, ...], bool, bool]]]

_KINDS = {"text": "text", "integer": "integer", "bigint": "integer", "double precision": "real",
          "real": "real", "boolean": "boolean", "blob": "bytes", "bytea": "bytes"}


def _kind(declared: str) -> str:
    kind = _KINDS.get(declared.lower())
    assert kind is not None, f"a column type outside the shared vocabulary: {declared!r}"
    return kind


def _sqlite_schema(path: str) -> Schema:
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'")]
        columns: dict[tuple[str, str], tuple[str, bool]] = {}
        keys: dict[str, tuple[str, ...]] = {}
        for table in tables:
            info = conn.execute(f"PRAGMA table_info({table})").fetchall()
            for _, name, declared, notnull, _default, pk in info:
                columns[(table, name)] = (_kind(declared), bool(notnull) or pk > 0)
            keys[table] = tuple(r[1] for r in sorted((r for r in info if r[5]),
                                                     key=lambda r: r[5]))
        indexes = {}
        for name, table, sql in conn.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
                "AND sql IS NOT NULL"):
            cols = tuple(r[2] for r in conn.execute(f"PRAGMA index_info({name})"))
            indexes[name] = (table, cols, "UNIQUE" in sql.upper().split("INDEX")[0],
                             " WHERE " in sql.upper())
        return columns, keys, indexes
    finally:
        conn.close()


def _postgres_schema(schema: str) -> Schema:
    with admin_connect() as conn:
        columns = {(r[0], r[1]): (_kind(r[2]), r[3] == "NO") for r in conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM "
            "information_schema.columns WHERE table_schema = %s", (schema,))}
        keys: dict[str, tuple[str, ...]] = {}
        for table, key in conn.execute(
                "SELECT c.relname, array_agg(a.attname ORDER BY k.ord) FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum "
                "WHERE n.nspname = %s AND i.indisprimary GROUP BY c.relname", (schema,)):
            keys[table] = tuple(key)
        for table in {table for table, _ in columns}:
            keys.setdefault(table, ())
        indexes = {}
        for name, table, definition in conn.execute(
                "SELECT indexname, tablename, indexdef FROM pg_indexes WHERE schemaname = %s "
                "AND indexname NOT LIKE '%%_pkey'", (schema,)):
            shape = re.search(r"\((.*?)\)(?: WHERE (.*))?$", definition)
            assert shape is not None, definition
            cols = tuple(c.strip() for c in shape.group(1).split(","))
            indexes[name] = (table, cols, definition.startswith("CREATE UNIQUE"),
                             shape.group(2) is not None)
        return columns, keys, indexes


async def test_both_databases_migrate_to_the_same_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "schema.db")
    store = await open_store(f"sqlite:///{path}")
    await store.close()
    with fresh_schema_url() as url:
        store = await open_store(url)
        await store.close()
        schema = dict(re.findall(r"[?&](schema)=([a-z0-9_]+)", url))["schema"]
        postgres = _postgres_schema(schema)
    sqlite = _sqlite_schema(path)

    assert sorted(postgres[0]) == sorted(sqlite[0])  # the same tables and columns
    assert postgres[0] == sqlite[0]  # of the same kinds and nullability
    assert postgres[1] == sqlite[1]  # the same primary keys
    assert sorted(postgres[2]) == sorted(sqlite[2])  # the same index names
    assert postgres[2] == sqlite[2]  # on the same columns, unique and partial alike


def test_migrations_are_numbered_in_order_without_duplicates() -> None:
    numbers = [number for number, _ in migrations()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    assert numbers[-1] == SCHEMA_VERSION


def test_a_migration_numbered_below_the_schema_version_still_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two lines of development, each with its migration, merged in the other order than they
    # were numbered: a database that ran every script but the second-to-last gets that one
    # when it arrives, and runs nothing twice.
    path = str(tmp_path / "store.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        real = schema.migrations()
        late = real[-2][0]
        monkeypatch.setattr(schema, "migrations", lambda: [m for m in real if m[0] != late])
        sqlite_migrate(conn, path)
        meta = dict(conn.execute("SELECT key, value FROM stalwart_meta").fetchall())
        assert f"migration:{late:04d}" not in meta
        monkeypatch.setattr(schema, "migrations", lambda: real)
        sqlite_migrate(conn, path)
        sqlite_migrate(conn, path)  # and only once
        keys = [row[0] for row in conn.execute(
            "SELECT key FROM stalwart_meta WHERE key LIKE 'migration:%' ORDER BY key")]
        assert keys == [f"migration:{number:04d}" for number, _ in real]
        version = conn.execute("SELECT value FROM stalwart_meta WHERE key = "
                               "'schema_version'").fetchone()[0]
        assert int(version) == SCHEMA_VERSION
    finally:
        conn.close()


def test_a_schema_from_before_migrations_were_recorded_runs_only_newer_ones(
        tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        sqlite_migrate(conn, path)
        conn.execute("DELETE FROM stalwart_meta WHERE key LIKE 'migration:%'")
        sqlite_migrate(conn, path)  # would fail re-running 0007's ALTER TABLE otherwise
        keys = [row[0] for row in conn.execute(
            "SELECT key FROM stalwart_meta WHERE key LIKE 'migration:%' ORDER BY key")]
        assert keys == [f"migration:{number:04d}" for number, _ in migrations()]
    finally:
        conn.close()


@pytest.mark.parametrize("script, expected", [
    ("CREATE TABLE a (x TEXT);\nCREATE TABLE b (y TEXT);\n",
     ["CREATE TABLE a (x TEXT);", "CREATE TABLE b (y TEXT);"]),
    # A semicolon in a string or a comment does not end a statement.
    ("INSERT INTO a VALUES ('x;y');\n-- note; more\nCREATE TABLE c (z TEXT);\n",
     ["INSERT INTO a VALUES ('x;y');", "-- note; more\nCREATE TABLE c (z TEXT);"]),
    ("CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM b;\n  DELETE FROM c;\nEND;\n",
     ["CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  DELETE FROM b;\n  DELETE FROM c;\nEND;"]),
])
def test_migration_scripts_split_where_statements_end(script: str, expected: list[str]) -> None:
    assert statements(script) == expected


def test_a_script_ending_inside_a_statement_is_refused() -> None:
    with pytest.raises(ValueError, match="ends inside a statement"):
        statements("CREATE TABLE a (x TEXT);\nCREATE TABLE b (y TEXT)\n")


async def test_a_sqlite_file_of_version_4_is_upgraded_keeping_its_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "v4.db")
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE stalwart_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO stalwart_meta VALUES ('application', 'stalwart'), "
                 "('schema_version', '4')")
    for number, name in migrations():
        if number <= 4:
            text = resources.files("stalwart._store.migrations").joinpath(name).read_text()
            for statement in statements(SQLITE.schema_script(text)):
                conn.execute(statement)
    conn.execute("INSERT INTO schedule_runs VALUES ('s', 'wf', 'r1', 'r2')")
    conn.commit()
    conn.close()

    store = await open_store(f"sqlite:///{path}")
    assert (await store.status())["schema_version"] == SCHEMA_VERSION
    await store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT schedule_id, run_id, position FROM schedule_runs").fetchall() \
        == [("s", "r2", 0)]
    conn.close()


async def test_a_postgres_schema_numbered_by_its_old_history_is_taken_over() -> None:
    # Before one history served both databases, PostgreSQL counted its own: its version 2 is
    # the shared version 5.
    with fresh_schema_url() as url:
        store = await open_store(url)
        await store.close()
        schema = dict(re.findall(r"[?&](schema)=([a-z0-9_]+)", url))["schema"]
        with admin_connect() as conn:
            conn.execute(f"UPDATE {schema}.stalwart_meta SET value = '2' "
                         "WHERE key = 'schema_version'")
            # A schema of that time did not record its migrations one by one.
            conn.execute(f"DELETE FROM {schema}.stalwart_meta WHERE key LIKE 'migration:%'")
        store = await open_store(url)
        try:
            assert (await store.status())["schema_version"] == SCHEMA_VERSION
        finally:
            await store.close()
