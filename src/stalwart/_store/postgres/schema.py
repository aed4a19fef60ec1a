"""Migrating a PostgreSQL schema: the shared history (``_store/migrations``), applied under a
transaction advisory lock so processes connecting at the same moment take turns."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from .. import schema
from ..tx import Tx
from .wire import wire_tx

# The tables of the schema: one of them in a schema without ``stalwart_meta`` belongs to
# another application, and Stalwart refuses to write into it.
TABLES = ("executions", "history", "inbox", "workflow_tasks", "activity_tasks", "timers",
          "workers", "updates", "queries", "search_attribute_values", "search_attribute_types",
          "schedules", "schedule_runs", "scheduler_lease", "activity_rate_limits")


def _version(tx: Tx, tables: set[str]) -> int:
    version = schema.stored_version(tx, tables)
    if version in (1, 2):
        # Numbered by the PostgreSQL store's own history, before there was one for both
        # databases: version 1 had every table of shared version 5 but the rate limits, and
        # version 2 added them.
        for statement in schema.script(tx, "0004_rate_limits.sql"):
            tx.run(statement)
        schema.set_version(tx, 5)
        return 5
    return version


def migrate(conn: psycopg.Connection[Any], name: str, where: str) -> None:
    """Create or upgrade the schema ``name`` in one transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                     (f"stalwart-migrate:{name}",))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(name)))
        tables = {str(row[0]) for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (name,))}
        ours = sorted(tables & set(TABLES))
        foreign = (f"{where}: schema {name!r} already has tables named like Stalwart's "
                   f"({', '.join(ours)}) but no stalwart_meta table, so they belong to another "
                   "application; give Stalwart a schema of its own with ?schema=name")
        with wire_tx(conn) as tx:
            schema.migrate(tx, tables, where, foreign if ours else None, _version)
            tx.flush()
