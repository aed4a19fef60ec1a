"""Shared fixtures: every test gets its own real store.

The engine suites (``tests/integration``, ``tests/steering``, ``tests/schedules``) and the store
conformance suite (``tests/unit/store``) run every test that uses the store fixtures twice: on
a real SQLite file and on a fresh schema of a real PostgreSQL server. Other suites use SQLite.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stalwart.client import Client
from tests.helpers.postgres import fresh_schema_url

ENGINE_SUITES = ("integration", "steering", "schedules", "unit/store", "streams")
TESTS = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    # With no loop set, asyncio.get_event_loop() in the main thread quietly creates one. pytest-
    # asyncio calls it to save "the old loop" around each test; that loop is never closed, and
    # once a synchronous test's asyncio.run() replaces it, it is collected at some later test as
    # an unclosed-loop ResourceWarning, which filterwarnings=error turns into a failure there.
    # Marking "no current loop" up front makes get_event_loop() raise instead of creating one.
    asyncio.set_event_loop(None)


def _suite_of(path: Path) -> str:
    relative = path.relative_to(TESTS).parts
    return "/".join(relative[:2]) if relative[:1] == ("unit",) else relative[0]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "store_backend" in metafunc.fixturenames and \
            _suite_of(metafunc.definition.path) in ENGINE_SUITES:
        metafunc.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store_backend") == "postgres" and \
                item.get_closest_marker("sqlite_only") is not None:
            item.add_marker(pytest.mark.skip(reason="exercises SQLite specifically"))


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def db_url(store_backend: str, tmp_path: Path) -> Iterator[str]:
    if store_backend == "postgres":
        with fresh_schema_url() as url:
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'stalwart.db'}"


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
