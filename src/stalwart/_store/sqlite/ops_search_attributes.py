"""SQLite store operations that write search attributes and memo, with their index rows."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

NUMERIC_TYPES = {"Int", "Double", "Bool", "Datetime"}


def _index_rows(name: str, entry: dict[str, Any]) -> list[tuple[str, str | None, float | None]]:
    kind, value = entry["type"], entry["value"]
    if kind == "KeywordList":
        return [(name, str(v), None) for v in value]
    if kind == "Datetime":
        return [(name, None, datetime.fromisoformat(value).timestamp())]
    if kind in NUMERIC_TYPES:
        return [(name, None, float(value))]
    return [(name, str(value), None)]


def _check_types(conn: sqlite3.Connection, attributes: dict[str, Any]) -> None:
    for name, entry in attributes.items():
        if entry is None:
            continue
        row = conn.execute("SELECT type FROM search_attribute_types WHERE name = ?",
                           (name,)).fetchone()
        if row is None:
            conn.execute("INSERT INTO search_attribute_types (name, type) VALUES (?, ?)",
                         (name, entry["type"]))
        elif row[0] != entry["type"]:
            raise TypeError(
                f"search attribute {name!r} is {row[0]} in this store, but a {entry['type']} "
                f"value {entry['value']!r} was given; use SearchAttributeKey.for_"
                f"{_FOR_NAMES.get(row[0], row[0].lower())}({name!r}) or another name")


_FOR_NAMES = {"Keyword": "keyword", "Text": "text", "Int": "int", "Double": "float",
              "Bool": "bool", "Datetime": "datetime", "KeywordList": "keyword_list"}


def write_search_attributes(conn: sqlite3.Connection, run_id: str,
                            attributes: dict[str, Any]) -> None:
    """Replace a run's search attributes (store form) and their index rows."""
    _check_types(conn, attributes)
    conn.execute("UPDATE executions SET search_attributes = ? WHERE run_id = ?",
                 (_dumps(attributes) if attributes else None, run_id))
    conn.execute("DELETE FROM search_attribute_values WHERE run_id = ?", (run_id,))
    rows = [(run_id, *row) for name, entry in attributes.items()
            for row in _index_rows(name, entry)]
    if rows:
        conn.executemany("INSERT INTO search_attribute_values (run_id, name, value_text, "
                         "value_num) VALUES (?, ?, ?, ?)", rows)


def upsert_search_attributes(conn: sqlite3.Connection, run_id: str,
                             changes: dict[str, Any]) -> None:
    row = conn.execute("SELECT search_attributes FROM executions WHERE run_id = ?",
                       (run_id,)).fetchone()
    current = json.loads(row[0]) if row and row[0] else {}
    for name, entry in changes.items():
        if entry is None:
            current.pop(name, None)
        else:
            current[name] = entry
    write_search_attributes(conn, run_id, current)


def upsert_memo(conn: sqlite3.Connection, run_id: str, changes: dict[str, Any]) -> None:
    row = conn.execute("SELECT memo FROM executions WHERE run_id = ?", (run_id,)).fetchone()
    current = json.loads(row[0]) if row and row[0] else {}
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    conn.execute("UPDATE executions SET memo = ? WHERE run_id = ?",
                 (_dumps(current) if current else None, run_id))
