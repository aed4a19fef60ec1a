"""Each store test gets a real SQLite file of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stalwart._store import open_store
from stalwart._store.sqlite.store import SqliteStore


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "store.db")


@pytest.fixture
async def store(db_path: str) -> AsyncIterator[SqliteStore]:
    opened = await open_store(f"sqlite:///{db_path}")
    assert isinstance(opened, SqliteStore)
    try:
        yield opened
    finally:
        await opened.close()
