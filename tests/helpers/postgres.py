"""A real PostgreSQL server for tests: a fresh schema per test, dropped afterwards.

The server comes from ``STALWART_TEST_POSTGRES_URL`` (default: the local server as
``postgres``). Without a reachable server the PostgreSQL variants are skipped, loudly; under CI
(``CI`` set) they fail instead, so a missing server cannot pass as green.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("STALWART_TEST_POSTGRES_URL", DEFAULT_URL)


def with_schema(url: str, schema: str) -> str:
    parsed = urlparse(url)
    query = [(k, v) for k, v in parse_qsl(parsed.query) if k != "schema"]
    query.append(("schema", schema))
    return urlunparse(parsed._replace(query=urlencode(query)))


def admin_connect() -> object:
    import psycopg

    parsed = urlparse(server_url())
    query = [(k, v) for k, v in parse_qsl(parsed.query) if k != "schema"]
    return psycopg.connect(urlunparse(parsed._replace(query=urlencode(query))),
                           autocommit=True, connect_timeout=5)


def require_server() -> str:
    """The server URL, or a skip (a failure under CI) saying why not."""
    url = server_url()
    try:
        import psycopg
    except ImportError:
        message = "PostgreSQL tests NOT RUN: psycopg is not installed (scripts/bootstrap does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        with admin_connect() as conn:  # type: ignore[attr-defined]
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        message = (f"PostgreSQL tests NOT RUN: no server at {url} ({error}). Start one or set "
                   "STALWART_TEST_POSTGRES_URL=postgresql://user@host:port/db")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@contextmanager
def fresh_schema_url() -> Iterator[str]:
    url = require_server()
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield with_schema(url, schema)
    finally:
        with admin_connect() as conn:  # type: ignore[attr-defined]
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


# The threads the PostgreSQL driver commits the store's writes on (the announcer's NOTIFYs
# run on a thread of their own).
WRITER_THREADS = "stalwart-postgres-group"


def count_round_trips(monkeypatch: pytest.MonkeyPatch, *,
                      threads: str | None = None) -> list[int]:
    """``[n]``: the driver's round trips (``WireTx.sync``) from here on, on the threads whose
    names start with ``threads`` (None: every thread); set ``[0]`` back to 0 to start over."""
    import threading

    from stalwart._store.postgres.wire import WireTx

    count = [0]
    sync = WireTx.sync

    def counted(tx: WireTx) -> None:
        if threads is None or threading.current_thread().name.startswith(threads):
            count[0] += 1
        sync(tx)
    monkeypatch.setattr(WireTx, "sync", counted)
    return count


def collect_refuted_guesses(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Every ``GuessRefuted`` the driver raises from here on (``Tx.assume_none``)."""
    from stalwart._store.postgres import wire

    refuted: list[BaseException] = []
    check = wire._refuted

    def collecting(error: Any) -> BaseException:
        outcome = check(error)
        if outcome is not error:
            refuted.append(outcome)
        return outcome
    monkeypatch.setattr(wire, "_refuted", collecting)
    return refuted
