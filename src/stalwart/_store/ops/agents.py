"""Store operations of the agent layer's side tables: large contents and token streams."""

from __future__ import annotations

from typing import Any

from ..tx import Tx


def put_content(tx: Tx, key: str, workflow_id: str, data: bytes, now: float) -> None:
    # Content is keyed by its hash: writing it again (a retried activity) changes nothing.
    tx.run("INSERT INTO agent_content (key, workflow_id, data, created_at) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (key) DO NOTHING", (key, workflow_id, data, now))


def get_content(tx: Tx, key: str) -> bytes | None:
    row = tx.one("SELECT data FROM agent_content WHERE key = ?", (key,))
    return bytes(row[0]) if row is not None else None


def write_stream(tx: Tx, workflow_id: str, stream_id: str, text: str, done: bool,
                 now: float) -> None:
    tx.run("INSERT INTO agent_stream (workflow_id, stream_id, text, done, version, updated_at) "
           "VALUES (?, ?, ?, ?, 1, ?) ON CONFLICT (workflow_id, stream_id) DO UPDATE SET "
           "text = excluded.text, done = excluded.done, version = agent_stream.version + 1, "
           "updated_at = excluded.updated_at", (workflow_id, stream_id, text, done, now))


def read_streams(tx: Tx, workflow_id: str) -> list[Any]:
    """(stream_id, text, done, version) of each of the workflow's streams, oldest first."""
    return tx.all("SELECT stream_id, text, done, version FROM agent_stream WHERE "
                  "workflow_id = ? ORDER BY updated_at, stream_id", (workflow_id,))


def delete_workflow(tx: Tx, workflow_id: str) -> int:
    return (tx.count("DELETE FROM agent_content WHERE workflow_id = ?", (workflow_id,))
            + tx.count("DELETE FROM agent_stream WHERE workflow_id = ?", (workflow_id,)))


def purge(tx: Tx, cutoff: float) -> int:
    return (tx.count("DELETE FROM agent_content WHERE created_at < ?", (cutoff,))
            + tx.count("DELETE FROM agent_stream WHERE updated_at < ?", (cutoff,)))
