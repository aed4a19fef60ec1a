"""SIGKILL workers running an OpenAI Agents SDK agent (plugin on the client, plain
``Runner.run``, a real MCP server): once while a tool activity runs, once while a model request
is in flight. The run finishes on the next worker; no recorded model call is sent again and the
recorded MCP tool call is not repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from stalwart.agents import AgentStore
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client
from stalwart.contrib.openai_agents import ModelStreamEvent, stream_events
from tests.helpers.waiting import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("openai_agents_worker.py")


def _start_worker(tmp_path: Path, name: str, db: Path, task_queue: str,
                  server: FakeLLMServer) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
    with (tmp_path / f"worker-{name}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, str(WORKER), str(db), task_queue, server.openai_base_url,
             str(tmp_path / "tool.log"), str(tmp_path / "notes.txt")], stdout=log,
            stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
async def test_openai_agent_survives_sigkill_in_a_tool_and_in_a_model_call(
        tmp_path: Path, task_queue: str) -> None:
    db = tmp_path / "stalwart.db"
    tool_log = tmp_path / "tool.log"
    with FakeLLMServer() as server:
        server.script(
            Reply(tool_calls=[ToolCallReply("add_note", {"text": "Q3 is due"})]),
            Reply(tool_calls=[ToolCallReply("file_report", {"title": "Q3"})]),
            Reply(text="never delivered", delay=30),  # in flight when the second worker dies
            Reply(text="Report Q3 filed."))
        client = await Client.connect(f"sqlite:///{db}")
        workers = [_start_worker(tmp_path, "1", db, task_queue, server)]
        try:
            handle = await client.start_workflow("ReportWorkflow", "file the Q3 report",
                                                 id="crash-openai-agent",
                                                 task_queue=task_queue)

            async def tool_started() -> bool:
                return tool_log.exists() and "attempt 1" in tool_log.read_text()

            await eventually(tool_started, timeout=60, what="the tool's first attempt")
            _kill(workers[0])
            workers.append(_start_worker(tmp_path, "2", db, task_queue, server))

            async def third_call_in_flight() -> bool:
                return len(server.model_requests()) >= 3

            await eventually(third_call_in_flight, timeout=60, what="the third model call")
            _kill(workers[1])
            workers.append(_start_worker(tmp_path, "3", db, task_queue, server))
            result = await handle.result()
            history = await handle.fetch_history()
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=10)
            await client.close()
        requests = server.model_requests()
    assert result == "Report Q3 filed."
    starts = [line.split(" pid")[0] for line in tool_log.read_text().splitlines()]
    assert starts == ["start Q3 attempt 1", "start Q3 attempt 2"]
    scheduled = {str(e.event_id): e.attributes["activityId"] for e in history.events
                 if e.event_type == "ActivityTaskScheduled"
                 and e.attributes["activityType"]["name"] == "invoke_model_activity"}
    completed = [e.attributes for e in history.events
                 if e.event_type == "ActivityTaskCompleted"
                 and e.attributes["scheduledEventId"] in scheduled]
    assert len(completed) == 3
    keys = [f"crash-openai-agent/{history.run_id}/{scheduled[c['scheduledEventId']]}"
            for c in completed]
    sent = {key: [r.attempt for r in requests if r.idempotency_key == key] for key in keys}
    # Calls recorded before the kills were never sent again; the one in flight at the second
    # kill was sent again, once.
    assert sent == {keys[0]: [1], keys[1]: [1], keys[2]: [1, 2]}
    assert len(requests) == 4
    # The MCP tool call was recorded before the first kill: it ran once.
    notes = (tmp_path / "notes.txt").read_text().splitlines()
    assert [line.split(" pid")[0] for line in notes] == ["Q3 is due"]
    activities = [e.attributes["activityType"]["name"] for e in history.events
                  if e.event_type == "ActivityTaskScheduled"]
    assert activities.count("notes-stateless-call-tool-v2") == 1


@pytest.mark.slow
async def test_streamed_run_survives_sigkill_and_the_reader_sees_the_retry(
        tmp_path: Path, task_queue: str) -> None:
    db = tmp_path / "stalwart.db"
    url = f"sqlite:///{db}"
    with FakeLLMServer() as server:
        server.script(
            Reply(text="Once upon a time there was a very slow storyteller", chunk_delay=0.5),
            Reply(text="Once upon a time, the end."))
        client = await Client.connect(url)
        store = AgentStore.beside(url)
        workers = [_start_worker(tmp_path, "1", db, task_queue, server)]
        try:
            handle = await client.start_workflow("StreamedStoryWorkflow", "a story",
                                                 id="crash-stream", task_queue=task_queue)
            seen: list[ModelStreamEvent] = []
            async for event in stream_events(handle):
                seen.append(event)
                if event.kind == "event" and event.attempt == 1 and event.event and \
                        event.event.get("type") == "response.output_text.delta" and \
                        len(workers) == 1:
                    # Attempt 1 is streaming: kill its worker mid-answer.
                    _kill(workers[0])
                    workers.append(_start_worker(tmp_path, "2", db, task_queue, server))
            result = await handle.result()
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=10)
            store.close()
            await client.close()
    assert result == "Once upon a time, the end."
    markers = [(e.kind, e.attempt) for e in seen if e.kind != "event"]
    # The killed attempt is declared failed once its heartbeat times out, then retried.
    assert markers == [("failed", 1), ("retry", 2), ("completed", 2)]
    retry = next(i for i, e in enumerate(seen) if e.kind == "retry")
    after = "".join(e.event["delta"] for e in seen[retry:] if e.kind == "event" and e.event
                    and e.event.get("type") == "response.output_text.delta")
    assert after == "Once upon a time, the end."
