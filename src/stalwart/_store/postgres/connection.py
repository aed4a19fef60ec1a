"""PostgreSQL connections: the URL, the pool, retrying across lost connections, and LISTEN.

Every public write is one short transaction on a pooled connection. A write whose connection
broke before COMMIT was sent rolled back on the server, so it is retried; one that broke while
committing may or may not have happened, so it raises ``StoreError`` and the engine's fencing
(leases expire, tasks come back) takes over. Deadlocks and serialisation failures are rolled back
by the server and are always retried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ...exceptions import StoreError
from ..wakeup import EXTERNAL, Notifier

logger = logging.getLogger(__name__)

T = TypeVar("T")
AsyncConn = psycopg.AsyncConnection[Any]

DEFAULT_SCHEMA = "stalwart"
DEFAULT_POOL_SIZE = 8
# Backoff before each retry of an operation whose connection was lost (about 4 s in all).
CONNECTION_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)
# Deadlocks between two runs' transactions (a parent and a child closing together) are rare and
# cheap to redo.
CONFLICT_RETRIES = 8
LISTEN_RECONNECT_MAX_DELAY = 5.0
# PostgreSQL refuses notification payloads of 8000 bytes or more.
_MAX_NOTIFY_PAYLOAD = 7000
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Query parameters of the store URL that are Stalwart's own; everything else goes to libpq.
_OWN_PARAMETERS = ("schema", "pool_size")


@dataclass
class PostgresOptions:
    conninfo: str
    schema: str = DEFAULT_SCHEMA
    pool_size: int = DEFAULT_POOL_SIZE

    @property
    def channel(self) -> str:
        # One channel per schema, so stores in other schemas of the database stay asleep.
        return "stalwart" if self.schema == DEFAULT_SCHEMA else f"stalwart.{self.schema}"[:63]

    @property
    def where(self) -> str:
        """The URL without its password, for error messages."""
        parsed = urlparse(self.conninfo)
        netloc = parsed.netloc
        if "@" in netloc:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}@{host}"
        return f"PostgreSQL store {parsed.scheme}://{netloc}{parsed.path} schema {self.schema}"

    def connect_kwargs(self) -> dict[str, Any]:
        return {"autocommit": True, "options": f"-c search_path={self.schema}"}


def parse_url(url: str) -> PostgresOptions:
    """``postgresql://user:password@host:port/db?schema=name&pool_size=8`` (libpq parameters such
    as ``sslmode`` or ``connect_timeout`` pass through)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {url!r}")
    own: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    for key, value in parse_qsl(parsed.query, keep_blank_values=True):
        if key in _OWN_PARAMETERS:
            own[key] = value
        else:
            passed.append((key, value))
    schema = own.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"store URL {url!r}: schema={schema!r} must be a lower-case SQL name "
                         "(letters, digits, underscores; at most 63 characters)")
    try:
        pool_size = int(own.get("pool_size", DEFAULT_POOL_SIZE))
    except ValueError:
        pool_size = 0
    if pool_size < 2:
        raise ValueError(f"store URL {url!r}: pool_size must be a whole number of at least 2 "
                         f"(the default is {DEFAULT_POOL_SIZE})")
    if not any(key == "application_name" for key, _ in passed):
        # Names Stalwart's sessions in pg_stat_activity.
        passed.append(("application_name", "stalwart"))
    conninfo = urlunparse(parsed._replace(query=urlencode(passed)))
    return PostgresOptions(conninfo=conninfo, schema=schema, pool_size=pool_size)


