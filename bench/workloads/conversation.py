"""CONV_growth: how the store grows with an agent conversation.

Each turn adds a user message and calls the model (an activity) with the whole conversation so
far; the model's answer is added too. Messages are ``MESSAGE_BYTES`` of text. Temporal, and
Stalwart before its payload store, record every call's whole input, so the history grows with
the square of the number of turns; this workload measures what the store really holds.

Per conversation length (10, 50, 100, 200 turns; short: 10, 20), in a fresh store:

- ``store_bytes``: the bytes of the run's rows that hold history (event rows plus the
  ``payload_blobs`` rows behind them), uncompressed (the sum of the values' lengths);
- ``db_bytes``: the database as the operating system sees it (SQLite: the file after a WAL
  checkpoint; PostgreSQL: ``pg_total_relation_size`` of the schema's tables, TOAST compression
  included, so it is smaller than ``store_bytes`` when PostgreSQL compresses);
- ``history_bytes``: ``fetch_history().to_json()`` (Temporal's JSON form, every payload whole);
- ``conversation_bytes``: the final conversation as JSON; ``store_ratio`` = store / it.

The workflow and activity are also the subject of ``tests/storage``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import REPO_ROOT, Config, new_id, rounded
from ..conversation_data import (
    MESSAGE_BYTES,
    SHORT_TURNS,
    TURNS,
    answer,
    conversation_bytes,
    conversation_digest,
    expected_conversation,
    reply_to,
    user_message,
)

__all__ = ["MESSAGE_BYTES", "Conversation", "answer", "conversation_digest",
           "expected_conversation", "measure", "model_call", "store_bytes", "user_message"]

NAME = "CONV_growth"
MODEL_TIMEOUT = timedelta(seconds=60)


@activity.defn(name="conversation_model_call")
async def model_call(messages: list[dict[str, str]]) -> dict[str, str]:
    """A stand-in for an LLM call: an answer as long as the question, named by the turn."""
    return reply_to(messages)


@workflow.defn(name="Conversation")
class Conversation:
    @workflow.run
    async def run(self, turns: int, message_bytes: int) -> dict[str, Any]:
        messages: list[dict[str, str]] = []
        for turn in range(turns):
            messages.append(user_message(turn, message_bytes))
            reply = await workflow.execute_activity(
                model_call, messages, start_to_close_timeout=MODEL_TIMEOUT,
                summary=f"model call {turn + 1}")
            messages.append(reply)
        return {"turns": turns, "digest": conversation_digest(messages),
                "bytes": conversation_bytes(messages)}


# -- measuring ---------------------------------------------------------------------------

def _schema_of(url: str) -> str:
    return parse_qs(urlparse(url).query).get("schema", ["public"])[0]


async def store_bytes(client: Client, run_id: str) -> int:
    """Uncompressed bytes of the rows that hold one run's history."""
    rows = await client.store.fetch_sql(
        "SELECT (SELECT COALESCE(SUM(LENGTH(attributes)), 0) FROM history WHERE run_id = ?) + "
        "(SELECT COALESCE(SUM(LENGTH(data)), 0) FROM payload_blobs WHERE run_id = ?)",
        (run_id, run_id))
    return int(rows[0][0])


async def db_bytes(client: Client, url: str) -> int:
    """The database's size on disk (see the module docstring)."""
    if url.startswith("sqlite"):
        path = urlparse(url).path
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return os.path.getsize(path)
    rows = await client.store.fetch_sql(
        "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r'",
        (_schema_of(url),))
    return int(rows[0][0])


async def measure(url: str, turns: int, message_bytes: int = MESSAGE_BYTES) -> dict[str, Any]:
    client = await Client.connect(url)
    queue = new_id("conv")
    try:
        empty = await db_bytes(client, url)
        async with Worker(client, task_queue=queue, workflows=[Conversation],
                          activities=[model_call]):
            handle = await client.start_workflow(Conversation.run, args=[turns, message_bytes],
                                                 id=new_id("conv"), task_queue=queue)
            result = await handle.result()
        expected = expected_conversation(turns, message_bytes)
        if result["digest"] != conversation_digest(expected):
            raise RuntimeError(f"conversation of {turns} turns came out wrong: {result!r}")
        history = await handle.fetch_history()
        stored = await store_bytes(client, history.run_id)
        disk = await db_bytes(client, url) - empty
        history_bytes = len(history.to_json())
    finally:
        await client.close()
    conversation = int(result["bytes"])
    return {"turns": turns, "store_bytes": stored, "store_bytes_per_turn": stored // turns,
            "db_bytes": disk, "history_bytes": history_bytes,
            "history_bytes_per_turn": history_bytes // turns,
            "conversation_bytes": conversation,
            "store_ratio": rounded(stored / conversation)}


def temporal_rows(sizes: tuple[int, ...]) -> list[dict[str, Any]] | None:
    """The same conversations on a Temporal dev server (``bench/temporal_conversation.py``),
    when the reference environment ``.venv-compat`` is there; None otherwise."""
    python = REPO_ROOT / ".venv-compat" / "bin" / "python"
    if not (python.exists() and (python.parent / "temporal").exists()):
        return None
    completed = subprocess.run(
        [str(python), str(REPO_ROOT / "bench" / "temporal_conversation.py"),
         *map(str, sizes)], capture_output=True, text=True, timeout=1800)
    if completed.returncode != 0:
        raise RuntimeError(f"the Temporal side failed: {completed.stderr[-2000:]}")
    # Only the JSON lines: the Temporal SDK's core may log to stdout too.
    return [json.loads(line) for line in completed.stdout.splitlines()
            if line.startswith("{")]


async def run(config: Config) -> dict[str, Any]:
    sizes = SHORT_TURNS if config.short else TURNS
    rows = [await measure(config.db_url(f"conv{turns}"), turns) for turns in sizes]
    last = rows[-1]
    metrics: dict[str, Any] = {"message_bytes": MESSAGE_BYTES, "conversations": rows,
                               "final_store_ratio": last["store_ratio"]}
    # The Temporal side is measured once, with the SQLite runs, and not in the short suite.
    if not config.short and config.store == "sqlite":
        temporal = temporal_rows(sizes)
        if temporal is not None:
            metrics["temporal"] = temporal
    return metrics
