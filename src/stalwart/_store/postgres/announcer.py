"""Telling the other processes what this one committed: the notifying thread, its census of
the other stores, and its answers to newcomers (see ``peers``)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import psycopg

from ..wakeup import AFFINE_TASK, EXTERNAL
from .peers import CENSUS_REFRESH_SECONDS, HELLO_ACK, Peers, Work, others_listening
from .wire import wire_tx

if TYPE_CHECKING:
    from .connection import PostgresOptions

logger = logging.getLogger(__name__)

Conn = psycopg.Connection[Any]

LISTEN_RECONNECT_MAX_DELAY = 5.0
# PostgreSQL refuses notification payloads of 8000 bytes or more.
_MAX_NOTIFY_PAYLOAD = 7000


class Announcer:
    """Tells the other processes what this one committed, after the commits, in batches.

    A NOTIFY inside a write would make its COMMIT take the lock PostgreSQL uses to keep
    notifications in commit order, and hold it through the WAL flush: every notifying commit of
    the cluster would wait for the one before it, and no two writes, of any process, could
    share a flush. Sent after the commit instead, from a thread of its own on a connection of
    its own, the wake-ups of every write that committed meanwhile go out together in one NOTIFY
    (a transaction that writes nothing, so flushes nothing). A wake-up lost to a crash between
    a commit and its NOTIFY costs the other processes latency, never work: their pollers look
    again every few seconds, and the sweeper finds everything that falls due.

    The same thread takes the census (``peers.others_listening``) about once a second; while
    no other store listens, ``alone`` is true and the commits announce nothing. A newcomer's
    hello makes it false at once, before this thread answers the newcomer (see ``peers``).
    """

    def __init__(self, options: PostgresOptions, origin: str) -> None:
        self._options = options
        self._origin = origin
        self._keys: set[tuple[str, str]] = set()
        self._due = math.inf
        # Tasks of a queue for pollers of other processes, by (key, hops): see ``Peers``.
        self._work: Work = {}
        # Workers whose affine tasks are ready (see ``Peers``): told on their process's channel.
        self._affine: set[str] = set()
        self.peers = Peers(options.schema)
        # Read without the lock by every committer: False until a census says otherwise.
        self.alone = False
        self._census_at = -math.inf
        # Hellos heard so far (a census taken across one cannot make this store alone), and
        # the newcomers still to be answered.
        self._hellos = 0
        self._answers: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._conn: Conn | None = None
        self._thread = threading.Thread(target=self._run, name="stalwart-postgres-notify",
                                        daemon=True)
        self._thread.start()

    def add(self, keys: Iterable[tuple[str, str]], due: float, work: Work | None = None,
            affine: Iterable[str] = ()) -> None:
        with self._cond:
            self._keys.update(keys)
            self._due = min(self._due, due)
            for item, count in (work or {}).items():
                self._work[item] = self._work.get(item, 0) + count
            self._affine.update(affine)
            self._cond.notify()

    def greeted(self, newcomer: str) -> None:
        """A store began to listen: announce everything from now on, then answer it."""
        with self._cond:
            self.alone = False
            self._hellos += 1
            self._answers.add(newcomer)
            self._cond.notify()

    def _count(self, conn: Conn) -> None:
        with self._cond:
            hellos = self._hellos
        others = self._options.announce == "always" or others_listening(
            conn, self._options.schema, self._origin)
        with self._cond:
            self.alone = not others and self._hellos == hellos
        self._census_at = time.monotonic()

    def _take(self) -> tuple[set[tuple[str, str]], float, Work, set[str]] | None:
        """What to send (possibly nothing, when the census is due); None once closed."""
        with self._cond:
            while not self._pending() and not self._closed:
                census_in = self._census_at + CENSUS_REFRESH_SECONDS - time.monotonic()
                if census_in <= 0:
                    break
                self._cond.wait(census_in)
            if self._closed and not self._pending():
                return None
            batch = self._keys, self._due, self._work, self._affine
            self._keys, self._due, self._work, self._affine = set(), math.inf, {}, set()
            return batch

    def _take_answers(self) -> list[str]:
        with self._cond:
            answers, self._answers = self._answers, set()
        return [f"{HELLO_ACK}:{newcomer}" for newcomer in sorted(answers)]

    def _pending(self) -> bool:
        return bool(self._keys or self._due < math.inf or self._work or self._affine
                    or self._answers)

    def _notifications(self, keys: set[tuple[str, str]], due: float, work: Work,
                       affine: set[str]) -> list[tuple[str, str]]:
        """(channel, payload): each addressed process's tasks, then what everyone hears, so a
        listener that has heard a broadcast has heard every task announced with it or before."""
        sent: list[tuple[str, str]] = []
        if work:
            assert self._conn is not None
            for channel, lines in self.peers.address(self._conn, work).items():
                sent.extend((channel, payload) for payload in self._split(lines))
        if affine:
            assert self._conn is not None
            addressed, unknown = self.peers.channels_of_workers(self._conn, affine)
            for channel, workers in addressed.items():
                sent.extend((channel, payload) for payload in self._split(
                    [f"{AFFINE_TASK}:{worker_id}" for worker_id in workers]))
            keys = keys | {(AFFINE_TASK, worker_id) for worker_id in unknown}
        if keys or due < math.inf:
            sent.extend((self._options.channel, payload) for payload in self.payloads(keys, due))
        return sent

    def _split(self, lines: list[str], too_long: str | None = None) -> list[str]:
        """``origin`` and the lines, in as many payloads as PostgreSQL's limit needs. A line too
        long for any payload becomes ``too_long``, or is left out (None: its tasks are found by
        the pollers' periodic look)."""
        payloads: list[str] = []
        current, size = [self._origin], len(self._origin)
        for line in lines:
            length = 1 + len(line.encode())
            if length + len(self._origin) > _MAX_NOTIFY_PAYLOAD:
                if too_long is None:
                    continue
                line, length = too_long, 1 + len(too_long.encode())
            if size + length > _MAX_NOTIFY_PAYLOAD:
                payloads.append("\n".join(current))
                current, size = [self._origin], len(self._origin)
            current.append(line)
            size += length
        if len(current) > 1:
            payloads.append("\n".join(current))
        return payloads

    def _run(self) -> None:
        delay = 0.05
        while (batch := self._take()) is not None:
            while True:
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = psycopg.connect(
                            self._options.conninfo, connect_timeout=5,
                            **self._options.connect_kwargs())
                    if time.monotonic() - self._census_at >= CENSUS_REFRESH_SECONDS:
                        self._count(self._conn)
                    notifications = self._notifications(*batch)
                    # Answers go last: a newcomer answered has heard what was announced with.
                    notifications.extend((self._options.channel, payload)
                                         for payload in self._split(self._take_answers()))
                    if notifications:
                        # One statement, one round trip, however many channels.
                        with wire_tx(self._conn) as tx:
                            tx.run("SELECT " + ", ".join(["pg_notify(?, ?)"] * len(notifications)),
                                   [part for notification in notifications
                                    for part in notification])
                            tx.flush()
                    delay = 0.05
                    break
                except psycopg.Error as error:
                    self.alone = False  # unknown: tell everyone, as before any census
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                    if self._closed:
                        return
                    logger.warning("%s: notifying connection failed (%s); retrying in %.2f s",
                                   self._options.where, str(error).strip(), delay)
                    time.sleep(delay)
                    delay = min(delay * 2, LISTEN_RECONNECT_MAX_DELAY)

    def payloads(self, keys: set[tuple[str, str]], due: float) -> list[str]:
        """``origin``, then one ``kind:key`` per line (``due:<time>`` for the earliest due),
        split to fit PostgreSQL's payload limit."""
        lines = [f"{kind}:{key}" for kind, key in sorted(keys)]
        if due < math.inf:
            lines.append(f"due:{due!r}")
        # A key too long for any payload still wakes everyone: they look at everything.
        return self._split(lines, too_long=f"{EXTERNAL[0]}:{EXTERNAL[1]}")

    def close(self) -> None:
        """Send what is pending, then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
            self._conn = None
