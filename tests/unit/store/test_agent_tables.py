"""The agent layer's side tables (``AgentStore``) behave the same on both databases."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from stalwart.agents import AgentStore


@pytest.fixture
def agent_store(db_url: str, store_backend: str) -> AgentStore:
    return AgentStore.beside(db_url)


def test_content_round_trips_by_its_hash_and_a_second_put_changes_nothing(
        agent_store: AgentStore) -> None:
    try:
        text = "a long tool output " * 500
        ref = agent_store.put("wf-1", text)
        again = agent_store.put("wf-2", text)

        assert ref == again
        assert ref.key.startswith("sha256:") and ref.size == len(text.encode())
        assert agent_store.get(ref.key) == text
        with pytest.raises(KeyError, match="sha256:nothing"):
            agent_store.get("sha256:nothing")
    finally:
        agent_store.close()


async def test_streams_are_overwritten_with_a_new_version_and_watched(
        agent_store: AgentStore) -> None:
    try:
        agent_store.write_stream("wf-1", "step-1", "Dur", False)
        seen = []

        async def watch() -> None:
            async for update in agent_store.watch("wf-1", interval=0.01, until_done="step-1"):
                seen.append((update.text, update.done, update.version))

        watcher = asyncio.create_task(watch())
        writer = threading.Thread(target=lambda: [
            agent_store.write_stream("wf-1", "step-1", "Durable", False),
            agent_store.write_stream("wf-1", "step-1", "Durable agents.", True)])
        writer.start()
        await asyncio.wait_for(watcher, 30)
        writer.join()

        assert seen[-1] == ("Durable agents.", True, 3)
        assert [version for _, _, version in seen] == sorted({v for _, _, v in seen})
        assert [(u.stream_id, u.version) for u in agent_store.read_streams("wf-1")] == \
            [("step-1", 3)]
    finally:
        agent_store.close()


def test_delete_workflow_and_purge_remove_only_what_they_name(agent_store: AgentStore) -> None:
    try:
        kept = agent_store.put("wf-keep", "kept")
        agent_store.put("wf-gone", "gone")
        agent_store.write_stream("wf-gone", "s", "x", True)

        assert agent_store.delete_workflow("wf-gone") == 2
        assert agent_store.get(kept.key) == "kept"
        assert agent_store.read_streams("wf-gone") == []
        assert agent_store.purge(3600) == 0
        assert agent_store.purge(-1) == 1
    finally:
        agent_store.close()


def test_an_agent_store_file_of_the_old_layout_is_taken_over_with_its_rows(
        tmp_path: Path) -> None:
    path = tmp_path / "old.agent.db"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE content (key TEXT PRIMARY KEY, workflow_id TEXT NOT NULL, data BLOB NOT NULL,
                              created_at REAL NOT NULL);
        CREATE INDEX content_by_workflow ON content (workflow_id);
        CREATE TABLE stream (workflow_id TEXT NOT NULL, stream_id TEXT NOT NULL,
                             text TEXT NOT NULL, done INTEGER NOT NULL, version INTEGER NOT NULL,
                             updated_at REAL NOT NULL, PRIMARY KEY (workflow_id, stream_id));
        INSERT INTO content VALUES ('sha256:abc', 'wf-1', CAST('kept text' AS BLOB), 1.0);
        INSERT INTO stream VALUES ('wf-1', 'step-1', 'partial', 0, 4, 2.0);
    """)
    conn.close()

    store = AgentStore(path)
    try:
        assert store.get("sha256:abc") == "kept text"
        assert [(u.text, u.done, u.version) for u in store.read_streams("wf-1")] == \
            [("partial", False, 4)]
    finally:
        store.close()
