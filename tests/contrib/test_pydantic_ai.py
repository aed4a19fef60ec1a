"""Pydantic AI agents run durably: the agent loop in the workflow, model requests and function
tool calls as activities, against a local OpenAI-compatible stand-in over real HTTP, on both
stores; a SIGKILLed worker mid-run; a bug in a tool."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pydantic_ai")

from pydantic_ai.exceptions import UserError

from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client, WorkflowHistory
from stalwart.contrib.pydantic_ai import (
    AgentPlugin,
    PydanticAIPlugin,
    TemporalAgent,
)
from stalwart.exceptions import ActivityError, ApplicationError, WorkflowFailureError
from stalwart.worker import Replayer, Worker
from tests.contrib import pydantic_ai_app as app
from tests.helpers.waiting import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]
APP = Path(app.__file__)
MODEL = "agent__forecaster__model_request"
TOOL = "agent__forecaster__toolset__weather__call_tool"
FINAL = {"city": "Oslo", "summary": "sunny", "population": 700_000}


@pytest.fixture(params=["sqlite", "postgres"])
def store_backend(request: pytest.FixtureRequest) -> str:
    # Both stores: the runs, their histories and the crash recovery live in the store.
    return str(request.param)


@pytest.fixture
async def client(db_url: str) -> AsyncIterator[Client]:
    connected = await Client.connect(db_url, plugins=[PydanticAIPlugin()])
    try:
        yield connected
    finally:
        await connected.close()


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        try:
            yield server
        finally:
            await app.close_http_clients()


def _activities(history: WorkflowHistory) -> list[str]:
    return [e.attributes["activityType"]["name"] for e in history.events
            if e.event_type == "ActivityTaskScheduled"]


def _script_oslo(server: FakeLLMServer) -> None:
    server.script(
        Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Oslo"}),
                          ToolCallReply("get_population", {"city": "Oslo"})]),
        Reply(tool_calls=[ToolCallReply("final_result", FINAL)]))


async def test_agent_runs_durably_and_its_history_replays(
        client: Client, task_queue: str, llm_server: FakeLLMServer, tmp_path: Path) -> None:
    _script_oslo(llm_server)
    app.set_agent(app.make_agent(llm_server.openai_base_url))
    plugin = PydanticAIPlugin()
    tool_log = tmp_path / "tool.log"
    async with Worker(client, task_queue=task_queue, workflows=[app.ForecastWorkflow]):
        handle = await client.start_workflow(
            app.ForecastWorkflow.run, args=["Weather in Oslo?", str(tool_log)],
            id="forecast", task_queue=task_queue, result_type=app.Forecast)
        result = await handle.result()
    assert result == app.Forecast(**FINAL)
    history = await handle.fetch_history()
    assert _activities(history) == [MODEL, TOOL, TOOL, MODEL]
    # The tool saw the run's deps (a pydantic model across the boundary) and its context.
    assert tool_log.read_text().startswith("get_weather Oslo retry 0 step 1 ")
    requests = llm_server.model_requests()
    assert len(requests) == 2
    tool_messages = sorted(m["content"] for m in requests[1].body["messages"]
                           if m.get("role") == "tool")
    assert tool_messages == ["700000", "sunny and 21 degrees celsius in Oslo"]
    # The structured output's schema reached the model as Pydantic AI's output tool.
    tool_names = [t["function"]["name"] for t in requests[0].body["tools"]]
    assert sorted(tool_names) == ["final_result", "get_population", "get_weather"]
    # Replaying the exported history sends nothing and agrees with the recorded commands.
    replayer = Replayer(workflows=[app.ForecastWorkflow], plugins=[plugin])
    replayed = await replayer.replay_workflow(WorkflowHistory.from_json(
        "forecast", history.to_json()))
    assert replayed.replay_failure is None
    assert len(llm_server.model_requests()) == 2


async def test_model_retry_from_a_tool_activity_reaches_the_model(
        client: Client, task_queue: str, llm_server: FakeLLMServer, tmp_path: Path) -> None:
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("get_weather", {"city": "oslo"})]),
        Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Oslo"})]),
        Reply(tool_calls=[ToolCallReply("final_result", FINAL)]))
    app.set_agent(app.make_agent(llm_server.openai_base_url))
    tool_log = tmp_path / "tool.log"
    async with Worker(client, task_queue=task_queue, workflows=[app.ForecastWorkflow]):
        handle = await client.start_workflow(
            app.ForecastWorkflow.run, args=["Weather in oslo?", str(tool_log)],
            id="retry", task_queue=task_queue, result_type=app.Forecast)
        assert await handle.result() == app.Forecast(**FINAL)
    # ModelRetry crossed back from the activity as data: the activity completed, and the
    # model was told to try again; the second call saw retry 1.
    history = await handle.fetch_history()
    assert _activities(history) == [MODEL, TOOL, MODEL, TOOL, MODEL]
    assert not [e for e in history.events if e.event_type == "ActivityTaskFailed"]
    retry_prompt = [m["content"] for m in llm_server.model_requests()[1].body["messages"]
                    if m.get("role") == "tool"]
    assert "write the city with a capital letter, not 'oslo'" in retry_prompt[0]
    lines = [line.split(" pid")[0] for line in tool_log.read_text().splitlines()]
    assert lines == ["get_weather oslo retry 0 step 1", "get_weather Oslo retry 1 step 2"]


async def test_usage_limit_fails_the_workflow_and_a_model_is_picked_by_key(
        client: Client, task_queue: str, llm_server: FakeLLMServer, tmp_path: Path) -> None:
    _script_oslo(llm_server)
    app.set_agent(app.make_agent(llm_server.openai_base_url,
                                 extra_models={"large": "gpt-test-large"}))
    tool_log = str(tmp_path / "tool.log")
    async with Worker(client, task_queue=task_queue,
                      workflows=[app.LimitedForecastWorkflow]):
        handle = await client.start_workflow(
            app.LimitedForecastWorkflow.run, args=["Weather in Oslo?", tool_log, 5, "large"],
            id="large", task_queue=task_queue, result_type=app.Forecast)
        assert await handle.result() == app.Forecast(**FINAL)
        limited = await client.start_workflow(
            app.LimitedForecastWorkflow.run, args=["Weather in Oslo?", tool_log, 1],
            id="limited", task_queue=task_queue)
        _script_oslo(llm_server)
        with pytest.raises(WorkflowFailureError) as failure:
            await limited.result()
    # The key crossed to the activity; the worker's instance for it made the calls.
    models = [r.body["model"] for r in llm_server.model_requests()]
    assert models == ["gpt-test-large", "gpt-test-large", "gpt-test"]
    # Pydantic AI's UsageLimitExceeded (an AgentRunError) failed the workflow, not its task.
    cause: Any = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "UsageLimitExceeded"
    assert "request_limit of 1" in cause.message


async def test_mcp_server_tools_are_listed_and_called_in_activities(
        client: Client, task_queue: str, llm_server: FakeLLMServer, tmp_path: Path) -> None:
    pytest.importorskip("fastmcp")
    notes = tmp_path / "notes.txt"
    llm_server.script(Reply(tool_calls=[ToolCallReply("add_note", {"text": "Q3 is due"})]),
                      Reply(text="Noted."))
    agent = app.make_notes_agent(llm_server.openai_base_url, str(notes))
    app.NOTES_AGENT = agent
    async with Worker(client, task_queue=task_queue, workflows=[app.NotesWorkflow],
                      plugins=[AgentPlugin(agent)]):
        handle = await client.start_workflow(app.NotesWorkflow.run, "note: Q3 is due",
                                             id="notes", task_queue=task_queue)
        assert await handle.result() == "Noted."
    history = await handle.fetch_history()
    prefix = "agent__notetaker__mcp_server__notes"
    assert _activities(history) == [
        f"{prefix}__get_tools", "agent__notetaker__model_request", f"{prefix}__call_tool",
        f"{prefix}__get_tools", "agent__notetaker__model_request"]
    # The MCP server really ran the tool, once; the model saw its answer and its schema.
    assert [line.split(" pid")[0] for line in notes.read_text().splitlines()] == ["Q3 is due"]
    requests = llm_server.model_requests()
    assert [t["function"]["name"] for t in requests[0].body["tools"]] == ["add_note"]
    tool_messages = [m["content"] for m in requests[1].body["messages"] if m.get("role") == "tool"]
    assert "noted 'Q3 is due'" in tool_messages[0]
    replayed = await Replayer(workflows=[app.NotesWorkflow], plugins=[AgentPlugin(agent)]
                              ).replay_workflow(WorkflowHistory.from_json("notes",
                                                                          history.to_json()))
    assert replayed.replay_failure is None
    assert len(notes.read_text().splitlines()) == 1


async def test_agent_tools_and_iter_inside_a_workflow(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[app.RollWorkflow]):
        handle = await client.start_workflow(app.RollWorkflow.run, id="roll",
                                             task_queue=task_queue)
        nodes = await handle.result()
    assert nodes[:3] == ["UserPromptNode", "ModelRequestNode", "CallToolsNode"]
    # TestModel calls the tool with sides=0, then answers with the tool's results.
    assert nodes[-2:] == ["End", '{"_roll":0}']
    history = await handle.fetch_history()
    assert _activities(history) == ["agent__roller__model_request",
                                    "agent__roller__toolset__<agent>__call_tool",
                                    "agent__roller__model_request"]


async def test_a_bug_in_a_tool_is_a_recorded_failure_and_the_worker_survives(
        client: Client, task_queue: str, llm_server: FakeLLMServer, tmp_path: Path) -> None:
    llm_server.script(Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Atlantis"})]))
    agent = app.make_agent(llm_server.openai_base_url)
    app.set_agent(agent)
    tool_log = tmp_path / "tool.log"
    async with Worker(client, task_queue=task_queue, workflows=[app.ForecastWorkflow]):
        handle = await client.start_workflow(
            app.ForecastWorkflow.run, args=["Weather in Atlantis?", str(tool_log)],
            id="atlantis", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        # The same worker goes on serving runs.
        _script_oslo(llm_server)
        other = await client.start_workflow(
            app.ForecastWorkflow.run, args=["Weather in Oslo?", str(tool_log)],
            id="after-bug", task_queue=task_queue, result_type=app.Forecast)
        assert await other.result() == app.Forecast(**FINAL)
    activity_error = failure.value.cause
    assert isinstance(activity_error, ActivityError)
    assert isinstance(activity_error.cause, ApplicationError)
    assert activity_error.cause.type == "KeyError"
    assert "no weather station in Atlantis" in activity_error.cause.message
    # Retried per the policy (3 attempts), then recorded as the activity's failure.
    attempts = [line for line in tool_log.read_text().splitlines() if "Atlantis" in line]
    assert len(attempts) == 3
    history = await handle.fetch_history()
    assert [e.event_type for e in history.events if e.event_type.startswith("ActivityTask")
            ][-1] == "ActivityTaskFailed"


async def test_model_error_is_retried_with_retry_after_then_raised_as_model_http_error(
        client: Client, task_queue: str, llm_server: FakeLLMServer, tmp_path: Path) -> None:
    llm_server.script(Reply(status=429, retry_after=0.2, message="slow down"),
                      Reply(status=400, message="bad request"))
    agent = app.make_agent(llm_server.openai_base_url)
    app.set_agent(agent)
    app.ForecastWorkflow.__pydantic_ai_agents__ = []  # registered by AgentPlugin instead
    async with Worker(client, task_queue=task_queue, workflows=[app.ForecastWorkflow],
                      plugins=[AgentPlugin(agent)]):
        handle = await client.start_workflow(
            app.ForecastWorkflow.run, args=["Weather?", str(tmp_path / "t.log")],
            id="model-error", task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    # 429 was retried; the 400 is not retryable: two attempts, then Pydantic AI's own error
    # fails the workflow (PydanticAIPlugin lists AgentRunError as a workflow failure).
    assert [r.attempt for r in llm_server.model_requests()] == [1, 2]
    cause: Any = failure.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.type == "ModelHTTPError"
    assert "status_code: 400" in cause.message


def test_bad_configuration_names_the_field() -> None:
    from pydantic_ai import Agent
    from pydantic_ai.models.test import TestModel

    with pytest.raises(UserError, match="unique agent name"):
        TemporalAgent(Agent(TestModel()))
    with pytest.raises(TypeError, match="unknown activity option 'start_to_close'"):
        TemporalAgent(Agent(TestModel(), name="a"), activity_config={  # type: ignore[typeddict-unknown-key]
            "start_to_close": 5})
    with pytest.raises(TypeError, match="AgentPlugin needs a TemporalAgent"):
        AgentPlugin(Agent(TestModel(), name="a"))  # type: ignore[arg-type]


def _start_worker(tmp_path: Path, name: str, url: str, task_queue: str,
                  server: FakeLLMServer) -> subprocess.Popen[bytes]:
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])}
    with (tmp_path / f"worker-{name}.log").open("wb") as log:
        return subprocess.Popen([sys.executable, str(APP), url, task_queue,
                                 server.openai_base_url], stdout=log,
                                stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)


@pytest.mark.slow
async def test_sigkill_mid_run_does_not_resend_recorded_model_calls(
        db_url: str, task_queue: str, tmp_path: Path) -> None:
    tool_log = tmp_path / "tool.log"
    with FakeLLMServer() as server:
        server.script(
            Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Oslo"})]),
            Reply(text="never delivered", delay=60),  # in flight when the worker dies
            Reply(tool_calls=[ToolCallReply("final_result", FINAL)]))
        client = await Client.connect(db_url, plugins=[PydanticAIPlugin()])
        workers = [_start_worker(tmp_path, "1", db_url, task_queue, server)]
        try:
            handle = await client.start_workflow(
                "ForecastWorkflow", args=["Weather in Oslo?", str(tool_log)],
                id="crash-forecast", task_queue=task_queue)

            async def second_call_in_flight() -> bool:
                return len(server.model_requests()) >= 2

            await eventually(second_call_in_flight, timeout=90, what="the second model call")
            os.kill(workers[0].pid, signal.SIGKILL)
            workers[0].wait()
            workers.append(_start_worker(tmp_path, "2", db_url, task_queue, server))
            result = await handle.result()
            history = await handle.fetch_history()
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=10)
            await client.close()
        requests = server.model_requests()
    assert result == FINAL
    scheduled = {str(e.event_id): e.attributes["activityId"] for e in history.events
                 if e.event_type == "ActivityTaskScheduled"
                 and e.attributes["activityType"]["name"] == MODEL}
    completed = [e.attributes["scheduledEventId"] for e in history.events
                 if e.event_type == "ActivityTaskCompleted"
                 and e.attributes["scheduledEventId"] in scheduled]
    assert len(completed) == 2
    keys = [f"crash-forecast/{history.run_id}/{scheduled[c]}" for c in completed]
    sent = {key: [r.attempt for r in requests if r.idempotency_key == key] for key in keys}
    assert sent == {keys[0]: [1], keys[1]: [1, 2]}
    # The first model call was recorded before the kill and never sent again; the tool
    # ran once.
    assert len(requests) == 3
    assert len(tool_log.read_text().splitlines()) == 1
    assert _activities(history) == [MODEL, TOOL, MODEL]
