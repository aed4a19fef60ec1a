"""Fixtures: a real dev server over the test's SQLite file, and a real worker beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from stalwart.client import Client
from stalwart.worker import Worker

from ._support import RunningServer, start_server
from ._workflows import ALL_ACTIVITIES, ALL_WORKFLOWS


@pytest.fixture
def server(db_url: str, client: Client) -> Iterator[RunningServer]:
    # Depends on `client` so the store file exists (and is migrated) before the server opens it.
    running = start_server(db_url)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def worker(client: Client, task_queue: str) -> AsyncIterator[Worker]:
    async with Worker(client, task_queue=task_queue, workflows=ALL_WORKFLOWS,
                      activities=ALL_ACTIVITIES) as running:
        yield running