def is_connection_error(error: BaseException) -> bool:
    """True when ``error`` means the connection (or the server) went away, not the statement."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, psycopg.OperationalError):
        return False
    state = error.sqlstate
    # No SQLSTATE: the client library lost the socket ("server closed the connection").
    return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")


def is_conflict(error: BaseException) -> bool:
    """True for errors after which the server has rolled the transaction back and a rerun of
    the same transaction can succeed."""
    return isinstance(error, psycopg.errors.DeadlockDetected | psycopg.errors.SerializationFailure
                      | psycopg.errors.UniqueViolation)


def store_error(options: PostgresOptions, error: BaseException, doing: str) -> StoreError:
    mapped = StoreError(f"{options.where}: {doing} failed: {error}".rstrip())
    mapped.__cause__ = error
    return mapped


class WriteContext:
    """Handed to each write operation: collects what the commit should wake up."""

    __slots__ = ("earliest_due", "wake_keys")

    def __init__(self) -> None:
        self.wake_keys: set[tuple[str, str]] = set()
        self.earliest_due = math.inf

    def wake(self, kind: str, key: str = "") -> None:
        self.wake_keys.add((kind, key))

    def due(self, at: float | None) -> None:
        """Something (a timer, a timeout, a retry) falls due at ``at``: sweepers are woken only
        if that is earlier than what they already sleep until."""
        if at is not None and at < self.earliest_due:
            self.earliest_due = at

    @property
    def anything(self) -> bool:
        return bool(self.wake_keys) or self.earliest_due < math.inf


class Database:
    """The pool plus the retry rules; operations are plain async functions of a connection."""

    def __init__(self, options: PostgresOptions, notifier: Notifier) -> None:
        self.options = options
        self.notifier = notifier
        # Tags this store's notifications so its own listener skips them: they were already
        # published in-process right after the commit.
        self.origin = uuid.uuid4().hex
        self.pool: AsyncConnectionPool[AsyncConn] = AsyncConnectionPool(
            options.conninfo, kwargs=options.connect_kwargs(), min_size=2,
            max_size=options.pool_size, open=False, timeout=10.0, name="stalwart",
            reconnect_timeout=60.0)
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        # What each sweeper of this process sleeps until (the engine keeps it up to date); a
        # commit here or elsewhere that makes something due earlier wakes them.
        self.sweep_targets: dict[str, float] = {}

    async def open(self) -> None:
        try:
            await self.pool.open(wait=True, timeout=15.0)
        except PoolTimeout as error:
            await self.pool.close()
            raise store_error(self.options, error, "opening the connection pool") from error
        self._listener = asyncio.get_running_loop().create_task(
            self._listen_forever(), name="stalwart-postgres-listen")
        # Wakes from other processes must not be missed once open() returns.
        waiter = asyncio.ensure_future(self._listening.wait())
        done, _ = await asyncio.wait({waiter, self._listener}, timeout=15.0,
                                   return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done:
            waiter.cancel()
            await self.close()
            raise StoreError(f"{self.options.where}: could not LISTEN for notifications")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass
            self._listener = None
        await self.pool.close()

    # -- running operations ----------------------------------------------------------------
    async def write(self, doing: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(ctx, conn, *args)`` in one transaction, notify, commit, publish."""
        conflicts = 0
        lost = 0
        while True:
            ctx = WriteContext()
            committing = False
            try:
                async with self.pool.connection() as conn, conn.transaction():
                    result = await fn(ctx, conn, *args)
                    if ctx.anything:
                        # Delivered to the other processes' listeners only if we commit.
                        await conn.execute("SELECT pg_notify(%s, %s)", (
                            self.options.channel, self._payload(ctx)))
                    committing = True
            except Exception as error:
                if is_conflict(error) and conflicts < CONFLICT_RETRIES:
                    conflicts += 1
                    logger.debug("%s: %s conflicted (%s); retrying", self.options.where, doing,
                                 error)
                    await asyncio.sleep(0.005 * conflicts)
                    continue
                if not is_connection_error(error):
                    if isinstance(error, psycopg.Error) and not isinstance(
                            error, psycopg.IntegrityError):
                        raise store_error(self.options, error, doing) from error
                    raise
                if committing:
                    # COMMIT was sent: the transaction may have happened. Doing it again could
                    # do it twice, so the caller is told and fencing sorts it out.
                    logger.warning("%s: connection lost while committing %s; its outcome is "
                                   "unknown: %s", self.options.where, doing, error)
                    raise store_error(self.options, error, f"committing {doing}") from error
                if lost >= len(CONNECTION_RETRY_DELAYS):
                    logger.error("%s: %s failed after %d reconnection attempts: %s",
                                 self.options.where, doing, lost, error)
                    raise store_error(self.options, error, doing) from error
                await self._backoff(doing, error, lost)
                lost += 1
                continue
            if ctx.anything:
                self._publish(ctx.wake_keys, ctx.earliest_due)
            return result

    async def read(self, doing: str, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``fn(conn, *args)`` outside a transaction; reads are always safe to repeat."""
        lost = 0
        while True:
            try:
                async with self.pool.connection() as conn:
                    return await fn(conn, *args)
            except Exception as error:
                if not is_connection_error(error):
                    if isinstance(error, psycopg.Error):
                        raise store_error(self.options, error, doing) from error
                    raise
                if lost >= len(CONNECTION_RETRY_DELAYS):
                    logger.error("%s: %s failed after %d reconnection attempts: %s",
                                 self.options.where, doing, lost, error)
                    raise store_error(self.options, error, doing) from error
                await self._backoff(doing, error, lost)
                lost += 1

    async def _backoff(self, doing: str, error: BaseException, attempt: int) -> None:
        delay = CONNECTION_RETRY_DELAYS[attempt]
        logger.warning("%s: connection lost during %s (%s); retrying in %.2f s (%d/%d)",
                       self.options.where, doing, str(error).strip() or type(error).__name__,
                       delay, attempt + 1, len(CONNECTION_RETRY_DELAYS))
        if attempt == 0:
            # One dead connection usually means all of them died (a restart, a failover):
            # drop the broken idle ones now rather than meeting them one retry at a time.
            try:
                await self.pool.check()
            except Exception as check_error:
                logger.debug("pool check failed: %s", check_error)
        await asyncio.sleep(delay)

    def _publish(self, keys: Iterable[tuple[str, str]], earliest_due: float) -> None:
        wake = set(keys)
        if earliest_due < min(self.sweep_targets.values(), default=-math.inf):
            wake.add(("deadline", ""))
        if wake:
            self.notifier.publish(wake)

    def _payload(self, ctx: WriteContext) -> str:
        """``origin``, then one ``kind:key`` per line (``due:<time>`` for the earliest due)."""
        lines = [self.origin, *(f"{kind}:{key}" for kind, key in ctx.wake_keys)]
        if ctx.earliest_due < math.inf:
            lines.append(f"due:{ctx.earliest_due!r}")
        payload = "\n".join(lines)
        if len(payload.encode()) > _MAX_NOTIFY_PAYLOAD:
            return f"{self.origin}\nexternal:"
        return payload

    # -- LISTEN ------------------------------------------------------------------------------
    def _on_notify(self, payload: str) -> None:
        origin, _, rest = payload.partition("\n")
        if origin == self.origin:
            return
        keys = []
        earliest_due = math.inf
        for line in rest.split("\n"):
            kind, _, key = line.partition(":")
            if kind == "due":
                try:
                    earliest_due = min(earliest_due, float(key))
                except ValueError:
                    earliest_due = -math.inf
            elif kind:
                keys.append((kind, key))
        self._publish(keys, earliest_due)

    async def _listen_forever(self) -> None:
        """One connection that LISTENs and republishes other processes' commits in-process."""
        delay = 0.05
        connected_before = False
        channel = sql.SQL("LISTEN {}").format(sql.Identifier(self.options.channel))
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.options.conninfo, **self.options.connect_kwargs())
            except psycopg.Error as error:
                logger.warning("%s: LISTEN connection failed (%s); retrying in %.2f s",
                               self.options.where, str(error).strip(), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, LISTEN_RECONNECT_MAX_DELAY)
                continue
            try:
                await conn.execute(channel)
                if connected_before:
                    logger.info("%s: LISTEN connection restored", self.options.where)
                    # Whatever was committed while we were deaf: everyone looks again.
                    self.notifier.publish([EXTERNAL])
                connected_before = True
                delay = 0.05
                self._listening.set()
                async for notify in conn.notifies():
                    self._on_notify(notify.payload)
            except psycopg.Error as error:
                logger.warning("%s: LISTEN connection lost (%s); reconnecting",
                               self.options.where, str(error).strip())
            finally:
                try:
                    await conn.close()
                except Exception:
                    pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, LISTEN_RECONNECT_MAX_DELAY)
