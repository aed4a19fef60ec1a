"""Ready tasks addressed to other processes' pollers: as few pollers as there are tasks.

Every process LISTENs on the store's channel, which carries what every process may wait for
(a run closed, an update answered, a due time), and on a channel of its own, named from the
schema, its host identity and its process id: what the ``workers`` table records of its
workers. Tasks that a commit made ready and that this process's pollers have no room for are
not broadcast (every process's poller would run a claim, and all but one would find nothing):
they go, with their count, to one process that runs a worker on their task queue, chosen in
turn so that the work spreads. That process wakes its poller, and hands whatever it has no room
for on to the next, at most once around; if everyone is full, each poller claims again as soon
as it has room. A notification lost on the way (the addressee died before its heartbeat
lapsed, a connection broke) costs latency, not work: every poller also looks every few
seconds, and a poller that fills up hands the queue on itself (``Store.hand_on``).

A task offered to one worker first (its affinity: the worker has the run cached) wakes only
that worker's poller: its process is told on its own channel, no other process at all.

A store that nobody else listens to sends nothing at all. Each store's LISTEN connection is
named in ``pg_stat_activity`` (``listener_name``), and each store counts the others about once a
second (the census, ``others_listening``); while it is alone, its commits wake only this
process. A store that begins to listen while others do says so (``HELLO``) and waits for each
of them to answer (``HELLO_ACK``) before it lets anyone here wait on it: a store that answers has
stopped skipping, so whatever it skipped before committed before the newcomer looks. One that
does not answer within ``ACK_TIMEOUT_SECONDS`` (busy, or dying) is waited for no longer; its
answer, when it comes, makes everyone here look again.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import threading
import time
from typing import Any

from ..._engine.liveness import HOST, is_dead
from ..base import WorkerRow

# ((kind, task queue), times handed on) -> tasks
Work = dict[tuple[tuple[str, str], int], int]

# How long the list of other processes' workers is used before it is read again; a queue
# nobody else serves is looked up again sooner (a worker may just have started).
PEERS_REFRESH_SECONDS = 1.0
UNKNOWN_QUEUE_REFRESH_SECONDS = 0.05

# How often a store counts the other stores that listen (see the module's docstring), and how
# long a newcomer waits for their answers before it goes on without them.
CENSUS_REFRESH_SECONDS = 1.0
ACK_TIMEOUT_SECONDS = 1.0
# Lines of the store channel's payloads: ``hello:<newcomer>``, ``hello_ack:<newcomer>`` (the
# sender is the payload's origin).
HELLO = "hello"
HELLO_ACK = "hello_ack"
_LISTENER_PREFIX = "stalwart-listen "
# The other stores of this schema and database that listen: each LISTEN connection's name is
# its schema's tag and its store's origin (any user may read other sessions' application_name).
_OTHERS = ("FROM pg_stat_activity WHERE datname = current_database() "
           "AND application_name LIKE %s AND application_name <> %s")
CENSUS_SQL = f"SELECT EXISTS (SELECT 1 {_OTHERS})"
OTHERS_SQL = f"SELECT application_name {_OTHERS}"

# Stores open in this process, per schema: with more than one, this process's own channel is
# a peer too (another store here may have the room; it ignores nothing but its own origin).
_OPEN: dict[str, int] = {}
_OPEN_LOCK = threading.Lock()


def channel_of(schema: str, host: str, pid: int) -> str:
    digest = hashlib.sha256(f"{schema}\0{host}\0{pid}".encode()).hexdigest()[:40]
    return f"stalwart_{digest}"


def listener_name(schema: str, origin: str) -> str:
    """The ``application_name`` of a store's LISTEN connection (at most 57 characters)."""
    return f"{_schema_tag(schema)} {origin}"


def census_params(schema: str, origin: str) -> tuple[str, str]:
    return f"{_schema_tag(schema)} %", listener_name(schema, origin)


def others_listening(conn: Any, schema: str, origin: str) -> bool:
    row = conn.execute(CENSUS_SQL, census_params(schema, origin)).fetchone()
    return bool(row[0])


def origin_of(name: str) -> str:
    """The store origin in a ``listener_name``."""
    return name.rsplit(" ", 1)[-1]


