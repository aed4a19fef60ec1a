"""The PostgreSQL driver: the URL, the pool, retrying across lost connections, and LISTEN.

Operations are the shared synchronous ones; each runs on one of the driver's threads over a
pooled connection (psycopg releases the GIL while it waits for the server, so the threads
overlap their round trips the way coroutines would, with less overhead per statement). Every
write is one short transaction. A write whose connection broke before COMMIT was sent rolled
back on the server, so it is retried; one that broke while committing may or may not have
happened, so it raises ``StoreError`` and the engine's fencing (leases expire, tasks come back)
takes over. Deadlocks and serialisation failures are rolled back by the server and are always
retried.
"""

from __future__ import annotations

import asyncio
import logging
import math
import queue
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import psycopg
import psycopg.errors
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..._engine.liveness import HEARTBEAT_INTERVAL_SECONDS
from ...exceptions import StoreError
from ..batch import QueuedWrite, resolve_all, take_batch
from ..tx import GuessRefuted, Tx
from ..wakeup import AFFINE_TASK, EXTERNAL, WORK_KINDS
from .announcer import LISTEN_RECONNECT_MAX_DELAY, Announcer
from .peers import (
    ACK_TIMEOUT_SECONDS,
    HELLO,
    HELLO_ACK,
    OTHERS_SQL,
    Arrival,
    Peers,
    Work,
    census_params,
    listener_name,
    origin_of,
)
from .wire import WireTx, wire_tx

logger = logging.getLogger(__name__)

T = TypeVar("T")
Conn = psycopg.Connection[Any]

DEFAULT_SCHEMA = "stalwart"
DEFAULT_POOL_SIZE = 8
# Backoff before each retry of an operation whose connection was lost (about 4 s in all).
CONNECTION_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0)
# Deadlocks between two runs' transactions (a parent and a child closing together) are rare and
# cheap to redo.
CONFLICT_RETRIES = 8
# Operations per shared transaction (see ``GroupWriter``): enough to amortise a commit, its
# round trip and a pool checkout; few enough that one batch's round trips, which follow one
# another, stay short, and that several batches overlap on the pool's connections (one
# connection is left for reads). Measured on AGENT_load: 64 per batch on 2 threads was slower
# than 16 on 7.
GROUP_MAX_BATCH = 16
# A sweeper never sleeps longer than this before it reads when the next thing falls due: a
# commit's due time further ahead than that needs no notification to other processes.
REMOTE_DUE_HORIZON_SECONDS = HEARTBEAT_INTERVAL_SECONDS
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Query parameters of the store URL that are Stalwart's own; everything else goes to libpq.
_OWN_PARAMETERS = ("schema", "pool_size", "announce")
# ``announce=``: ``auto`` tells other processes only while the census finds some (see
# ``peers``); ``always`` tells them whatever it finds, for servers reached through something
# that hides the stores' ``application_name`` from ``pg_stat_activity``.
_ANNOUNCE = ("auto", "always")


@dataclass
class PostgresOptions:
    conninfo: str
    schema: str = DEFAULT_SCHEMA
    pool_size: int = DEFAULT_POOL_SIZE
    announce: str = "auto"

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
    announce = own.get("announce", "auto")
    if announce not in _ANNOUNCE:
        raise ValueError(f"store URL {url!r}: announce={announce!r} must be 'auto' (tell other "
                         "processes while any listen) or 'always'")
    if not any(key == "application_name" for key, _ in passed):
        # Names Stalwart's sessions in pg_stat_activity.
        passed.append(("application_name", "stalwart"))
    conninfo = urlunparse(parsed._replace(query=urlencode(passed)))
    return PostgresOptions(conninfo=conninfo, schema=schema, pool_size=pool_size,
                           announce=announce)


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


