"""The SQLite driver: opening and checking the file, the group-commit writer, the readers.

Every write runs on one writer thread. Operations that arrive while a commit is in flight are
batched into the next transaction (each inside its own savepoint, so one failing operation does
not undo its neighbours), so many concurrent workflows share one fsync. The writer also watches
``PRAGMA data_version`` to learn, cheaply, that another process committed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from ...exceptions import StoreError
from .. import schema
from ..batch import QueuedWrite, resolve_all, take_batch
from ..tx import SQLITE, Pending, Tx, WakeKeys, handing

logger = logging.getLogger(__name__)

_SQLITE_HEADER = b"SQLite format 3\x00"
# How often an idle writer looks for commits by other processes.
EXTERNAL_CHANGE_POLL_SECONDS = 0.02


@dataclass
class SqliteOptions:
    path: str
    synchronous: str = "FULL"
    busy_timeout_ms: int = 30_000


def parse_url(url: str) -> SqliteOptions:
    parsed = urlparse(url)
    if parsed.scheme != "sqlite":
        raise ValueError(f"not a sqlite URL: {url!r}")
    # SQLAlchemy's convention: sqlite:///relative/file.db, sqlite:////absolute/file.db.
    path = unquote(parsed.path)
    if parsed.netloc:  # sqlite://relative/path.db
        path = parsed.netloc + path
    elif path.startswith("//") or path.startswith("/"):
        path = path[1:]
    if not path or path == "/":
        raise ValueError(f"store URL {url!r} names no file: use sqlite:///path/to/file.db")
    query = parse_qs(parsed.query)
    synchronous = query.get("synchronous", ["FULL"])[0].upper()
    if synchronous not in ("FULL", "NORMAL", "EXTRA"):
        raise ValueError(f"store URL {url!r}: synchronous={synchronous!r} must be FULL, NORMAL "
                         "or EXTRA (FULL is the durable default)")
    return SqliteOptions(path=path, synchronous=synchronous)


# Files this process has already checked (by real path). Closing any file descriptor of a
# database file drops every POSIX lock the process holds on it, the locks of open SQLite
# connections included (SQLite's "posix advisory locks" caveat): a second store opened on a
# file this process already uses must not open the file itself again, or the first store's
# readers lose their locks and can be left reading an old snapshot while other processes
# checkpoint the WAL under them.
_CHECKED: set[str] = set()
_CHECKED_LOCK = threading.Lock()


def check_file(path: str) -> None:
    """Refuse a file that is not SQLite, before SQLite gets a chance to misread it."""
    real = os.path.realpath(path)
    with _CHECKED_LOCK:
        if real in _CHECKED:
            return
        _check_file(path)
        # A file that does not exist yet is created by SQLite, as a SQLite file.
        _CHECKED.add(real)


def _check_file(path: str) -> None:
    file = Path(path)
    if file.is_dir():
        raise StoreError(f"store file {path!r} is a directory; give a file path such as "
                         f"{path.rstrip('/')}/stalwart.db")
    if not file.exists() or file.stat().st_size == 0:
        if not file.parent.exists():
            raise StoreError(f"cannot create store file {path!r}: directory {file.parent} does "
                             "not exist")
        return
    try:
        with file.open("rb") as handle:
            header = handle.read(16)
    except OSError as error:
        raise StoreError(f"cannot read store file {path!r}: {error}") from error
    if header != _SQLITE_HEADER:
        raise StoreError(f"store file {path!r} is not a SQLite database (it starts with "
                         f"{header[:8]!r}); point the store URL at a new or Stalwart file")


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """Switch a (possibly brand-new) file to WAL. Several processes creating the same file at
    once can find it locked for the switch, which busy_timeout does not cover: retry briefly."""
    mode = "unknown"
    for attempt in range(100):
        try:
            mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
        if mode.lower() == "wal":
            return mode
        time.sleep(0.01 * (1 + attempt % 5))
    return mode


def connect(options: SqliteOptions) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(options.path, isolation_level=None, check_same_thread=False,
                               timeout=options.busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {options.busy_timeout_ms}")
        mode = _switch_to_wal(conn)
        if str(mode).lower() != "wal":
            raise StoreError(f"store file {options.path!r}: cannot switch to WAL mode "
                             f"(got {mode}); is it on a network file system?")
        conn.execute(f"PRAGMA synchronous = {options.synchronous}")
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA cache_size = -16000")
        conn.execute("PRAGMA temp_store = MEMORY")
    except sqlite3.DatabaseError as error:
        raise StoreError(f"cannot open store file {options.path!r}: {error}") from error
    return conn


class SqliteTx(Tx):
    """A ``Tx`` over a sqlite3 connection (its statements already use ``?``)."""

    __slots__ = ("conn",)
    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection) -> None:
        # Tx.__init__ inlined: one of these is made per operation on the hot path.
        self.wake_keys: dict[tuple[str, str], int] = {}
        self.earliest_due = math.inf
        self.inputs_added = 0
        self.conn = conn

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, params).fetchone()

    def later(self, sql: str, params: Sequence[Any] = ()) -> Pending:
        # SQLite runs the query at once; nothing to pipeline.
        return Pending(None, self.conn.execute(sql, params).fetchall())

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.conn.execute(sql, params)

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)


def in_tx(conn: sqlite3.Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    return fn(SqliteTx(conn), *args)


# The tables of an agent store file from before the agent tables joined the one schema.
_OLD_AGENT_TABLES = {"content", "stream"}


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Create or upgrade the schema; safe when several processes open the file at once."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as error:
        raise StoreError(f"cannot use store file {path!r}: {error}") from error
    try:
        tables = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}
        old_agent_file = tables == _OLD_AGENT_TABLES
        foreign = (f"store file {path!r} is a SQLite database of another application (tables: "
                   f"{', '.join(sorted(tables)[:5])}); give Stalwart a file of its own")
        schema.migrate(SqliteTx(conn), tables, f"store file {path!r}",
                       foreign if tables and not old_agent_file else None)
        if old_agent_file:
            _take_over_agent_file(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _take_over_agent_file(conn: sqlite3.Connection) -> None:
    """Move an old agent store file's rows into the agent tables of the one schema."""
    conn.execute("INSERT INTO agent_content (key, workflow_id, data, created_at) "
                 "SELECT key, workflow_id, data, created_at FROM content")
    conn.execute("INSERT INTO agent_stream (workflow_id, stream_id, text, done, version, "
                 "updated_at) SELECT workflow_id, stream_id, text, done, version, updated_at "
                 "FROM stream")
    conn.execute("DROP TABLE content")
    conn.execute("DROP TABLE stream")