class Arrival:
    """A newcomer's wait for the other stores' answers to its hello."""

    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.answered = asyncio.Event()
        # Set once the newcomer stopped waiting: an answer after that makes everyone look.
        self.late = False
        if not expected:
            self.answered.set()

    def answer(self, origin: str) -> bool:
        """Count ``origin``'s answer; True if it came after the newcomer stopped waiting."""
        self.expected.discard(origin)
        if not self.expected:
            self.answered.set()
        return self.late


def _schema_tag(schema: str) -> str:
    return _LISTENER_PREFIX + hashlib.sha256(schema.encode()).hexdigest()[:8]


class Peers:
    """The processes with a worker on each task queue, and whose turn it is (announcer's
    thread only)."""

    def __init__(self, schema: str) -> None:
        self._schema = schema
        self.own = channel_of(schema, HOST, os.getpid())
        self._by_queue: dict[str, list[str]] = {}
        # worker id -> its process's channel (live workers only).
        self._by_worker: dict[str, str] = {}
        self._read_at = -math.inf
        self._turn: dict[str, int] = {}

    def opened(self) -> None:
        with _OPEN_LOCK:
            _OPEN[self._schema] = _OPEN.get(self._schema, 0) + 1

    def closed(self) -> None:
        with _OPEN_LOCK:
            _OPEN[self._schema] = _OPEN.get(self._schema, 1) - 1

    def address(self, conn: Any, work: Work) -> dict[str, list[str]]:
        """The lines for each process addressed: ``work:<tasks>:<hops>:<kind>:<queue>``."""
        self._refresh(conn, PEERS_REFRESH_SECONDS)
        if any(queue not in self._by_queue for (_, queue), _ in work):
            self._refresh(conn, UNKNOWN_QUEUE_REFRESH_SECONDS)
        lines: dict[str, list[str]] = {}
        for ((kind, queue), hops), count in work.items():
            peers = self._by_queue.get(queue, [])
            if hops >= len(peers):
                continue
            turn = self._turn.get(queue, 0)
            self._turn[queue] = turn + 1
            channel = peers[turn % len(peers)]
            lines.setdefault(channel, []).append(f"work:{count}:{hops}:{kind}:{queue}")
        return lines

    def channels_of_workers(self, conn: Any, worker_ids: set[str]
                            ) -> tuple[dict[str, list[str]], set[str]]:
        """The channel of each worker's process, with the worker ids it is told of; and the
        workers of no live process known (told by broadcast, so that nothing is lost)."""
        self._refresh(conn, PEERS_REFRESH_SECONDS)
        if any(worker_id not in self._by_worker for worker_id in worker_ids):
            self._refresh(conn, UNKNOWN_QUEUE_REFRESH_SECONDS)
        addressed: dict[str, list[str]] = {}
        unknown: set[str] = set()
        for worker_id in sorted(worker_ids):
            channel = self._by_worker.get(worker_id)
            if channel is None:
                unknown.add(worker_id)
            else:
                addressed.setdefault(channel, []).append(worker_id)
        return addressed, unknown

    @staticmethod
    def parse(line: str) -> tuple[tuple[tuple[str, str], int], int] | None:
        """``<tasks>:<hops>:<kind>:<queue>`` (a ``work:`` line's rest) as ((key, hops), tasks)."""
        parts = line.split(":", 3)
        if len(parts) != 4 or not parts[0].isdigit() or not parts[1].isdigit():
            return None
        return ((parts[2], parts[3]), int(parts[1])), int(parts[0])

    def _refresh(self, conn: Any, older_than: float) -> None:
        if time.monotonic() - self._read_at < older_than:
            return
        rows = conn.execute(
            "SELECT worker_id, identity, task_queue, host, pid, pid_start, heartbeat_at "
            "FROM workers").fetchall()
        self._read_at = time.monotonic()
        with _OPEN_LOCK:
            alone = _OPEN.get(self._schema, 0) <= 1
        now = time.time()
        by_queue: dict[str, set[str]] = {}
        by_worker: dict[str, str] = {}
        for row in rows:
            worker = WorkerRow(*row)
            channel = channel_of(self._schema, worker.host, worker.pid)
            if (channel == self.own and alone) or is_dead(worker, now):
                continue
            by_queue.setdefault(worker.task_queue, set()).add(channel)
            by_worker[worker.worker_id] = channel
        self._by_queue = {queue: sorted(channels) for queue, channels in by_queue.items()}
        self._by_worker = by_worker
