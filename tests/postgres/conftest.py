"""PostgreSQL fixtures: every test gets a fresh schema on a real server, dropped afterwards.

The server comes from ``STALWART_TEST_POSTGRES_URL`` (default: the local server as
``postgres``). Without a reachable server these tests are skipped, loudly; under CI (``CI`` set)
they fail instead, so a missing server cannot pass as green.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import pytest

psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL driver is not installed: "
                              "pip install 'stalwart[postgres]'")

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("STALWART_TEST_POSTGRES_URL", DEFAULT_URL)


def with_schema(url: str, schema: str) -> str:
    parsed = urlparse(url)
    query = [(k, v) for k, v in parse_qsl(parsed.query) if k != "schema"]
    query.append(("schema", schema))
    return urlunparse(parsed._replace(query=urlencode(query)))


def admin_connect() -> psycopg.Connection:  # type: ignore[type-arg]
    parsed = urlparse(server_url())
    query = [(k, v) for k, v in parse_qsl(parsed.query) if k != "schema"]
    return psycopg.connect(urlunparse(parsed._replace(query=urlencode(query))),
                           autocommit=True, connect_timeout=5)


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The server URL, once it is known to answer."""
    url = server_url()
    try:
        with admin_connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        message = (f"PostgreSQL tests NOT RUN: no server at {url} ({error}). Start one or set "
                   "STALWART_TEST_POSTGRES_URL=postgresql://user@host:port/db")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def pg_schema(postgres_server: str) -> Iterator[str]:
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        with admin_connect() as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def db_url(postgres_server: str, pg_schema: str) -> str:
    """Overrides the SQLite ``db_url``: the shared ``client`` fixture now talks PostgreSQL."""
    return with_schema(postgres_server, pg_schema)