@dataclass
class _Op(QueuedWrite):
    wake_keys: dict[tuple[str, str], int] = field(default_factory=dict)
    earliest_due: float = math.inf


class Writer:
    """The single writer thread with group commit."""

    MAX_BATCH = 512

    def __init__(self, options: SqliteOptions,
                 on_commit: Callable[[Iterable[tuple[str, str]], float], None]) -> None:
        self._options = options
        self._conn = connect(options)
        self._queue: queue.SimpleQueue[_Op | None] = queue.SimpleQueue()
        self._on_commit = on_commit
        self._closed = False
        self._data_version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        self._thread = threading.Thread(target=self._run, name="stalwart-sqlite-writer",
                                        daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        if self._closed:
            raise StoreError("the store is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Op(fn, args, future, loop))
        return future

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._conn.close()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=EXTERNAL_CHANGE_POLL_SECONDS)
            except queue.Empty:
                self._check_external_change()
                continue
            if first is None:
                return
            batch, stop = take_batch(self._queue, first, self.MAX_BATCH)
            self._commit(batch)
            self._check_external_change()
            if stop:
                return

    def _check_external_change(self) -> None:
        try:
            version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return
        if version != self._data_version:
            self._data_version = version
            self._on_commit({("external", "")}, math.inf)

    def _commit(self, batch: list[_Op]) -> None:
        conn = self._conn
        wake: set[tuple[str, str]] = set()
        # What the operations handed to waiters (``Tx.hand``), if any did.
        handed: dict[tuple[str, str], Pending] | None = None
        earliest_due = math.inf
        try:
            conn.execute("BEGIN IMMEDIATE")
            # A savepoint per operation keeps one failure from undoing its neighbours; an
            # operation alone in its batch needs none (the transaction is its savepoint).
            alone = len(batch) == 1
            for op in batch:
                tx = SqliteTx(conn)
                if not alone:
                    conn.execute("SAVEPOINT op")
                try:
                    op.result = op.fn(tx, *op.args)
                    if not alone:
                        conn.execute("RELEASE op")
                    op.wake_keys = tx.wake_keys
                    op.earliest_due = tx.earliest_due
                except BaseException as error:  # the op's own failure, reported to its caller
                    if alone:
                        conn.execute("ROLLBACK")
                        conn.execute("BEGIN IMMEDIATE")
                    else:
                        conn.execute("ROLLBACK TO op")
                        conn.execute("RELEASE op")
                    op.error = _map_error(error, self._options.path)
            conn.execute("COMMIT")
            for op in batch:
                wake.update(op.wake_keys)
                if isinstance(op.wake_keys, WakeKeys):
                    handed = {**(handed or {}), **op.wake_keys.handed}
                earliest_due = min(earliest_due, op.earliest_due)
        except sqlite3.Error as error:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            mapped = _map_error(error, self._options.path)
            for op in batch:
                op.error, op.result = mapped, None
        resolve_all(batch)
        if wake or earliest_due < math.inf:
            self._on_commit(wake if handed is None else handing(wake, handed), earliest_due)


def _map_error(error: BaseException, path: str) -> BaseException:
    if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError) and not isinstance(
        error, sqlite3.IntegrityError
    ):
        mapped = StoreError(f"store {path!r}: {error}")
        mapped.__cause__ = error
        return mapped
    return error


class Reader:
    """Reads on their own thread and connection (WAL lets them run beside the writer).

    ``point`` runs a tiny indexed read (one row by key, an EXISTS check) on the caller's
    thread over a second connection: in WAL mode a reader never waits for the writer, and a
    point read costs less than the hop to another thread.
    """

    def __init__(self, options: SqliteOptions) -> None:
        self._path = options.path
        self._conn = connect(options)
        self._point_conn = connect(options)
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stalwart-sqlite-r")

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn, args)

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._call(fn, args)

    def point(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(self._point_conn, *args)
        except sqlite3.Error as error:
            raise _map_error(error, self._path) from error

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        with self._lock:
            try:
                return fn(self._conn, *args)
            except sqlite3.Error as error:
                raise _map_error(error, self._path) from error

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        self._conn.close()
        self._point_conn.close()


class BlockingDatabase:
    """Operations run on the calling thread, each thread on a connection of its own: for
    callers outside an event loop (the agent layer's side tables)."""

    def __init__(self, options: SqliteOptions) -> None:
        self._options = options
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._options)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(SqliteTx(conn), *args)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            raise _map_error(error, self._options.path) from error
        return result

    def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(SqliteTx(self._conn()), *args)
        except sqlite3.Error as error:
            raise _map_error(error, self._options.path) from error

    def close(self) -> None:
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()

