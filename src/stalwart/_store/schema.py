"""One schema history for both databases: the numbered scripts in ``migrations/``, written once
(the few words that differ are the dialect's), and the rules for applying them.

A driver opens the migration transaction in its own way (SQLite: ``BEGIN IMMEDIATE``, which
serialises processes opening one file; PostgreSQL: a transaction advisory lock) and lists the
tables already there; ``migrate`` does the rest, identically on both.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from importlib import resources

from ..exceptions import StoreError
from .tx import Tx

APPLICATION_MARKER = "stalwart"
_PACKAGE = f"{__package__}.migrations"


def migrations() -> list[tuple[int, str]]:
    """The numbered ``NNNN_name.sql`` scripts, in order."""
    names = [entry.name for entry in resources.files(_PACKAGE).iterdir()
             if entry.name.endswith(".sql") and entry.name[:4].isdigit()]
    return sorted((int(name[:4]), name) for name in names)


SCHEMA_VERSION = max(number for number, _ in migrations())


def statements(script: str) -> list[str]:
    """The statements of a script, split where SQLite's own tokenizer says one ends (so a
    semicolon inside a string, a comment or a trigger body does not split a statement)."""
    found: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if any(line.strip() and not line.strip().startswith("--") for line in pending.splitlines()):
        raise ValueError(f"migration script ends inside a statement: {pending.strip()[:80]!r}")
    return found


def script(tx: Tx, name: str) -> list[str]:
    text = resources.files(_PACKAGE).joinpath(name).read_text()
    return statements(tx.dialect.schema_script(text))


def stored_version(tx: Tx, tables: set[str]) -> int:
    if "stalwart_meta" not in tables:
        return 0
    row = tx.one("SELECT value FROM stalwart_meta WHERE key = 'schema_version'")
    return int(str(row[0])) if row else 0


def migrate(tx: Tx, tables: set[str], where: str, foreign: str | None,
            version_of: Callable[[Tx, set[str]], int] = stored_version) -> None:
    """Create or upgrade the schema inside the driver's migration transaction.

    ``where`` names the database in messages; ``foreign`` is the message for a database that
    holds another application's tables (None when it does not). ``version_of`` reads the
    stored version (a driver with an older numbering of its own maps it here).
    """
    if "stalwart_meta" not in tables and foreign is not None:
        raise StoreError(foreign)
    version = version_of(tx, tables)
    if version > SCHEMA_VERSION:
        raise StoreError(f"{where} has schema version {version}, newer than this Stalwart "
                         f"understands ({SCHEMA_VERSION}); upgrade Stalwart")
    if "stalwart_meta" not in tables:
        tx.run("CREATE TABLE stalwart_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        tx.run("INSERT INTO stalwart_meta VALUES ('application', ?)", (APPLICATION_MARKER,))
    applied = applied_migrations(tx, version)
    for number, name in migrations():
        if number not in applied:
            for statement in script(tx, name):
                tx.run(statement)
            tx.run("INSERT INTO stalwart_meta VALUES (?, 'applied') "
                   "ON CONFLICT (key) DO NOTHING",
                   (f"{_APPLIED}{number:04d}",))
            set_version(tx, max(number, version))
            version = max(number, version)


# Each migration applied is recorded by number, so one numbered below the highest applied
# (branches of development merged in another order than they were numbered) still runs.
_APPLIED = "migration:"


def applied_migrations(tx: Tx, version: int) -> set[int]:
    """The migrations a database has run. A schema from before they were recorded one by one
    ran every migration up to its version: those are recorded now."""
    rows = tx.all("SELECT key FROM stalwart_meta WHERE key LIKE 'migration:%'")
    recorded = {int(str(row[0])[len(_APPLIED):]) for row in rows}
    if not recorded:
        recorded = {number for number, _ in migrations() if number <= version}
        for number in sorted(recorded):
            tx.run("INSERT INTO stalwart_meta VALUES (?, 'applied')",
                   (f"{_APPLIED}{number:04d}",))
    return recorded


def set_version(tx: Tx, number: int) -> None:
    tx.run("INSERT INTO stalwart_meta VALUES ('schema_version', ?) "
           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(number),))
