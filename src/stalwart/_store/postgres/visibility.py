"""Visibility on PostgreSQL: search attributes, memo, and list filters.

List filters compile exactly as on SQLite (the same compiler, the same tables), so a query
means the same on both backends; only placeholders and prefix matching differ.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..._model.list_filter import Comparison, ListQuery
from ..base import ExecutionRow
from ..sqlite.ops_search_attributes import NUMERIC_TYPES
from ..sqlite.ops_visibility import _Compiler
from .connection import AsyncConn

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

_FOR_NAMES = {"Keyword": "keyword", "Text": "text", "Int": "int", "Double": "float",
              "Bool": "bool", "Datetime": "datetime", "KeywordList": "keyword_list"}


def _index_rows(name: str, entry: dict[str, Any]) -> list[tuple[str, str | None, float | None]]:
    kind, value = entry["type"], entry["value"]
    if kind == "KeywordList":
        return [(name, str(v), None) for v in value]
    if kind == "Datetime":
        return [(name, None, datetime.fromisoformat(value).timestamp())]
    if kind in NUMERIC_TYPES:
        return [(name, None, float(value))]
    return [(name, str(value), None)]


async def _check_types(conn: AsyncConn, attributes: dict[str, Any]) -> None:
    for name, entry in attributes.items():
        if entry is None:
            continue
        # First use fixes the type; a concurrent first use of the same name lands on the
        # same row and is then checked like any other.
        await conn.execute("INSERT INTO search_attribute_types (name, type) VALUES (%s, %s) "
                           "ON CONFLICT (name) DO NOTHING", (name, entry["type"]))
        cursor = await conn.execute("SELECT type FROM search_attribute_types WHERE name = %s",
                                    (name,))
        row = await cursor.fetchone()
        if row is not None and row[0] != entry["type"]:
            raise TypeError(
                f"search attribute {name!r} is {row[0]} in this store, but a {entry['type']} "
                f"value {entry['value']!r} was given; use SearchAttributeKey.for_"
                f"{_FOR_NAMES.get(row[0], row[0].lower())}({name!r}) or another name")


async def write_search_attributes(conn: AsyncConn, run_id: str,
                                  attributes: dict[str, Any]) -> None:
    """Replace a run's search attributes (store form) and their index rows."""
    await _check_types(conn, attributes)
    await conn.execute("UPDATE executions SET search_attributes = %s WHERE run_id = %s",
                       (dumps(attributes) if attributes else None, run_id))
    await conn.execute("DELETE FROM search_attribute_values WHERE run_id = %s", (run_id,))
    rows = [(run_id, *row) for name, entry in attributes.items()
            for row in _index_rows(name, entry)]
    if rows:
        async with conn.cursor() as cursor:
            await cursor.executemany("INSERT INTO search_attribute_values (run_id, name, "
                                     "value_text, value_num) VALUES (%s, %s, %s, %s)", rows)


async def upsert_search_attributes(conn: AsyncConn, run_id: str,
                                   changes: dict[str, Any]) -> None:
    cursor = await conn.execute("SELECT search_attributes FROM executions WHERE run_id = %s",
                                (run_id,))
    row = await cursor.fetchone()
    current = json.loads(row[0]) if row and row[0] else {}
    for name, entry in changes.items():
        if entry is None:
            current.pop(name, None)
        else:
            current[name] = entry
    await write_search_attributes(conn, run_id, current)


async def upsert_memo(conn: AsyncConn, run_id: str, changes: dict[str, Any]) -> None:
    cursor = await conn.execute("SELECT memo FROM executions WHERE run_id = %s", (run_id,))
    row = await cursor.fetchone()
    current = json.loads(row[0]) if row and row[0] else {}
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    await conn.execute("UPDATE executions SET memo = %s WHERE run_id = %s",
                       (dumps(current) if current else None, run_id))


class _PostgresCompiler(_Compiler):
    """The SQLite compiler with the attribute types read up front (its reads are
    synchronous) and prefixes compared by code point, whatever the database collation."""

    def __init__(self, query_text: str, types: dict[str, str]) -> None:
        super().__init__(None, query_text)  # type: ignore[arg-type]
        self._types = types

    def condition(self, column: str, node: Comparison, values: list[Any]) -> str:
        if node.op == "starts_with":
            prefix = str(values[0])
            self.params += [prefix, prefix + "\U0010ffff"]
            return f'({column} COLLATE "C" >= ? AND {column} COLLATE "C" < ?)'
        result: str = super().condition(column, node, values)
        return result


async def _compile(conn: AsyncConn, query_text: str, query: ListQuery
                   ) -> tuple[_PostgresCompiler, str]:
    cursor = await conn.execute("SELECT name, type FROM search_attribute_types")
    types = {str(name): str(kind) for name, kind in await cursor.fetchall()}
    compiler = _PostgresCompiler(query_text, types)
    where = f"WHERE {compiler.compile(query.where)}" if query.where is not None else ""
    # The compiler writes SQLite's ``?``; no other ``?`` or ``%`` appears in what it writes.
    return compiler, where.replace("?", "%s")


async def list_by_query(conn: AsyncConn, query_text: str, query: ListQuery, limit: int,
                        offset: int) -> list[ExecutionRow]:
    from .ops_executions import EXECUTION_COLUMNS, row_to_execution

    compiler, where = await _compile(conn, query_text, query)
    order = compiler.order(query.order_by)
    columns = ", ".join(f"e.{c.strip()}" for c in EXECUTION_COLUMNS.split(","))
    cursor = await conn.execute(
        f"SELECT {columns} FROM executions e {where} {order} LIMIT %s OFFSET %s",
        (*compiler.params, limit, offset))
    return [row_to_execution(r) for r in await cursor.fetchall()]


async def count_by_query(conn: AsyncConn, query_text: str, query: ListQuery) -> int:
    compiler, where = await _compile(conn, query_text, query)
    cursor = await conn.execute(f"SELECT COUNT(*) FROM executions e {where}", compiler.params)
    row = await cursor.fetchone()
    return int(row[0]) if row else 0
