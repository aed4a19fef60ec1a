"""Bytes that should not live in workflow history: large contents (and partial texts).

An :class:`AgentStore` keeps them in two tables of a Stalwart store database, through the same
store layer the engine uses, so it works wherever the engine does. On SQLite it is by
convention a file of its own next to the Stalwart store, so streamed tokens never queue behind
the engine's writes (``AgentStore.beside("sqlite:///data/stalwart.db")`` opens
``data/stalwart.agent.db``); on PostgreSQL it is the Stalwart schema itself
(``AgentStore.beside("postgresql://...")`` uses that URL). The tables:

``agent_content``
    Large texts (tool outputs, long model answers) keyed by their SHA-256 (``sha256:<hex>``).
    History keeps only the key (a :class:`ContentRef`). Writing the same text twice (a retried
    activity) is harmless. Rows record the workflow id that wrote them; nothing is deleted
    automatically. Call :meth:`delete_workflow` when you delete a workflow's history, or
    :meth:`purge` to drop everything older than a cutoff. A key whose row is gone cannot be
    sent to a model again: only delete content of closed workflows.

``agent_stream``
    Partial texts overwritten as they grow (``write_stream``/``watch``). The agent layer's
    model calls no longer write here: they publish their deltas to the workflow's stream
    (``client.workflow_stream(id)``, topic ``tokens``), which readers can resume from an
    offset. The table stays for code that writes to it.

Any process that can open the database can read and write it; writes are short transactions.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from .._store.blocking import BlockingStore, open_blocking
from .._store.ops import agents as ops
from ._types import ContentRef

__all__ = ["AgentStore", "StreamUpdate"]

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
    """The content and stream tables (see the module docstring). Thread-safe.

    Args:
        path: A SQLite file path, or a store URL (``sqlite:///...`` or
            ``postgresql://...``).
    """

    def __init__(self, path: str | Path) -> None:
        text = str(path)
        if text.startswith(("sqlite:", "postgresql:", "postgres:")):
            url = text
            self.path: Path | None = None
        else:
            self.path = Path(text)
            # Durability of a view is not worth an fsync per streamed chunk.
            url = f"sqlite:///{self.path}?synchronous=NORMAL"
        self._store: BlockingStore = open_blocking(url)
        self._where = str(self.path) if self.path is not None else self._store.url

    @staticmethod
    def beside(store_url: str) -> AgentStore:
        """The agent store of a Stalwart store: for ``sqlite:///path/file.db`` the file
        ``path/file.agent.db``; for a PostgreSQL URL, that database and schema."""
        if not store_url.startswith("sqlite:"):
            return AgentStore(store_url)
        raw = store_url.split("sqlite://", 1)[-1].split("?", 1)[0]
        # sqlite:///abs/path -> /abs/path; sqlite://relative -> relative
        path = Path(raw)
        return AgentStore(path.with_name(path.stem + ".agent.db"))

    # -- content ---------------------------------------------------------------------------
    def put(self, workflow_id: str, text: str) -> ContentRef:
        """Keep ``text`` and return its reference (idempotent)."""
        data = text.encode()
        key = "sha256:" + hashlib.sha256(data).hexdigest()
        self._store.write(ops.put_content, key, workflow_id, data, time.time())
        return ContentRef(key=key, size=len(data), preview=text[:PREVIEW_CHARS])

    def get(self, key: str) -> str:
        """The text behind ``key``.

        Raises:
            KeyError: no such content (never stored, or deleted).
        """
        data = self._store.read(ops.get_content, key)
        if data is None:
            raise KeyError(f"content {key!r} is not in the agent store {self._where}")
        return data.decode()

    async def put_async(self, workflow_id: str, text: str) -> ContentRef:
        return await asyncio.to_thread(self.put, workflow_id, text)

    async def get_async(self, key: str) -> str:
        return await asyncio.to_thread(self.get, key)

    # -- streams ---------------------------------------------------------------------------
    def write_stream(self, workflow_id: str, stream_id: str, text: str, done: bool) -> None:
        self._store.write(ops.write_stream, workflow_id, stream_id, text, done, time.time())

    def read_streams(self, workflow_id: str) -> list[StreamUpdate]:
        rows = self._store.read(ops.read_streams, workflow_id)
        return [StreamUpdate(workflow_id, r[0], r[1], bool(r[2]), int(r[3])) for r in rows]

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
        deleted: int = self._store.write(ops.delete_workflow, workflow_id)
        return deleted

    def purge(self, older_than_seconds: float) -> int:
        """Delete content and streams written more than ``older_than_seconds`` ago."""
        deleted: int = self._store.write(ops.purge, time.time() - older_than_seconds)
        return deleted

    def close(self) -> None:
        self._store.close()
