"""The operations' statements on PostgreSQL's wire: libpq's pipeline, driven directly.

The store's operations are small: a few statements, most of them the same text every time. Run
through psycopg's cursors, the client spent more on each statement (a cursor, a nested pipeline
per transaction, a wait on the socket per call, each wait a hand-over of the GIL) than the
server spent executing it. Here every statement goes straight to libpq through psycopg's own
connection object (``conn.pgconn``) and its C adapters (``Transformer``: the same dumpers and
loaders, so values go in and come out exactly as through a cursor); a statement used twice is
prepared on its connection; nothing waits on the socket until the operation needs rows or the
transaction ends, so a transaction costs one wait per read phase and one for its commit.

A write opens with ``BEGIN`` and ends with ``COMMIT`` and a sync; a read is a sync alone (each
sync point commits an implicit transaction, which for reads is only a snapshot). An error
makes the server skip what follows up to the next sync; the first error is raised there, as
psycopg raises it (``psycopg.errors``), so the driver's retry rules see the same exceptions.
"""

from __future__ import annotations

import itertools
import select
import threading
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg import pq
from psycopg.adapt import PyFormat, Transformer

from ..tx import POSTGRESQL, GuessRefuted, Pending, Tx

Conn = psycopg.Connection[Any]

# Statements prepared per connection at most; later ones run unprepared (each parsed and
# planned by the server every time) rather than filling the server's memory.
MAX_PREPARED = 256
# Results a statement's slot asks for.
_IGNORE, _ROWS, _COUNT, _SYNC = 0, 1, 2, 3

_ExecStatus = pq.ExecStatus
_FATAL = _ExecStatus.FATAL_ERROR
_ABORTED = _ExecStatus.PIPELINE_ABORTED
_PIPELINE_SYNC = _ExecStatus.PIPELINE_SYNC
_READ = select.POLLIN | select.POLLPRI
_READ_WRITE = _READ | select.POLLOUT
_BEGIN = b"BEGIN"
_COMMIT = b"COMMIT"
_ROLLBACK = b"ROLLBACK"
# What ``assume_none`` makes the server fail with when its query finds a row: a text that is
# no integer, cast to one (an error of a known code and message, and no function to install).
_REFUTED = "stalwart: guess refuted"

_JOINED: dict[tuple[str, ...], str] = {}


def joined(statements: Sequence[str]) -> str:
    """Independent writes as one statement: ``WITH w0 AS (s0), w1 AS (s1), ... sN``."""
    key = tuple(statements)
    sql = _JOINED.get(key)
    if sql is None:
        sql = "WITH " + ", ".join(f"w{n} AS ({part})" for n, part in
                                  enumerate(statements[:-1])) + " " + statements[-1]
        if len(_JOINED) < 1024:
            _JOINED[key] = sql
    return sql


_QUERIES: dict[str, bytes] = {}
_FORMATS: dict[int, list[PyFormat]] = {}
_names = itertools.count()


def wire_query(sql: str) -> bytes:
    """The shared operations' ``?`` placeholders as ``$1``, ``$2``...; the operations write
    no ``?`` of their own outside parameters."""
    query = _QUERIES.get(sql)
    if query is None:
        parts = sql.split("?")
        text = parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))
        query = text.encode()
        if len(_QUERIES) < 4096:
            _QUERIES[sql] = query
    return query


def _formats(count: int) -> list[PyFormat]:
    formats = _FORMATS.get(count)
    if formats is None:
        formats = _FORMATS[count] = [PyFormat.AUTO] * count
    return formats


class _Wire:
    """What one connection keeps between transactions: its adapters, its prepared statements,
    and a poller on its socket."""

    __slots__ = ("adapt", "fd", "poller", "prepared", "seen")

    def __init__(self, conn: Conn) -> None:
        self.adapt = Transformer(conn)
        self.fd = conn.pgconn.socket
        self.poller = select.poll()
        self.poller.register(self.fd, _READ)
        # (query, parameter types) -> the statement's name on this connection.
        self.prepared: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        # Statements seen once: prepared the second time (most are used again and again; a
        # one-off is not worth a prepare).
        self.seen: set[tuple[bytes, tuple[int, ...]]] = set()


_WIRES: weakref.WeakKeyDictionary[Conn, _Wire] = weakref.WeakKeyDictionary()
_WIRES_LOCK = threading.Lock()


def _wire_of(conn: Conn) -> _Wire:
    with _WIRES_LOCK:
        wire = _WIRES.get(conn)
        if wire is None or wire.fd != conn.pgconn.socket:
            wire = _WIRES[conn] = _Wire(conn)
        return wire


