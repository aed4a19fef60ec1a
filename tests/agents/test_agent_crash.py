"""SIGKILL a worker in the middle of an agent run: the run finishes on another worker, and no
model call whose result was recorded is sent to the provider again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stalwart.agents import AgentConfig, AgentInput, AgentWorkflow, activity_as_tool
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client
from tests.agents.agent_worker import take_note
from tests.helpers.waiting import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("agent_worker.py")


def _start_worker(tmp_path: Path, name: str, db: Path, task_queue: str,
                  server: FakeLLMServer) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
    with (tmp_path / f"worker-{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, str(WORKER), str(db), task_queue, server.openai_base_url,
             str(tmp_path / "notes.txt")], stdout=log, stderr=subprocess.STDOUT,
            cwd=REPO_ROOT, env=env)


@pytest.mark.slow
async def test_agent_survives_sigkill_without_resending_recorded_model_calls(
        tmp_path: Path, task_queue: str) -> None:
    db = tmp_path / "stalwart.db"
    with FakeLLMServer() as server:
        server.script(
            Reply(tool_calls=[ToolCallReply("take_note", {"text": "first"})]),
            Reply(tool_calls=[ToolCallReply("take_note", {"text": "second"})]),
            Reply(text="never delivered", delay=30),  # in flight when the worker dies
            Reply(text="All noted."))
        client = await Client.connect(f"sqlite:///{db}")
        first = _start_worker(tmp_path, "1", db, task_queue, server)
        second: subprocess.Popen[bytes] | None = None
        try:
            config = AgentConfig(model="gpt-4o", tools=[activity_as_tool(take_note)],
                                 llm_timeout_seconds=120)
            handle = await client.start_workflow(AgentWorkflow.run,
                                                 AgentInput(config, "take two notes"),
                                                 id="crash-agent", task_queue=task_queue)

            async def third_call_in_flight() -> bool:
                return len(server.model_requests()) >= 3

            await eventually(third_call_in_flight, timeout=60, what="the third model call")
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            second = _start_worker(tmp_path, "2", db, task_queue, server)
            result = await handle.result()
            history = await handle.fetch_history()
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=10)
            await client.close()
        requests = server.model_requests()
    assert result.output == "All noted."
    assert result.steps == 3
    notes = (tmp_path / "notes.txt").read_text().splitlines()
    assert [line.split()[0] for line in notes] == ["first", "second"]
    # Which model calls were recorded, at which attempt, under which idempotency key.
    scheduled = {str(e.event_id): e.attributes["activityId"] for e in history.events
                 if e.event_type == "ActivityTaskScheduled"
                 and e.attributes["activityType"]["name"] == "stalwart.agents.chat"}
    completed = [e.attributes for e in history.events
                 if e.event_type == "ActivityTaskCompleted"
                 and e.attributes["scheduledEventId"] in scheduled]
    assert len(completed) == 3
    run_id = history.run_id
    keys = [f"crash-agent/{run_id}/{scheduled[c['scheduledEventId']]}" for c in completed]
    sent = {key: [r.attempt for r in requests if r.idempotency_key == key] for key in keys}
    # Calls recorded before the kill were sent once; the one in flight was sent again (once).
    assert sent == {keys[0]: [1], keys[1]: [1], keys[2]: [1, 2]}
    assert len(requests) == 4
