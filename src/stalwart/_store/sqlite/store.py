"""The SQLite store: the shared operations on the SQLite driver.

Writes go to the single writer thread, which commits whatever has queued up together (group
commit); reads run on a reader thread; point reads (one row by key) run on the caller's thread,
which in WAL mode never waits for the writer and costs less than a hop to another thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from ..database import DatabaseStore
from ..tx import SQLITE
from .connection import (
    BlockingDatabase,
    Reader,
    SqliteOptions,
    Writer,
    check_file,
    connect,
    in_tx,
    migrate,
    parse_url,
)

T = TypeVar("T")


class SqliteDriver:
    dialect = SQLITE
    prechecks = True
    # The writer sees every other connection's commit in the file's change counter.
    loses_wakeups = False

    def __init__(self, options: SqliteOptions,
                 publish: Callable[[Iterable[tuple[str, str]], float], None]) -> None:
        self._options = options
        self._writer = Writer(options, publish)
        self._reader = Reader(options)
        self._heartbeat_conn: sqlite3.Connection | None = None

    def write(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        # The writer's future itself: awaiting it is all a coroutine here would do.
        future: Awaitable[T] = self._writer.submit(fn, *args)
        return future

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = await self._reader.run(in_tx, fn, args)
        return result

    async def point(self, fn: Callable[..., T], *args: Any) -> T:
        result: T = self._reader.point(in_tx, fn, args)
        return result

    def hand_on(self, key: tuple[str, str]) -> None:
        # Other processes learn of every commit from the file's change counter, and look.
        pass

    def heartbeat_worker_blocking(self, worker_id: str, now: float) -> None:
        if self._heartbeat_conn is None:
            self._heartbeat_conn = connect(self._options)
        self._heartbeat_conn.execute(
            "UPDATE workers SET heartbeat_at = ? WHERE worker_id = ?", (now, worker_id))

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._writer.close)
        await loop.run_in_executor(None, self._reader.close)
        if self._heartbeat_conn is not None:
            self._heartbeat_conn.close()


class SqliteStore(DatabaseStore):
    """The embedded default store: one SQLite file in WAL mode, durable commits."""

    def __init__(self, url: str, options: SqliteOptions) -> None:
        super().__init__(url)
        self._driver = SqliteDriver(options, self.publish)

    @classmethod
    async def open(cls, url: str) -> SqliteStore:
        options = parse_url(url)
        await asyncio.get_running_loop().run_in_executor(None, _prepare, options)
        return cls(url, options)


def _prepare(options: SqliteOptions) -> None:
    check_file(options.path)
    conn = connect(options)
    try:
        migrate(conn, options.path)
    finally:
        conn.close()


async def open_store(url: str) -> SqliteStore:
    return await SqliteStore.open(url)


class SqliteBlockingStore(BlockingDatabase):
    def __init__(self, url: str, options: SqliteOptions) -> None:
        super().__init__(options)
        self.url = url


def open_blocking(url: str) -> SqliteBlockingStore:
    options = parse_url(url)
    _prepare(options)
    return SqliteBlockingStore(url, options)


__all__ = ["SqliteStore"]
