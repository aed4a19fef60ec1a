"""The CONV_growth conversation on a real Temporal dev server, for comparison.

Runs under the reference environment (``temporalio`` and the ``temporal`` CLI of
``.venv-compat``, never Stalwart's): ``.venv-compat/bin/python bench/temporal_conversation.py
[TURNS ...]``. For each length it starts ``temporal server start-dev --db-filename F`` on a fresh
SQLite file, runs one conversation (the same messages, the same activity per turn), stops the
server and prints one JSON line: the file's growth (``db_bytes``: the file and its WAL after
the run, minus those of the server with nothing run) and ``history_bytes``
(``fetch_history().to_json()``).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conversation_data import (
    MESSAGE_BYTES,
    TURNS,
    conversation_bytes,
    conversation_digest,
    expected_conversation,
    reply_to,
    user_message,
)

CLI = Path(sys.executable).parent / "temporal"


@activity.defn(name="conversation_model_call")
async def model_call(messages: list[dict[str, str]]) -> dict[str, str]:
    return reply_to(messages)


@workflow.defn(name="Conversation")
class Conversation:
    @workflow.run
    async def run(self, turns: int, message_bytes: int) -> dict[str, str]:
        messages: list[dict[str, str]] = []
        for turn in range(turns):
            messages.append(user_message(turn, message_bytes))
            reply = await workflow.execute_activity(
                model_call, messages, start_to_close_timeout=timedelta(seconds=60))
            messages.append(reply)
        return {"turns": str(turns), "digest": conversation_digest(messages)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _file_bytes(path: Path) -> int:
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())


class DevServer:
    def __init__(self, db: Path) -> None:
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [str(CLI), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port",
             str(self.port), "--db-filename", str(db), "--log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while subprocess.run([str(CLI), "operator", "cluster", "health", "--address",
                              self.address], capture_output=True, text=True).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("temporal server start-dev did not come up")
            time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


async def measure(turns: int, workdir: Path) -> dict[str, object]:
    db = workdir / f"temporal-{turns}.db"
    server = DevServer(db)
    try:
        client = await Client.connect(server.address)
        empty = _file_bytes(db)
        queue = f"conv-{uuid.uuid4().hex[:8]}"
        async with Worker(client, task_queue=queue, workflows=[Conversation],
                          activities=[model_call],
                          # The sandbox would re-import this script (subprocess, sockets);
                          # what is stored does not depend on it.
                          workflow_runner=UnsandboxedWorkflowRunner()):
            handle = await client.start_workflow(
                Conversation.run, args=[turns, MESSAGE_BYTES], id=f"conv-{uuid.uuid4().hex}",
                task_queue=queue)
            outcome = "completed"
            try:
                result = await handle.result()
            except WorkflowFailureError as error:
                # Temporal ends a run whose history passes its size limit (50 MB by default).
                outcome = f"failed: {error.cause}"
            else:
                if result["digest"] != conversation_digest(expected_conversation(turns)):
                    raise RuntimeError(f"wrong conversation: {result!r}")
        history = await handle.fetch_history()
        history_bytes = len(history.to_json())
        done = sum(1 for e in history.events if e.HasField(
            "activity_task_completed_event_attributes"))
    finally:
        server.stop()
    conversation = conversation_bytes(expected_conversation(turns))
    db_bytes = _file_bytes(db) - empty
    return {"turns": turns, "outcome": outcome, "turns_completed": done,
            "db_bytes": db_bytes, "db_bytes_per_turn": db_bytes // max(done, 1),
            "history_bytes": history_bytes,
            "history_bytes_per_turn": history_bytes // max(done, 1),
            "conversation_bytes": conversation, "db_ratio": round(db_bytes / conversation, 2)}


async def main(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="temporal-conv-") as workdir:
        for turns in sizes:
            print(json.dumps(await measure(turns, Path(workdir))), flush=True)


if __name__ == "__main__":
    asyncio.run(main([int(arg) for arg in sys.argv[1:]] or list(TURNS)))
