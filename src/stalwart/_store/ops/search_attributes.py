"""Store operations that write search attributes and memo, with their index rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..tx import Tx, dumps, loads

NUMERIC_TYPES = {"Int", "Double", "Bool", "Datetime"}

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


def _check_types(tx: Tx, attributes: dict[str, Any]) -> None:
    for name, entry in attributes.items():
        if entry is None:
            continue
        # First use fixes the type; a concurrent first use of the same name lands on the
        # same row and is then checked like any other.
        tx.run("INSERT INTO search_attribute_types (name, type) VALUES (?, ?) "
               "ON CONFLICT (name) DO NOTHING", (name, entry["type"]))
        row = tx.one("SELECT type FROM search_attribute_types WHERE name = ?", (name,))
        if row is not None and row[0] != entry["type"]:
            raise TypeError(
                f"search attribute {name!r} is {row[0]} in this store, but a {entry['type']} "
                f"value {entry['value']!r} was given; use SearchAttributeKey.for_"
                f"{_FOR_NAMES.get(row[0], row[0].lower())}({name!r}) or another name")


def write_search_attributes(tx: Tx, run_id: str, attributes: dict[str, Any]) -> None:
    """Replace a run's search attributes (store form) and their index rows."""
    _check_types(tx, attributes)
    tx.run("UPDATE executions SET search_attributes = ? WHERE run_id = ?",
           (dumps(attributes) if attributes else None, run_id))
    tx.run("DELETE FROM search_attribute_values WHERE run_id = ?", (run_id,))
    rows = [(run_id, *row) for name, entry in attributes.items()
            for row in _index_rows(name, entry)]
    if rows:
        tx.many("INSERT INTO search_attribute_values (run_id, name, value_text, value_num) "
                "VALUES (?, ?, ?, ?)", rows)


def _merged(current_json: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` applied to the stored JSON object: a None value removes its key."""
    current: dict[str, Any] = loads(current_json) if current_json else {}
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    return current


def upsert_search_attributes(tx: Tx, run_id: str, changes: dict[str, Any]) -> None:
    row = tx.one("SELECT search_attributes FROM executions WHERE run_id = ?", (run_id,))
    write_search_attributes(tx, run_id, _merged(row[0] if row else None, changes))


def upsert_memo(tx: Tx, run_id: str, changes: dict[str, Any]) -> None:
    row = tx.one("SELECT memo FROM executions WHERE run_id = ?", (run_id,))
    current = _merged(row[0] if row else None, changes)
    tx.run("UPDATE executions SET memo = ? WHERE run_id = ?",
           (dumps(current) if current else None, run_id))
