"""Conversation-aware payload storage on both stores: a conversation's store grows linearly,
and everything that reads history (fetch_history, the JSON export, replay, a worker that
recovers after SIGKILL) sees exactly the bytes the workflow recorded."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.workloads.conversation import (
    MESSAGE_BYTES,
    Conversation,
    conversation_digest,
    expected_conversation,
    model_call,
    store_bytes,
    user_message,
)

from stalwart._store.ops import payloads
from stalwart.client import Client, WorkflowHistory
from stalwart.converter import DataConverter
from stalwart.worker import Replayer, Worker
from tests.helpers.waiting import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULT_TIMEOUT = 120.0


async def _converse(client: Client, task_queue: str, turns: int) -> tuple[str, str]:
    workflow_id = f"conv-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[Conversation],
                      activities=[model_call]):
        handle = await client.start_workflow(Conversation.run, args=[turns, MESSAGE_BYTES],
                                             id=workflow_id, task_queue=task_queue)
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert result["digest"] == conversation_digest(expected_conversation(turns))
    return workflow_id, str(handle.result_run_id)


def _expected_inputs(turns: int) -> list[bytes]:
    """The exact payload bytes of each model call's input, as the converter makes them."""
    converter = DataConverter.default.payload_converter
    final = expected_conversation(turns)
    return [converter.to_payloads([[*final[:2 * turn], user_message(turn, MESSAGE_BYTES)]])[0]
            .data for turn in range(turns)]


async def _scheduled_inputs(history: WorkflowHistory) -> list[bytes]:
    inputs = []
    for event in history.events:
        if event.event_type == "ActivityTaskScheduled":
            payload = event.attributes["input"]["payloads"][0]
            inputs.append(payload["data"])
    return [base64.b64decode(data) for data in inputs]


async def test_a_conversation_store_grows_linearly(client: Client, task_queue: str) -> None:
    _, run_25 = await _converse(client, task_queue, 25)
    _, run_50 = await _converse(client, task_queue, 50)
    stored_25 = await store_bytes(client, run_25)
    stored_50 = await store_bytes(client, run_50)
    final = len(json.dumps(expected_conversation(50), separators=(",", ":")))
    # Recording every input whole would hold about 25x the final conversation at 50 turns.
    assert stored_50 <= 3 * final, (stored_50, final)
    # Linear: twice the turns, about twice the bytes (the square would be four times).
    assert stored_50 < 2.4 * stored_25, (stored_25, stored_50)


async def test_history_export_and_replay_see_the_exact_payloads(
        client: Client, task_queue: str) -> None:
    turns = 50
    workflow_id, run_id = await _converse(client, task_queue, turns)
    handle = client.get_workflow_handle(workflow_id)
    history = await handle.fetch_history()
    assert await _scheduled_inputs(history) == _expected_inputs(turns)
    # The rows themselves hold references, not the conversation.
    rows = await client.store.fetch_sql(
        "SELECT MAX(LENGTH(attributes)) FROM history WHERE run_id = ?", (run_id,))
    assert int(rows[0][0]) < 3 * MESSAGE_BYTES
    exported = history.to_json()
    imported = WorkflowHistory.from_json(workflow_id, exported)
    assert imported.to_json() == exported
    assert await _scheduled_inputs(imported) == _expected_inputs(turns)
    await Replayer(workflows=[Conversation]).replay_workflow(imported)
    # A second client (another process's view: nothing in memory) reads the same bytes.
    payloads.RECENT.clear()
    again = await client.get_workflow_handle(workflow_id).fetch_history()
    assert again.to_json() == exported


async def test_deleting_a_run_deletes_its_payloads(client: Client, task_queue: str) -> None:
    _, run_id = await _converse(client, task_queue, 5)
    _, kept = await _converse(client, task_queue, 5)
    count = "SELECT COUNT(*) FROM payload_blobs WHERE run_id = ?"
    assert int((await client.store.fetch_sql(count, (run_id,)))[0][0]) > 0
    deleted = await client.store.delete_closed_runs(time.time() + 1, limit=1)
    assert deleted == 1
    assert int((await client.store.fetch_sql(count, (run_id,)))[0][0]) == 0
    assert int((await client.store.fetch_sql(count, (kept,)))[0][0]) > 0


def _spawn_worker(db_url: str, task_queue: str, marks: Path, log: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.conversation_worker", db_url, task_queue,
         str(marks)], cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


async def test_a_worker_killed_mid_conversation_leaves_a_run_that_finishes_right(
        client: Client, db_url: str, task_queue: str, tmp_path: Path) -> None:
    turns = 30
    marks = tmp_path / "marks"
    marks.touch()
    log = (tmp_path / "worker.log").open("wb")
    worker = _spawn_worker(db_url, task_queue, marks, log)
    try:
        handle = await client.start_workflow(Conversation.run, args=[turns, MESSAGE_BYTES],
                                             id=f"conv-{uuid.uuid4().hex[:8]}",
                                             task_queue=task_queue)

        async def mid_conversation() -> bool:
            return marks.read_text().count("call ") >= 12

        await eventually(mid_conversation, timeout=60.0)
        worker.kill()  # SIGKILL
        worker.wait()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    payloads.RECENT.clear()  # the new worker knows nothing the dead one wrote
    async with Worker(client, task_queue=task_queue, workflows=[Conversation],
                      activities=[model_call]):
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
    assert result["digest"] == conversation_digest(expected_conversation(turns))
    history = await handle.fetch_history()
    assert await _scheduled_inputs(history) == _expected_inputs(turns)
    await Replayer(workflows=[Conversation]).replay_workflow(history)
    final = len(json.dumps(expected_conversation(turns), separators=(",", ":")))
    assert await store_bytes(client, str(handle.result_run_id)) <= 3 * final
