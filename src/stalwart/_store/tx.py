"""What the store operations are written against: a transaction (``Tx``) and the dialect.

Every operation of the store is one plain synchronous function ``fn(tx, *args)``, written once
with ``?`` placeholders. A driver runs it: the SQLite driver on its single writer thread (or,
for reads, on its reader thread or the caller's), the PostgreSQL driver on a pooled connection
on one of its threads. What differs between the two databases is in ``Dialect`` and nowhere
else in the operations:

* row locking: under SQLite's single writer a plain read already sees a row nobody else can
  change before the commit, so ``FOR UPDATE`` / ``SKIP LOCKED`` are empty there; on PostgreSQL
  they lock the row (or skip rows another poller holds);
* named locks: a transaction advisory lock on PostgreSQL (say, one workflow id, so two clients
  starting it do not both see it free); nothing on SQLite, whose writer is already alone;
* lists as parameters (``= ANY(?)`` against ``IN (?, ?, …)``), and byte-wise text ranges
  (``COLLATE "C"``, so a prefix range means the same in every database collation);
* the few schema words that differ (auto-numbered keys, ``WITHOUT ROWID``, bytes).

Upserts (``ON CONFLICT … DO``) and ``RETURNING`` are written the same on both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
loads = json.loads


@dataclass(frozen=True)
class Dialect:
    name: str
    # Appended to a SELECT that reads a row the transaction goes on to change.
    for_update: str
    # Appended to a SELECT that picks work for a poller: rows another poller holds are skipped.
    skip_locked: str
    # Applied to a text column compared with a range, so the range is by code point.
    binary_collation: str
    # Runs with one parameter, a key: holds a named lock until the transaction ends (or None).
    named_lock: str | None
    # Substituted into the migration scripts.
    schema_words: tuple[tuple[str, str], ...]

    def lock_for_update(self, of: str) -> str:
        """``FOR UPDATE OF <tables> SKIP LOCKED`` where rows are locked at all."""
        return f" FOR UPDATE OF {of} SKIP LOCKED" if self.skip_locked else ""

    def in_(self, column: str, values: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """A condition ``column`` is one of ``values``, and its parameters."""
        if self.name == "postgresql":
            return f"{column} = ANY(?)", (list(values),)
        return f"{column} IN ({', '.join('?' * len(values))})", tuple(values)

    def schema_script(self, script: str) -> str:
        for word, replacement in self.schema_words:
            script = script.replace(word, replacement)
        return script


SQLITE = Dialect(
    name="sqlite", for_update="", skip_locked="", binary_collation="", named_lock=None,
    schema_words=(("{serial_key}", "INTEGER PRIMARY KEY AUTOINCREMENT"),
                  ("{without_rowid}", " WITHOUT ROWID"), ("{bytes}", "BLOB"),
                  ("{add_column}", "ADD COLUMN")))

POSTGRESQL = Dialect(
    name="postgresql", for_update=" FOR UPDATE", skip_locked=" FOR UPDATE SKIP LOCKED",
    binary_collation=' COLLATE "C"',
    named_lock="SELECT pg_advisory_xact_lock(hashtextextended(?, 1))",
    schema_words=(("{serial_key}", "BIGSERIAL PRIMARY KEY"), ("{without_rowid}", ""),
                  ("{bytes}", "BYTEA"),
                  # A PostgreSQL schema numbered by its old history re-runs scripts from 6 on.
                  ("{add_column}", "ADD COLUMN IF NOT EXISTS")))


class Pending:
    """The rows of a query sent with ``Tx.later``, fetched on first use."""

    __slots__ = ("_fetch", "_rows")

    def __init__(self, fetch: Callable[[], list[Any]] | None,
                 rows: list[Any] | None = None) -> None:
        # ``rows`` given: a driver that ran the query at once (no fetch needed).
        self._fetch = fetch
        self._rows = rows

    def all(self) -> list[Any]:
        if self._rows is None:
            assert self._fetch is not None
            self._rows = self._fetch()
        return self._rows

    def one(self) -> Any:
        rows = self._rows
        if rows is None:
            rows = self.all()
        return rows[0] if rows else None


class WakeKeys(dict[tuple[str, str], int]):
    """``Tx.wake_keys`` once the transaction hands something to waiters (``Tx.hand``): the
    keys as before, and ``handed``, the rows each handed key's waiters in this process are
    given with the wake-up (a driver passes its wake keys on as they are, so these travel
    with them to ``DatabaseStore.publish``)."""

    handed: dict[tuple[str, str], Pending]


def handing(keys: Iterable[tuple[str, str]],
            handed: dict[tuple[str, str], Pending]) -> WakeKeys:
    """``keys`` (a ``wake_keys`` dict, or a set of keys each woken once) with ``handed``."""
    wake_keys = WakeKeys(keys if isinstance(keys, dict) else dict.fromkeys(keys, 1))
    wake_keys.handed = handed
    return wake_keys


class GuessRefuted(Exception):
    """A transaction's ``Tx.assume_none`` was wrong: it was rolled back, and its operation is
    run again without guessing."""


class Tx:
    """One transaction as the operations see it: statements, and what the commit should wake.

    A driver subclasses it with the three statement methods. ``wake`` and ``due`` collect
    wake-ups that the driver publishes only once the transaction has committed.
    """

    __slots__ = ("earliest_due", "inputs_added", "wake_keys")
    dialect: Dialect
    # Whether the operation may ``assume_none`` instead of reading first (see there): on for a
    # driver whose reads each cost a round trip, off again when it reruns a refuted guess.
    guessing = False

    def __init__(self) -> None:
        # Each key with the number of times it was woken: for a task queue, how many tasks
        # the transaction made ready (a driver wakes that many pollers of other processes).
        self.wake_keys: dict[tuple[str, str], int] = {}
        self.earliest_due = math.inf
        # Inbox rows written so far (``insert_inbox``): a workflow task's commit asks the
        # database whether more input waits only if its own decisions added some.
        self.inputs_added = 0

    # -- statements (the driver's) --------------------------------------------------------
    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first row of a statement's result, or None."""
        raise NotImplementedError

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def run(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run a statement whose outcome the operation does not look at.

        The driver may send it without waiting for it (PostgreSQL pipelines it with whatever
        follows until the next read or the commit), so an error it raises may surface at a
        later statement of the same transaction; the transaction fails either way.
        """
        raise NotImplementedError

    def defer(self, sql: str, params: Sequence[Any] = ()) -> None:
        """``run`` a write that is independent of the other deferred writes sent with it: it
        changes rows none of them changes, and reads none they change (unless it should see
        them as they were before all of them). The driver may hold it back and send it, with
        the deferred writes that follow, as one statement before the transaction's next
        statement or its commit (PostgreSQL: ``WITH w0 AS (...), w1 AS (...) ...``, each
        seeing the rows as they were before them all); SQLite runs it at once."""
        self.run(sql, params)

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement and wait for it; how many rows it changed."""
        raise NotImplementedError

    def flush(self) -> None:
        """Send every deferred statement and wait for every statement sent so far; raise the
        first error among them here."""

    def later(self, sql: str, params: Sequence[Any] = ()) -> Pending:
        """Send a query whose rows are read later: queries sent one after another and read
        afterwards share one round trip where the driver pipelines (PostgreSQL's writes).
        Statements still run in the order they are sent, locks included. The rows stay
        readable after the commit (every result has been read by then): ``hand`` relies on
        it."""
        return Pending(None, self.all(sql, params))

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def assume_none(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Go on as if ``sql`` finds no row, without waiting to see (only where ``guessing``).

        The query is checked on the server where it stands among the transaction's
        statements; if it finds a row, the transaction fails there with ``GuessRefuted`` and
        nothing of it is committed, and the driver runs the operation again with ``guessing``
        off, where it reads and decides as usual. For a read whose answer is nearly always
        "none" (no run has this workflow id yet), that saves the round trip the read costs."""
        raise NotImplementedError

    # -- locking ---------------------------------------------------------------------------
    def lock_name(self, key: str) -> None:
        """Hold a lock named ``key`` until the transaction ends (where the database needs it)."""
        if self.dialect.named_lock is not None:
            # Not waited for: the statements after it run once it is held.
            self.run(self.dialect.named_lock, (key,))

    # -- wake-ups ----------------------------------------------------------------------------
    def wake(self, kind: str, key: str = "") -> None:
        keys = self.wake_keys
        keys[kind, key] = keys.get((kind, key), 0) + 1

    def hand(self, kind: str, key: str, rows: Pending) -> None:
        """``wake`` ``(kind, key)``, and give its waiters in this process ``rows`` with the
        wake-up: exactly what they would read right after the commit, so they need not read
        it. Only rows nothing later in the transaction changes; read only if a waiter wants
        them, after the commit (so a pipelining driver waits for nothing more inside the
        transaction)."""
        self.wake(kind, key)
        keys = self.wake_keys
        if not isinstance(keys, WakeKeys):
            # Made only here: most transactions hand nothing, and keep a plain dict.
            self.wake_keys = keys = handing(keys, {})
        keys.handed[kind, key] = rows

    def due(self, at: float | None) -> None:
        """Something (a timer, a timeout, a retry) falls due at ``at``: sweepers are woken only
        if that is earlier than what they already sleep until."""
        if at is not None and at < self.earliest_due:
            self.earliest_due = at

    @property
    def anything(self) -> bool:
        return bool(self.wake_keys) or self.earliest_due < math.inf