class _Slot:
    """A statement sent whose result is still to come."""

    __slots__ = ("count", "kind", "prepares", "rows")

    def __init__(self, kind: int, prepares: tuple[bytes, tuple[int, ...]] | None = None) -> None:
        self.kind = kind
        self.rows: list[Any] | None = None
        self.count = 0
        # A statement being prepared: forgotten again if its prepare fails.
        self.prepares = prepares


_IGNORED = _Slot(_IGNORE)
_SYNCED = _Slot(_SYNC)


class WireTx(Tx):
    """A ``Tx`` over a pooled psycopg connection's libpq pipeline (see the module)."""

    __slots__ = ("_broken", "_sent", "conn", "deferred", "error", "guessing", "pending", "pg",
                 "wire")
    dialect = POSTGRESQL

    def __init__(self, conn: Conn, guessing: bool = True) -> None:
        super().__init__()
        self.guessing = guessing
        self.conn = conn
        self.pg = conn.pgconn
        self.wire = _wire_of(conn)
        # Results still to come, in the order the statements were sent.
        self.pending: deque[_Slot] = deque()
        # ``defer``red writes not sent yet: (sql, params).
        self.deferred: list[tuple[str, Sequence[Any]]] = []
        # The first error among results read (raised at the sync that ends its phase).
        self.error: BaseException | None = None
        # Something was sent since the last sync.
        self._sent = False
        # Left in a state the pool must not hand out again.
        self._broken = False
        self.pg.enter_pipeline_mode()

    # -- the transaction, for the driver -------------------------------------------------
    def begin(self) -> None:
        self._send_plain(_BEGIN)

    def commit(self) -> None:
        """Send what is deferred, ``COMMIT``, and wait for all of it; raise the first error."""
        if self.deferred:
            self.send_deferred()
        self._send_plain(_COMMIT)
        self.sync()

    def abandon(self) -> None:
        """End a failed transaction so the connection is fit for the pool again, or leave it
        to ``close`` (which closes it) when it is not."""
        self.deferred = []
        try:
            if self.pending or self._sent:
                # Read what is still to come; its errors are the failure's own or after it.
                try:
                    self.sync()
                except (psycopg.errors.Error, GuessRefuted):
                    if self.pg.status != pq.ConnStatus.OK:
                        self._broken = True
                        return
            if self.pg.transaction_status != pq.TransactionStatus.IDLE:
                # Sent after the sync: a ROLLBACK in the failed segment would be skipped too.
                self._send_plain(_ROLLBACK)
                self.sync()
        except Exception:
            self._broken = True  # the connection is in doubt: ``close`` closes it

    def close(self) -> None:
        """Leave pipeline mode, so psycopg (and the pool) find the connection as they left
        it; a connection left mid-pipeline by an error is closed, and the pool replaces it."""
        if not (self._broken or self.pending):
            try:
                self.pg.exit_pipeline_mode()
                return
            except psycopg.Error:
                pass
        self.conn.close()

    # -- statements ----------------------------------------------------------------------
    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._rows(sql, params)

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.deferred:
            self.send_deferred()
        self._send(sql, params, _IGNORED)

    def defer(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.deferred.append((sql, params))

    def send_deferred(self) -> None:
        """Send the deferred writes, as one statement (each costs the client about as much
        to send as a round trip's wait)."""
        deferred, self.deferred = self.deferred, []
        if len(deferred) == 1:
            sql, params = deferred[0]
        else:
            sql = joined([part for part, _ in deferred])
            params = [value for _, part_params in deferred for value in part_params]
        self._send(sql, params, _IGNORED)

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        if self.deferred:
            self.send_deferred()
        slot = _Slot(_COUNT)
        self._send(sql, params, slot)
        self.sync()
        return slot.count

    def flush(self) -> None:
        if self.deferred:
            self.send_deferred()
        if self._sent:
            self.sync()

    def later(self, sql: str, params: Sequence[Any] = ()) -> Pending:
        if self.deferred:
            self.send_deferred()
        slot = _Slot(_ROWS)
        self._send(sql, params, slot)

        def fetch() -> list[Any]:
            if slot.rows is None:
                self.sync()
            if slot.rows is None:  # skipped by the server after an earlier statement's error
                raise psycopg.errors.InFailedSqlTransaction(
                    "the statement was not run: an earlier statement of its transaction failed")
            return slot.rows
        return Pending(fetch)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.deferred:
            self.send_deferred()
        for params in rows:
            self._send(sql, params, _IGNORED)

    def assume_none(self, sql: str, params: Sequence[Any] = ()) -> None:
        assert self.guessing, "assume_none without guessing"
        self.run(f"SELECT CAST(CASE WHEN EXISTS ({sql}) THEN '{_REFUTED}' END AS integer)",
                 params)

    # -- the pipeline --------------------------------------------------------------------
    def _rows(self, sql: str, params: Sequence[Any]) -> list[Any]:
        if self.deferred:
            self.send_deferred()
        slot = _Slot(_ROWS)
        self._send(sql, params, slot)
        self.sync()
        assert slot.rows is not None
        return slot.rows

    def _send_plain(self, query: bytes) -> None:
        self.pg.send_query_params(query, None)
        self.pending.append(_IGNORED)
        self._sent = True

    def _send(self, sql: str, params: Sequence[Any], slot: _Slot) -> None:
        pg = self.pg
        wire = self.wire
        query = wire_query(sql)
        if params:
            adapt = wire.adapt
            values = adapt.dump_sequence(params, _formats(len(params)))
            types: tuple[int, ...] = adapt.types or ()
            formats = adapt.formats
        else:
            values, types, formats = None, (), None
        key = (query, types)
        name = wire.prepared.get(key)
        if name is None and key in wire.seen and len(wire.prepared) < MAX_PREPARED:
            # Named afresh every time: a prepare lost to an error never clashes with a retry.
            name = f"_st{next(_names)}".encode()
            pg.send_prepare(name, query, param_types=types)
            self.pending.append(_Slot(_IGNORE, key))
            wire.prepared[key] = name
        if name is not None:
            pg.send_query_prepared(name, values, param_formats=formats)
        else:
            if len(wire.seen) < 4 * MAX_PREPARED:
                wire.seen.add(key)
            pg.send_query_params(query, values, param_types=types or None,
                                 param_formats=formats)
        self.pending.append(slot)
        self._sent = True

    def sync(self) -> None:
        """Send a sync point, read every result up to it, and raise the first error."""
        pg = self.pg
        pg.pipeline_sync()
        self.pending.append(_SYNCED)
        self._sent = False
        self._send_all()
        pending = self.pending
        wire = self.wire
        while pending:
            slot = pending.popleft()
            result = self._result()
            if slot.kind == _SYNC:
                if result is None or result.status != _PIPELINE_SYNC:
                    raise psycopg.OperationalError("the server's replies lost their order")
                break
            if result is None:
                raise psycopg.OperationalError("a statement's reply is missing")
            status = result.status
            if status == _FATAL:
                if self.error is None:
                    self.error = _refuted(psycopg.errors.error_from_result(result))
                if slot.prepares is not None:
                    wire.prepared.pop(slot.prepares, None)
            elif status == _ABORTED:
                if slot.prepares is not None:
                    wire.prepared.pop(slot.prepares, None)
            elif slot.kind == _ROWS:
                adapt = wire.adapt
                adapt.set_pgresult(result)
                slot.rows = adapt.load_rows(0, result.ntuples, tuple)
            elif slot.kind == _COUNT:
                slot.count = result.command_tuples or 0
            # Each statement's results end with an empty one.
            if self._result() is not None:
                raise psycopg.OperationalError("a statement sent more replies than one")
        error, self.error = self.error, None
        if error is not None:
            raise error

    def _send_all(self) -> None:
        """Flush libpq's output buffer, reading meanwhile so a server that is sending results
        back never blocks on a client that is still sending."""
        pg = self.pg
        while pg.flush():
            if self._wait(_READ_WRITE) & _READ:
                pg.consume_input()

    def _result(self) -> pq.abc.PGresult | None:
        pg = self.pg
        while pg.is_busy():
            self._wait(_READ)
            pg.consume_input()
        return pg.get_result()

    def _wait(self, events: int) -> int:
        poller = self.wire.poller
        poller.modify(self.wire.fd, events)
        while True:
            ready = poller.poll()
            if ready:
                return ready[0][1]


def _refuted(error: psycopg.Error) -> BaseException:
    """``error``, or ``GuessRefuted`` where it is an ``assume_none`` failing."""
    if isinstance(error, psycopg.errors.InvalidTextRepresentation) and _REFUTED in str(error):
        refuted = GuessRefuted(str(error).strip())
        refuted.__cause__ = error
        return refuted
    return error


@contextmanager
def wire_tx(conn: Conn, *, begin: bool = False, guessing: bool = True) -> Iterator[WireTx]:
    """A ``WireTx`` on ``conn`` for the block (``BEGIN`` first if ``begin``; the block commits
    or flushes): a failure is abandoned, and the connection always leaves pipeline mode (or is
    closed)."""
    tx = WireTx(conn, guessing)
    try:
        if begin:
            tx.begin()
        yield tx
    except BaseException:
        tx.abandon()
        raise
    finally:
        tx.close()
