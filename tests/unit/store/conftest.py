"""The store conformance suite: every test that uses ``store`` or ``db_url`` runs against a
real SQLite file and a fresh schema of a real PostgreSQL server (``store_backend``, see
``tests/conftest.py``). Tests of a SQLite file's own handling (``test_open.py``) take a file
path and run once; PostgreSQL's own are in ``tests/postgres``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stalwart._store import open_store
from stalwart._store.database import DatabaseStore


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[DatabaseStore]:
    opened = await open_store(db_url)
    assert isinstance(opened, DatabaseStore)
    try:
        yield opened
    finally:
        await opened.close()
