"""The PostgreSQL store: the shared operations on the PostgreSQL driver.

Concurrency rules, since unlike SQLite several writers run at once (the operations say them
through the dialect; see ``_store/tx.py``):

* Every operation that adds to a run's inbox, moves it into history or creates / deletes the
  run's workflow task first locks the run's ``executions`` row (``FOR UPDATE``). That per-run
  lock keeps inbox ids in commit order within a run and makes "the workflow task exists, so the
  new input will be seen" decisions safe. Locks are taken in the order executions -> task rows.
* Claims (workflow tasks, activity tasks, queries, timers, timed-out runs) use
  ``FOR UPDATE SKIP LOCKED``, so pollers never queue behind each other.
* Fenced writes re-read their task row ``FOR UPDATE``, which waits for a concurrent claim to
  commit and then sees the new lease owner.
* Starting a workflow id takes a transaction advisory lock on the id, so two clients starting
  the same id do not both pass the "already running?" check.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlparse, urlunparse

import psycopg
from psycopg_pool import PoolTimeout

from ..database import DatabaseStore
from ..tx import POSTGRESQL
from .connection import (
    Database,
    PostgresOptions,
    is_connection_error,
    parse_url,
    store_error,
)
from .schema import migrate

T = TypeVar("T")


class PostgresDriver:
    dialect = POSTGRESQL
    # A poll goes straight to its claiming transaction: a check first would only add a round
    # trip, and SKIP LOCKED keeps empty claims cheap.
    prechecks = False
    # A wake-up another process announces after its commit is lost if it crashes in between.
    loses_wakeups = True

    def __init__(self, options: PostgresOptions, db: Database) -> None:
        self._options = options
        self._db = db
        self._heartbeat_conn: psycopg.Connection[Any] | None = None
        self._heartbeat_lock = threading.Lock()
        self._closed = False

    def write(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        return self._db.write(fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._db.read(fn, *args)

    async def point(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._db.read(fn, *args)

    def hand_on(self, key: tuple[str, str]) -> None:
        self._db.hand_on(key)

    def heartbeat_worker_blocking(self, worker_id: str, now: float) -> None:
        """On a synchronous connection of its own, so a worker whose pool is busy still shows
        it is alive."""
        with self._heartbeat_lock:
            if self._closed:
                return
            try:
                if self._heartbeat_conn is None or self._heartbeat_conn.closed:
                    self._heartbeat_conn = psycopg.connect(
                        self._options.conninfo, connect_timeout=5,
                        **self._options.connect_kwargs())
                self._heartbeat_conn.execute(
                    "UPDATE workers SET heartbeat_at = %s WHERE worker_id = %s",
                    (now, worker_id))
            except psycopg.Error as error:
                if self._heartbeat_conn is not None and is_connection_error(error):
                    # Reconnect on the next beat.
                    self._heartbeat_conn.close()
                    self._heartbeat_conn = None
                raise store_error(self._options, error, "worker heartbeat") from error

    async def close(self) -> None:
        await self._db.close()
        with self._heartbeat_lock:
            self._closed = True
            if self._heartbeat_conn is not None:
                self._heartbeat_conn.close()
                self._heartbeat_conn = None


class PostgresStore(DatabaseStore):
    """Many processes on many hosts share one PostgreSQL database."""

    def __init__(self, url: str, options: PostgresOptions) -> None:
        # Shown by status commands and logs: never with the password.
        super().__init__(_without_password(url))
        self._options = options
        self._db = Database(options, self.publish, self.notifier.room, self.notifier.listens)
        self._driver = PostgresDriver(options, self._db)

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        options = parse_url(url)
        await asyncio.get_running_loop().run_in_executor(None, _prepare, options)
        store = cls(url, options)
        await store._db.open()
        return store


def _prepare(options: PostgresOptions) -> None:
    try:
        with psycopg.connect(options.conninfo, autocommit=True, connect_timeout=10) as conn:
            migrate(conn, options.schema, options.where)
    except psycopg.Error as error:
        raise store_error(options, error, "connecting") from error


async def open_store(url: str) -> PostgresStore:
    return await PostgresStore.open(url)


class PostgresBlockingStore:
    """The pool and its retry rules, used from the calling thread (no LISTEN: a caller
    outside the engine has nothing to wake)."""

    def __init__(self, url: str, options: PostgresOptions) -> None:
        self.url = _without_password(url)
        self._db = Database(options, lambda keys, due: None)

    def write(self, fn: Callable[..., T], *args: Any) -> T:
        return self._db.write_blocking(fn, args)

    def read(self, fn: Callable[..., T], *args: Any) -> T:
        return self._db.read_blocking(fn, args)

    def close(self) -> None:
        self._db.announcer.close()  # what this store committed still wakes the workers
        self._db.pool.close()


def open_blocking(url: str) -> PostgresBlockingStore:
    options = parse_url(url)
    _prepare(options)
    store = PostgresBlockingStore(url, options)
    try:
        store._db.pool.open(wait=True, timeout=15.0)
    except PoolTimeout as error:
        store.close()
        raise store_error(options, error, "opening the connection pool") from error
    return store


def _without_password(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password is None:
        return url
    user, _, host = parsed.netloc.rpartition("@")
    return urlunparse(parsed._replace(netloc=f"{user.split(':', 1)[0]}:***@{host}"))


__all__ = ["PostgresStore"]
