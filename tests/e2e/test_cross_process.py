"""A client process and a worker process share one SQLite file; results cross between them."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

from stalwart.client import Client

from ._harness import REPO_ROOT, Files, WorkerProcess, history, pid_of_identity
from .worker_process import STEPS, expected_result

# A liveness bound for the whole exchange, not a performance assertion.
RESULT_SECONDS = 30.0


async def test_client_process_gets_result_from_worker_process(tmp_path: Path) -> None:
    files = Files(tmp_path, f"xproc-{uuid.uuid4().hex[:8]}")
    worker = WorkerProcess(files, "W")
    try:
        client_proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.e2e.client_process", str(files.db), files.task_queue,
            "xproc",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO_ROOT)
        try:
            out, err = await asyncio.wait_for(client_proc.communicate(), RESULT_SECONDS)
        finally:
            if client_proc.returncode is None:
                client_proc.kill()
                await client_proc.wait()
    finally:
        worker.stop()
    assert client_proc.returncode == 0, err.decode() + "\n" + worker.log()
    reply = json.loads(out.decode().strip().splitlines()[-1])
    assert reply["result"] == expected_result()

    # A third process (this one) reads the same file and sees who did what.
    client = await Client.connect(files.db_url)
    try:
        events = await history(client.get_workflow_handle("xproc"))
    finally:
        await client.close()
    started = [e for e in events if e.event_type == "WorkflowExecutionStarted"]
    assert pid_of_identity(started[0].attributes["identity"]) == reply["pid"]
    workers = {pid_of_identity(e.attributes["identity"]) for e in events
               if e.event_type in ("WorkflowTaskCompleted", "ActivityTaskCompleted")}
    assert workers == {worker.pid}
    assert sum(e.event_type == "ActivityTaskCompleted" for e in events) == STEPS
