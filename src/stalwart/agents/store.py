"""Bytes that should not live in workflow history: large contents, and streamed tokens.

An :class:`AgentStore` is one SQLite file of its own, by convention next to the Stalwart store
(``AgentStore.beside("sqlite:///data/stalwart.db")`` opens ``data/stalwart.agent.db``). It has
two tables:

``content``
    Large texts (tool outputs, long model answers) keyed by their SHA-256 (``sha256:<hex>``).
    History keeps only the key (a :class:`ContentRef`). Writing the same text twice (a retried
    activity) is harmless. Rows record the workflow id that wrote them; nothing is deleted
    automatically. Call :meth:`delete_workflow` when you delete a workflow's history, or
    :meth:`purge` to drop everything older than a cutoff. A key whose row is gone cannot be
    sent to a model again: only delete content of closed workflows.

``stream``
    The latest partial text of each streaming model call (one row per call, overwritten as
    tokens arrive, throttled), so a client can watch a model think. Rows of finished calls
    stay until :meth:`purge`/:meth:`delete_workflow`; they are a view, not a record: the
    authoritative answer is the activity result in history.

Any process that can open the file can read and write it; writes are short transactions.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ._types import ContentRef

__all__ = ["AgentStore", "StreamUpdate"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS content (
    key TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, data BLOB NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS content_by_workflow ON content (workflow_id);
CREATE TABLE IF NOT EXISTS stream (
    workflow_id TEXT NOT NULL, stream_id TEXT NOT NULL, text TEXT NOT NULL,
    done INTEGER NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (workflow_id, stream_id)
);
"""

PREVIEW_CHARS = 200


@dataclass(frozen=True)
class StreamUpdate:
    """The text streamed so far by one model call (``done`` once the call finished)."""

    workflow_id: str
    stream_id: str
    text: str
    done: bool
    version: int


class AgentStore:
    """The content and stream tables (see the module docstring). Thread-safe."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @staticmethod
    def beside(store_url: str) -> AgentStore:
        """The agent store next to a ``sqlite:///path/file.db`` Stalwart store."""
        raw = store_url.split("sqlite://", 1)[-1]
        # sqlite:///abs/path -> /abs/path; sqlite://relative -> relative
        path = Path(raw)
        return AgentStore(path.with_name(path.stem + ".agent.db"))

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    # -- content ---------------------------------------------------------------------------
    def put(self, workflow_id: str, text: str) -> ContentRef:
        """Keep ``text`` and return its reference (idempotent)."""
        data = text.encode()
        key = "sha256:" + hashlib.sha256(data).hexdigest()
        self._connect().execute(
            "INSERT OR IGNORE INTO content (key, workflow_id, data, created_at) "
            "VALUES (?, ?, ?, ?)", (key, workflow_id, data, time.time()))
        return ContentRef(key=key, size=len(data), preview=text[:PREVIEW_CHARS])

    def get(self, key: str) -> str:
        """The text behind ``key``.

        Raises:
            KeyError: no such content (never stored, or deleted).
        """
        row = self._connect().execute("SELECT data FROM content WHERE key = ?",
                                      (key,)).fetchone()
        if row is None:
            raise KeyError(f"content {key!r} is not in the agent store {self.path}")
        return bytes(row[0]).decode()

    async def put_async(self, workflow_id: str, text: str) -> ContentRef:
        return await asyncio.to_thread(self.put, workflow_id, text)

    async def get_async(self, key: str) -> str:
        return await asyncio.to_thread(self.get, key)

    # -- streams ---------------------------------------------------------------------------
    def write_stream(self, workflow_id: str, stream_id: str, text: str, done: bool) -> None:
        self._connect().execute(
            "INSERT INTO stream (workflow_id, stream_id, text, done, version, updated_at) "
            "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (workflow_id, stream_id) DO UPDATE SET "
            "text = excluded.text, done = excluded.done, version = stream.version + 1, "
            "updated_at = excluded.updated_at",
            (workflow_id, stream_id, text, int(done), time.time()))

    def read_streams(self, workflow_id: str) -> list[StreamUpdate]:
        rows = self._connect().execute(
            "SELECT stream_id, text, done, version FROM stream WHERE workflow_id = ? "
            "ORDER BY updated_at, stream_id", (workflow_id,)).fetchall()
        return [StreamUpdate(workflow_id, r[0], r[1], bool(r[2]), r[3]) for r in rows]

    async def watch(self, workflow_id: str, *, interval: float = 0.05,
                    until_done: str | None = None) -> AsyncIterator[StreamUpdate]:
        """Yield every change of the workflow's streams as it is seen (polling ``interval``).

        Args:
            until_done: Stop once the stream with this id is done; otherwise run until the
                caller stops iterating.
        """
        seen: dict[str, int] = {}
        while True:
            updates = await asyncio.to_thread(self.read_streams, workflow_id)
            for update in updates:
                if seen.get(update.stream_id) != update.version:
                    seen[update.stream_id] = update.version
                    yield update
                    if until_done is not None and update.stream_id == until_done \
                            and update.done:
                        return
            await asyncio.sleep(interval)

    # -- cleanup ---------------------------------------------------------------------------
    def delete_workflow(self, workflow_id: str) -> int:
        """Delete the content and streams a workflow wrote; returns rows deleted."""
        conn = self._connect()
        deleted = conn.execute("DELETE FROM content WHERE workflow_id = ?",
                               (workflow_id,)).rowcount
        deleted += conn.execute("DELETE FROM stream WHERE workflow_id = ?",
                                (workflow_id,)).rowcount
        return int(deleted)

    def purge(self, older_than_seconds: float) -> int:
        """Delete content and streams written more than ``older_than_seconds`` ago."""
        cutoff = time.time() - older_than_seconds
        conn = self._connect()
        deleted = conn.execute("DELETE FROM content WHERE created_at < ?", (cutoff,)).rowcount
        deleted += conn.execute("DELETE FROM stream WHERE updated_at < ?", (cutoff,)).rowcount
        return int(deleted)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
