"""Shared fixtures: every test gets its own real SQLite file."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from stalwart.client import Client


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'stalwart.db'}"


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[Client]:
    client = await Client.connect(db_url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:8]}"