class Database:
    """The pool, the threads that use it, and the retry rules."""

    def __init__(self, options: PostgresOptions,
                 publish: Callable[[Iterable[tuple[str, str]], float], None],
                 room: Callable[[tuple[str, str]], int] = lambda key: 0,
                 listens: Callable[[tuple[str, str]], bool] = lambda key: False) -> None:
        self.options = options
        self._publish = publish
        # How many tasks of a queue this process's pollers would take now (``Notifier.room``).
        self._room = room
        # Whether anyone in this process waits for a key (``Notifier.listens``).
        self._listens = listens
        # Tags this store's notifications so its own listener skips them: they were already
        # published in-process right after the commit.
        self.origin = uuid.uuid4().hex
        self.pool: ConnectionPool[Conn] = ConnectionPool(
            options.conninfo, kwargs=options.connect_kwargs(), min_size=2,
            max_size=options.pool_size, open=False, timeout=10.0, name="stalwart",
            reconnect_timeout=60.0)
        self._threads = ThreadPoolExecutor(max_workers=options.pool_size,
                                           thread_name_prefix="stalwart-postgres")
        self.announcer = Announcer(options, self.origin)
        self._group = GroupWriter(self, options.pool_size - 1)
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._arrival: Arrival | None = None
        self._check_lock = threading.Lock()

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._threads, lambda: self.pool.open(wait=True,
                                                                             timeout=15.0))
        except PoolTimeout as error:
            await loop.run_in_executor(self._threads, self.pool.close)
            raise store_error(self.options, error, "opening the connection pool") from error
        self.announcer.peers.opened()
        self._listener = loop.create_task(self._listen_forever(),
                                          name="stalwart-postgres-listen")
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
            self.announcer.peers.closed()
            self._listener.cancel()
            try:
                await self._listener
            except (asyncio.CancelledError, Exception):
                pass
            self._listener = None
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._threads, self._group.close)
        await loop.run_in_executor(self._threads, self.announcer.close)
        await loop.run_in_executor(self._threads, self.pool.close)
        self._threads.shutdown(wait=False)

    # -- running operations ----------------------------------------------------------------
    def write(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        # The group writer's future itself: no coroutine frame per write.
        return self._group.submit(fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self.read_blocking, fn, args)

    def write_blocking(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Run ``fn(tx, *args)`` in one transaction, commit, publish."""
        result, tx = self.write_unpublished(fn, args)
        if tx.anything:
            self.committed(tx)
        return result

    def write_unpublished(self, fn: Callable[..., T], args: tuple[Any, ...]
                          ) -> tuple[T, WireTx]:
        """``write_blocking`` but for the publishing, which is the caller's: its commit's
        wake-ups (``committed(tx)``) go out after the caller has handed the result back, so
        an operation's own caller resumes before whoever waits for what it changed (as on
        SQLite: a worker's bookkeeping after its commit comes before the client it woke)."""
        doing = _doing(fn)
        conflicts = 0
        lost = 0
        guessing = True
        while True:
            committing = False
            try:
                with self.pool.connection() as conn, \
                        wire_tx(conn, begin=True, guessing=guessing) as tx:
                    result = fn(tx, *args)
                    # COMMIT goes out with the statements still queued: an error of one of
                    # them surfaces here and, as the server rolled back, is retried or raised
                    # like any other.
                    committing = True
                    tx.commit()
            except GuessRefuted:
                # Rolled back on the server (the guess failed before the COMMIT): once more,
                # reading first.
                guessing = False
                continue
            except Exception as error:
                if is_conflict(error) and conflicts < CONFLICT_RETRIES:
                    conflicts += 1
                    logger.debug("%s: %s conflicted (%s); retrying", self.options.where, doing,
                                 error)
                    time.sleep(0.005 * conflicts)
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
                self.backoff(doing, error, lost)
                lost += 1
                continue
            return result, tx

    def committed(self, tx: Tx) -> None:
        """Wake this process's waiters at once, and the other processes' soon after."""
        self.publish(tx)
        self.announce(tx.wake_keys, tx.earliest_due)

    def publish(self, tx: Tx) -> None:
        """Wake this process's waiters of what ``tx`` committed."""
        self._publish(tx.wake_keys, tx.earliest_due)

    def announce(self, keys: dict[tuple[str, str], int], due: float) -> None:
        """Tell other processes what a commit changed that concerns them: every waiter kind
        but ready tasks to everyone; ready tasks only beyond what this process's own pollers,
        already woken, have room for, and then to as few pollers as there are such tasks
        (see ``Peers``); a due time only if a sweeper could be asleep past it. Nothing while
        no other store listens (``Announcer.alone``)."""
        if self.announcer.alone:
            return
        broadcast: set[tuple[str, str]] = set()
        work: Work = {}
        affine: set[str] = set()
        for key, count in keys.items():
            if key[0] in WORK_KINDS:
                left = count - self._room(key)
                if left > 0:
                    work[key, 0] = left
            elif key[0] == AFFINE_TASK:
                # Its worker's poller here was woken with the commit; one elsewhere is told
                # on its own process's channel.
                if not self._listens(key):
                    affine.add(key[1])
            else:
                broadcast.add(key)
        if due - time.time() >= REMOTE_DUE_HORIZON_SECONDS:
            due = math.inf
        if broadcast or work or affine or due < math.inf:
            self.announcer.add(broadcast, due, work, affine)

    def hand_on(self, key: tuple[str, str]) -> None:
        """A poller here filled up and may have left tasks behind: one more process looks."""
        if not self.announcer.alone:
            self.announcer.add((), math.inf, {(key, 0): 1})

    def read_blocking(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """Run ``fn(tx, *args)`` outside a transaction; reads are always safe to repeat."""
        lost = 0
        while True:
            try:
                with self.pool.connection() as conn, wire_tx(conn) as tx:
                    result = fn(tx, *args)
                    tx.flush()
                    return result
            except Exception as error:
                if not is_connection_error(error):
                    if isinstance(error, psycopg.Error):
                        raise store_error(self.options, error, _doing(fn)) from error
                    raise
                self.backoff(_doing(fn), error, lost)
                lost += 1

    def backoff(self, doing: str, error: BaseException, attempt: int) -> None:
        """Wait before retrying after a lost connection; raise once the retries are spent."""
        if attempt >= len(CONNECTION_RETRY_DELAYS):
            logger.error("%s: %s failed after %d reconnection attempts: %s",
                         self.options.where, doing, attempt, error)
            raise store_error(self.options, error, doing) from error
        delay = CONNECTION_RETRY_DELAYS[attempt]
        logger.warning("%s: connection lost during %s (%s); retrying in %.2f s (%d/%d)",
                       self.options.where, doing, str(error).strip() or type(error).__name__,
                       delay, attempt + 1, len(CONNECTION_RETRY_DELAYS))
        if attempt == 0 and self._check_lock.acquire(blocking=False):
            # One dead connection usually means all of them died (a restart, a failover):
            # drop the broken idle ones now rather than meeting them one retry at a time.
            try:
                self.pool.check()
            except Exception as check_error:
                logger.debug("pool check failed: %s", check_error)
            finally:
                self._check_lock.release()
        time.sleep(delay)

    # -- LISTEN ------------------------------------------------------------------------------
    def _on_notify(self, payload: str) -> None:
        origin, _, rest = payload.partition("\n")
        if origin == self.origin:
            return
        keys = []
        earliest_due = math.inf
        work: Work = {}
        for line in rest.split("\n"):
            kind, _, key = line.partition(":")
            if kind == "due":
                try:
                    earliest_due = min(earliest_due, float(key))
                except ValueError:
                    earliest_due = -math.inf
            elif kind == "work":
                addressed = Peers.parse(key)
                if addressed is not None:
                    keys.append(addressed[0][0])
                    work[addressed[0]] = work.get(addressed[0], 0) + addressed[1]
            elif kind == HELLO:
                self.announcer.greeted(key)
            elif kind == HELLO_ACK:
                if key == self.origin and self._arrival is not None and \
                        self._arrival.answer(origin):
                    keys.append(EXTERNAL)  # it may have skipped telling us: everyone looks
            elif kind:
                keys.append((kind, key))
        self._publish(keys, earliest_due)
        # Tasks addressed here beyond this process's room go on to the next process.
        handed: Work = {}
        for (queue_key, hops), count in work.items():
            left = count - self._room(queue_key)
            if left > 0:
                handed[queue_key, hops + 1] = left
        if handed:
            self.announcer.add((), math.inf, handed)

    async def _arrive(self, conn: psycopg.AsyncConnection[Any], reconnected: bool
                      ) -> asyncio.Task[None] | None:
        """Say hello to the stores that listen already, if any; once they have all answered
        (or ``ACK_TIMEOUT_SECONDS`` passed), this store is open, and after a reconnection
        everyone here looks again. The task that waits, or None if nobody else listens."""
        cursor = await conn.execute(OTHERS_SQL, census_params(self.options.schema, self.origin))
        others = {origin_of(name) for (name,) in await cursor.fetchall()}
        self._arrival = arrival = Arrival(others)
        if others:
            await conn.execute("SELECT pg_notify(%s, %s)",
                               (self.options.channel, f"{self.origin}\n{HELLO}:{self.origin}"))

        async def answered() -> None:
            try:
                await asyncio.wait_for(arrival.answered.wait(), ACK_TIMEOUT_SECONDS)
            except TimeoutError:
                arrival.late = True
                logger.info("%s: %d other store(s) did not answer within %.1f s; going on",
                            self.options.where, len(arrival.expected), ACK_TIMEOUT_SECONDS)
            if reconnected:
                # Whatever was committed while we were deaf: everyone looks again.
                self._publish([EXTERNAL], math.inf)
            self._listening.set()
        if not others:
            await answered()
            return None
        return asyncio.get_running_loop().create_task(answered())

    async def _listen_forever(self) -> None:
        """One connection that LISTENs and republishes other processes' commits in-process."""
        delay = 0.05
        connected_before = False
        arriving: asyncio.Task[None] | None = None
        channels = [sql.SQL("LISTEN {}").format(sql.Identifier(name))
                    for name in (self.options.channel, self.announcer.peers.own)]
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.options.conninfo, **self.options.connect_kwargs(),
                    application_name=listener_name(self.options.schema, self.origin))
            except psycopg.Error as error:
                logger.warning("%s: LISTEN connection failed (%s); retrying in %.2f s",
                               self.options.where, str(error).strip(), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, LISTEN_RECONNECT_MAX_DELAY)
                continue
            try:
                for channel in channels:
                    await conn.execute(channel)
                if connected_before:
                    logger.info("%s: LISTEN connection restored", self.options.where)
                arriving = await self._arrive(conn, connected_before)
                connected_before = True
                delay = 0.05
                async for notify in conn.notifies():
                    self._on_notify(notify.payload)
            except psycopg.Error as error:
                logger.warning("%s: LISTEN connection lost (%s); reconnecting",
                               self.options.where, str(error).strip())
            finally:
                if arriving is not None:
                    arriving.cancel()
                    arriving = None
                try:
                    await conn.close()
                except Exception:
                    pass
            await asyncio.sleep(delay)
            delay = min(delay * 2, LISTEN_RECONNECT_MAX_DELAY)


class GroupWriter:
    """Group commit: the writes that the asyncio callers submit while a transaction is busy
    share the next one.

    Each of a few threads takes every write waiting (up to ``GROUP_MAX_BATCH``) and runs them
    one after another in one transaction on one pooled connection, pipelined across operation
    boundaries, and commits once. Under load that replaces a commit (a WAL flush and a round
    trip), a pool checkout and a hand-over between threads per operation with one per batch,
    which is most of what a small operation costs the client.

    A batch commits whole or not at all. If any of its operations fails (its own error, a
    conflict with another transaction, a connection lost before the COMMIT), the server has
    rolled the whole batch back, and each operation is run again alone, in a transaction of
    its own with the usual retries, so each caller gets exactly its own outcome and a failing
    operation never takes its neighbours' down with it; a guess of one of them refuted by the
    server (``Tx.assume_none``) reruns the batch together once, none of them guessing. The
    operations are written to be rerun (conflicts already rerun them). A connection lost while
    the COMMIT was on its way leaves the batch's outcome unknown: every operation in it raises
    ``StoreError``, as a lone write does.
    """

    def __init__(self, db: Database, threads: int) -> None:
        self._db = db
        self._queue: queue.SimpleQueue[QueuedWrite | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"stalwart-postgres-group-{n}",
                                          daemon=True) for n in range(max(1, threads))]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> asyncio.Future[Any]:
        if self._closed:
            raise StoreError(f"{self._db.options.where}: the store is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(QueuedWrite(fn, args, future, loop))
        return future

    def close(self) -> None:
        """Finish what was submitted, then stop."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        # A write submitted while the store was closing is refused, not left waiting forever.
        late: list[QueuedWrite] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                item.error = StoreError(f"{self._db.options.where}: the store is closed")
                late.append(item)
        resolve_all(late)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stop = take_batch(self._queue, first, GROUP_MAX_BATCH)
            committed: list[WireTx] = []
            try:
                self._commit(batch, committed)
            except BaseException as error:  # never lose a caller to a bug here
                for op in batch:
                    if op.error is None:
                        op.error = error
            committed = [tx for tx in committed if tx.anything]
            # Other processes are told before the callers resume (what this process's pollers
            # have room for is read as the commit left it); this process's waiters after them
            # (see ``Database.write_unpublished``).
            for tx in committed:
                self._db.announce(tx.wake_keys, tx.earliest_due)
            resolve_all(batch)
            for tx in committed:
                self._db.publish(tx)
            if stop:
                return

    def _commit(self, batch: list[QueuedWrite], committed: list[WireTx]) -> None:
        """Commit ``batch``; the transactions that committed go to ``committed``."""
        db = self._db
        lost = 0
        guessing = True
        while len(batch) > 1:
            committing = False
            try:
                with db.pool.connection() as conn, \
                        wire_tx(conn, begin=True, guessing=guessing) as tx:
                    for op in batch:
                        op.result = op.fn(tx, *op.args)
                    committing = True
                    tx.commit()
            except GuessRefuted:
                # Rolled back whole: once more, every operation reading first.
                guessing = False
                continue
            except Exception as error:
                if not is_connection_error(error):
                    logger.debug("%s: a batch of %d operations failed (%s); running each alone",
                                 db.options.where, len(batch), error)
                    break
                if committing:
                    logger.warning("%s: connection lost while committing %d operations; their "
                                   "outcome is unknown: %s", db.options.where, len(batch), error)
                    for op in batch:
                        op.result = None
                        op.error = store_error(db.options, error,
                                               f"committing {_doing(op.fn)}")
                    return
                # Rolled back by the server: the whole batch is retried, after the backoff.
                try:
                    db.backoff(f"{len(batch)} operations", error, lost)
                except StoreError as gave_up:
                    for op in batch:
                        op.result, op.error = None, gave_up
                    return
                lost += 1
                continue
            committed.append(tx)
            return
        for op in batch:
            try:
                op.result, tx = db.write_unpublished(op.fn, op.args)
                committed.append(tx)
            except Exception as error:
                op.result = None
                op.error = error


def _doing(fn: Callable[..., Any]) -> str:
    """An operation's name as words, for log lines and errors ("complete workflow task")."""
    return fn.__name__.lstrip("_").replace("_", " ")
