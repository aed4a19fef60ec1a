"""The OpenAI Agents SDK as Temporal's users write it: the plugin on the client, the SDK's own
``Runner.run`` in the workflow, ``workflow.activity_as_tool``, handoffs, MCP tools and streamed
runs, against a local OpenAI-compatible stand-in over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from agents.mcp import MCPServerStdio

from agents import Agent, OpenAIProvider, Runner
from stalwart import activity, workflow
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client, WorkflowHistory
from stalwart.common import RetryPolicy
from stalwart.contrib.openai_agents import (
    ModelActivityParameters,
    OpenAIAgentsPlugin,
    StatefulMCPServerProvider,
    StatelessMCPServerProvider,
    stream_events,
)
from stalwart.contrib.openai_agents import workflow as agents_workflow
from stalwart.contrib.openai_agents.testing import (
    AgentEnvironment,
    ResponseBuilders,
    TestModel,
)
from stalwart.exceptions import ActivityError, ApplicationError, WorkflowFailureError
from stalwart.worker import Replayer, Worker
from tests.helpers.postgres import fresh_schema_url
from tests.helpers.waiting import eventually

MCP_SERVER = Path(__file__).with_name("mcp_notes_server.py")


@activity.defn
async def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"sunny in {city}"


@activity.defn
async def get_population(city: str) -> int:
    """Get the population of a city."""
    return {"Paris": 2_100_000, "Oslo": 700_000}.get(city, 0)


weather_agent = Agent(
    name="Weather", instructions="Answer weather questions with the tools.",
    tools=[agents_workflow.activity_as_tool(get_weather,
                                            start_to_close_timeout=timedelta(seconds=10)),
           agents_workflow.activity_as_tool(get_population,
                                            start_to_close_timeout=timedelta(seconds=10))])

billing = Agent(name="Billing", instructions="You handle refunds.")
triage = Agent(name="Triage", instructions="Route the customer.", handoffs=[billing])


@workflow.defn
class WeatherWorkflow:
    @workflow.run
    async def run(self, question: str) -> str:
        result = await Runner.run(weather_agent, question)
        return str(result.final_output)


@workflow.defn
class TriageWorkflow:
    @workflow.run
    async def run(self, question: str) -> list[str]:
        result = await Runner.run(triage, question)
        return [result.last_agent.name, str(result.final_output)]


@workflow.defn
class McpWorkflow:
    @workflow.run
    async def run(self, request: str) -> str:
        agent = Agent(name="Notes", instructions="Keep notes.",
                      mcp_servers=[agents_workflow.stateless_mcp_server("notes")])
        return str((await Runner.run(agent, request)).final_output)


@workflow.defn
class StatefulMcpWorkflow:
    @workflow.run
    async def run(self, request: str) -> str:
        async with agents_workflow.stateful_mcp_server("notes") as server:
            agent = Agent(name="Notes", instructions="Keep notes.", mcp_servers=[server])
            return str((await Runner.run(agent, request)).final_output)


@workflow.defn
class StreamedWorkflow:
    @workflow.run
    async def run(self, question: str) -> list[str]:
        result = Runner.run_streamed(weather_agent, question)
        kinds = [event.type async for event in result.stream_events()]
        return [str(result.final_output), *sorted(set(kinds))]


@pytest.fixture
async def http(llm_server: FakeLLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="k",
                                max_retries=0)
    try:
        yield client
    finally:
        await client.close()


def _plugin(http: openai.AsyncOpenAI, **params: Any) -> OpenAIAgentsPlugin:
    return OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30), **params),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False))


def _activities(history: WorkflowHistory) -> list[str]:
    return [e.attributes["activityType"]["name"] for e in history.events
            if e.event_type == "ActivityTaskScheduled"]


async def test_plugin_on_the_client_makes_plain_runner_run_durable(
        db_url: str, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI) -> None:
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Paris"})]),
        Reply(text="It is sunny in Paris."))
    client = await Client.connect(db_url, plugins=[_plugin(http)])
    try:
        # The worker gets no plugins and no model activity itself: the client's plugin adds it.
        async with Worker(client, task_queue=task_queue, workflows=[WeatherWorkflow],
                          activities=[get_weather, get_population]) as worker:
            assert "invoke_model_activity" in worker._activity_worker.activities
            answer = await client.execute_workflow(WeatherWorkflow.run, "Weather in Paris?",
                                                   id="weather", task_queue=task_queue)
        history = await client.get_workflow_handle("weather").fetch_history()
    finally:
        await client.close()
    assert answer == "It is sunny in Paris."
    # The tool ran between the two model turns, each its own activity.
    assert _activities(history) == ["invoke_model_activity", "get_weather",
                                    "invoke_model_activity"]
    second = llm_server.model_requests()[1].body["messages"]
    assert any(m.get("role") == "tool" and m.get("content") == "sunny in Paris"
               for m in second)
    keys = [r.idempotency_key for r in llm_server.model_requests()]
    assert None not in keys and len(set(keys)) == 2


async def test_two_tool_calls_in_one_turn_are_two_activities(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI) -> None:
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Oslo"}),
                          ToolCallReply("get_population", {"city": "Oslo"})]),
        Reply(text="Oslo: sunny, 700000 people."))
    async with Worker(client, task_queue=task_queue, workflows=[WeatherWorkflow],
                      activities=[get_weather, get_population], plugins=[_plugin(http)]):
        handle = await client.start_workflow(WeatherWorkflow.run, "Oslo?", id="two-tools",
                                             task_queue=task_queue)
        assert await handle.result() == "Oslo: sunny, 700000 people."
    history = await handle.fetch_history()
    assert _activities(history) == ["invoke_model_activity", "get_weather", "get_population",
                                    "invoke_model_activity"]
    results = [m.get("content") for m in llm_server.model_requests()[1].body["messages"]
               if m.get("role") == "tool"]
    assert sorted(results) == ["700000", "sunny in Oslo"]


async def test_handoff_switches_agents_and_the_history_replays(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(tool_calls=[ToolCallReply("transfer_to_billing", {})]),
                      Reply(text="Refund issued."))
    plugin = _plugin(http)
    async with Worker(client, task_queue=task_queue, workflows=[TriageWorkflow],
                      plugins=[plugin]):
        handle = await client.start_workflow(TriageWorkflow.run, "Money back please",
                                             id="triage", task_queue=task_queue)
        assert await handle.result() == ["Billing", "Refund issued."]
    requests = llm_server.model_requests()
    assert "You handle refunds." in str(requests[1].body["messages"][0])
    history = await handle.fetch_history()
    assert _activities(history) == ["invoke_model_activity", "invoke_model_activity"]
    # Replaying (from exported JSON) sends nothing and agrees with the recorded commands.
    replayer = Replayer(workflows=[TriageWorkflow], plugins=[plugin])
    result = await replayer.replay_workflow(WorkflowHistory.from_json(
        "triage", history.to_json()))
    assert result.replay_failure is None
    assert len(llm_server.model_requests()) == 2


async def test_stateless_mcp_tool_calls_are_activities(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    llm_server.script(Reply(tool_calls=[ToolCallReply("add_note", {"text": "buy milk"})]),
                      Reply(text="Noted."))
    provider = StatelessMCPServerProvider("notes", lambda: MCPServerStdio(
        {"command": sys.executable, "args": [str(MCP_SERVER), str(notes)]}, name="notes"))
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30)),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False),
        mcp_server_providers=[provider])
    async with Worker(client, task_queue=task_queue, workflows=[McpWorkflow],
                      plugins=[plugin]):
        handle = await client.start_workflow(McpWorkflow.run, "remember milk", id="mcp",
                                             task_queue=task_queue)
        assert await handle.result() == "Noted."
    assert [line.split(" pid")[0] for line in notes.read_text().splitlines()] == ["buy milk"]
    tools = llm_server.model_requests()[0].body["tools"]
    assert [t["function"]["name"] for t in tools] == ["add_note"]
    history = await handle.fetch_history()
    # The same sequence Temporal's integration records (checked against a dev server).
    assert _activities(history) == [
        "notes-stateless-list-tools", "invoke_model_activity", "notes-stateless-call-tool-v2",
        "notes-stateless-list-tools", "invoke_model_activity"]


async def test_stateful_mcp_server_keeps_one_session_for_the_run(
        db_url: str, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    llm_server.script(Reply(tool_calls=[ToolCallReply("add_note", {"text": "one"})]),
                      Reply(tool_calls=[ToolCallReply("add_note", {"text": "two"})]),
                      Reply(text="Two notes."))
    provider = StatefulMCPServerProvider("notes", lambda _argument: MCPServerStdio(
        {"command": sys.executable, "args": [str(MCP_SERVER), str(notes)]}, name="notes"))
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30)),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False),
        mcp_server_providers=[provider], mcp_servers={"spare": _notes_server(notes)})
    # On the client: the session's own worker (built from the same client) gets the plugin too.
    client = await Client.connect(db_url, plugins=[plugin])
    try:
        async with Worker(client, task_queue=task_queue, workflows=[StatefulMcpWorkflow]):
            handle = await client.start_workflow(StatefulMcpWorkflow.run, "two notes",
                                                 id="mcp-stateful", task_queue=task_queue)
            assert await handle.result() == "Two notes."
        history = await handle.fetch_history()
    finally:
        await client.close()
    lines = notes.read_text().splitlines()
    # One server process served both calls: the session outlived a single operation.
    assert [line.split(" pid")[0] for line in lines] == ["one", "two"]
    assert len({line.split(" pid ")[1] for line in lines}) == 1
    tool_results = [m.get("content") for m in llm_server.model_requests()[2].body["messages"]
                    if m.get("role") == "tool"]
    assert "note 2 of this session" in str(tool_results[-1])
    # The same sequence Temporal's integration records (checked against a dev server).
    assert _activities(history) == [
        "notes-stateful-server-session",
        "notes-stateful-list-tools", "invoke_model_activity", "notes-stateful-call-tool-v2",
        "notes-stateful-list-tools", "invoke_model_activity", "notes-stateful-call-tool-v2",
        "notes-stateful-list-tools", "invoke_model_activity"]


async def test_streamed_run_is_followed_by_a_client_and_replays(
        client: Client, db_url: str, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI) -> None:
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Paris"})]),
        Reply(status=503),
        Reply(text="It is sunny in Paris today."))
    plugin = _plugin(http, retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=10), maximum_attempts=3))
    async with Worker(client, task_queue=task_queue, workflows=[StreamedWorkflow],
                      activities=[get_weather, get_population], plugins=[plugin]):
        handle = await client.start_workflow(StreamedWorkflow.run, "Paris?", id="streamed",
                                             task_queue=task_queue)
        followed = [event async for event in stream_events(handle)]
        result = await handle.result()
    assert result[0] == "It is sunny in Paris today."
    assert "raw_response_event" in result and "run_item_stream_event" in result
    deltas = "".join(e.event["delta"] for e in followed if e.kind == "event" and e.event
                     and e.event.get("type") == "response.output_text.delta")
    assert deltas == "It is sunny in Paris today."
    # The second model call failed once (HTTP 503) and streamed again as attempt 2.
    kinds = [(e.kind, e.call, e.attempt) for e in followed if e.kind != "event"]
    first_call, second_call = kinds[0][1], kinds[-1][1]
    assert kinds == [("completed", first_call, 1), ("failed", second_call, 1),
                     ("retry", second_call, 2), ("completed", second_call, 2)]
    # Every event carries its place in the workflow's stream (a retry shares the offset of
    # the item that revealed it): a reader resumes from it.
    offsets = [e.offset for e in followed]
    assert offsets == sorted(offsets)
    resumed = [e async for e in stream_events(handle, from_offset=offsets[-1])]
    assert [e.offset for e in resumed] == [offsets[-1]]
    history = await handle.fetch_history()
    assert _activities(history) == ["invoke_model_activity_streaming", "get_weather",
                                    "invoke_model_activity_streaming"]
    # As on Temporal, each call's events are its activity's result: the history keeps them
    # (the successful attempt's only) and the workflow's stream_events() yielded them.
    completed = [e for e in history.to_json_dict()["events"]
                 if "activityTaskCompletedEventAttributes" in e]
    last_call = json.loads(base64.b64decode(
        completed[-1]["activityTaskCompletedEventAttributes"]["result"]["payloads"][0]["data"]))
    assert "".join(e.get("delta", "") for e in last_call
                   if e["type"] == "response.output_text.delta") == "It is sunny in Paris today."
    assert last_call[-1]["type"] == "response.completed"
    replayed = await Replayer(workflows=[StreamedWorkflow], plugins=[plugin]).replay_workflow(
        history)
    assert replayed.replay_failure is None
    assert len(llm_server.model_requests()) == 3
    # Histories recorded when the streamed call's result was its final response alone still
    # replay (the workflow then saw one raw_response_event per call, as this one returns).
    older = history.to_json_dict()
    for event in older["events"]:
        attributes = event.get("activityTaskCompletedEventAttributes")
        if attributes:
            payload = attributes["result"]["payloads"][0]
            events = json.loads(base64.b64decode(payload["data"]))
            if isinstance(events, list):
                payload["data"] = base64.b64encode(
                    json.dumps({"response": events[-1]["response"]}).encode()).decode()
    replayed = await Replayer(workflows=[StreamedWorkflow], plugins=[plugin]).replay_workflow(
        WorkflowHistory.from_json("streamed", json.dumps(older)))
    assert replayed.replay_failure is None


async def test_rate_limit_is_retried_after_retry_after(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(status=429, retry_after=1, message="slow down"),
                      Reply(text="fine"))
    # The policy alone would wait an hour: the provider's Retry-After decides.
    plugin = _plugin(http, retry_policy=RetryPolicy(initial_interval=timedelta(hours=1)))
    async with Worker(client, task_queue=task_queue, workflows=[TriageWorkflow],
                      plugins=[plugin]):
        handle = await client.start_workflow(TriageWorkflow.run, "hi", id="rate",
                                             task_queue=task_queue)
        assert await handle.result() == ["Triage", "fine"]
    requests = llm_server.model_requests()
    assert [(r.status, r.attempt) for r in requests] == [(429, 1), (200, 2)]
    assert requests[0].idempotency_key == requests[1].idempotency_key
    history = await handle.fetch_history()
    scheduled = next(e for e in history.events if e.event_type == "ActivityTaskScheduled")
    # As in Temporal, the attempt and start time are on the ActivityTaskStarted.
    completed = next(e for e in history.events if e.event_type == "ActivityTaskStarted")
    assert completed.attributes["attempt"] == 2
    # Attempt 2 cannot have started before the first failure plus Retry-After (1 s); the
    # retry policy alone would have waited an hour.
    waited = completed.timestamp - scheduled.timestamp
    assert 1.0 <= waited < 600


async def test_bad_api_key_fails_at_once_without_a_second_request(
        client: Client, task_queue: str, llm_server: FakeLLMServer) -> None:
    llm_server.api_key = "right-key"
    wrong = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="wrong",
                               max_retries=0)
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30)),
        model_provider=OpenAIProvider(openai_client=wrong, use_responses=False))
    try:
        async with Worker(client, task_queue=task_queue, workflows=[TriageWorkflow],
                          plugins=[plugin]):
            handle = await client.start_workflow(TriageWorkflow.run, "hi", id="bad-key",
                                                 task_queue=task_queue)
            with pytest.raises(WorkflowFailureError) as caught:
                await handle.result()
    finally:
        await wrong.close()
    cause = caught.value.cause
    assert isinstance(cause, ActivityError)
    error = cause.cause
    assert isinstance(error, ApplicationError)
    assert error.type == "APIStatusError" and error.non_retryable
    assert error.message == "Non retryable OpenAI status code: 401"
    assert "Incorrect API key provided" in str(error.cause)
    assert len(llm_server.model_requests()) == 1


@workflow.defn
class ModelObjectWorkflow:
    @workflow.run
    async def run(self) -> str:
        model = TestModel.returning_responses([ResponseBuilders.output_message("direct")])
        agent = Agent(name="Direct", model=model)
        return str((await Runner.run(agent, "hi")).final_output)


async def test_a_model_object_on_the_agent_fails_the_workflow_with_a_clear_error(
        client: Client, task_queue: str, http: openai.AsyncOpenAI) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ModelObjectWorkflow],
                      plugins=[_plugin(http)]):
        handle = await client.start_workflow(ModelObjectWorkflow.run, id="model-object",
                                             task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as caught:
            await handle.result()
    assert "must be a model name" in str(caught.value.cause)


async def test_agent_environment_runs_a_scripted_model(
        client: Client, task_queue: str) -> None:
    model = TestModel.returning_responses([
        ResponseBuilders.tool_call('{"city": "Paris"}', "get_weather"),
        ResponseBuilders.output_message("Sunny.")])
    async with AgentEnvironment(model=model) as env:
        scripted = env.applied_on_client(client)
        async with Worker(scripted, task_queue=task_queue, workflows=[WeatherWorkflow],
                          activities=[get_weather, get_population]):
            answer = await scripted.execute_workflow(WeatherWorkflow.run, "Paris?",
                                                     id="scripted", task_queue=task_queue)
    assert answer == "Sunny."
    assert env.openai_agents_plugin in scripted.config()["plugins"]


async def test_streamed_run_on_postgres_is_followed_from_the_same_schema(
        task_queue: str, llm_server: FakeLLMServer, http: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Oslo"})]),
                      Reply(text="Snow in Oslo."))
    with fresh_schema_url() as url:
        client = await Client.connect(url, plugins=[_plugin(http)])
        try:
            async with Worker(client, task_queue=task_queue, workflows=[StreamedWorkflow],
                              activities=[get_weather, get_population]):
                handle = await client.start_workflow(StreamedWorkflow.run, "Oslo?",
                                                     id="pg-stream", task_queue=task_queue)
                followed = [event async for event in stream_events(handle)]
                result = await handle.result()
        finally:
            await client.close()
    assert result[0] == "Snow in Oslo."
    assert "".join(e.event["delta"] for e in followed if e.kind == "event" and e.event
                   and e.event.get("type") == "response.output_text.delta") == "Snow in Oslo."
    assert [e.kind for e in followed if e.kind != "event"] == ["completed", "completed"]


@workflow.defn
class McpV2Workflow:
    @workflow.run
    async def run(self, request: str, factory_argument: str | None) -> str:
        agent = Agent(name="Notes", instructions="Keep notes.", mcp_servers=[
            agents_workflow.temporal_mcp_server("notes", factory_argument=factory_argument)])
        return str((await Runner.run(agent, request)).final_output)


def _notes_server(notes: Path) -> Callable[..., MCPServerStdio]:
    def factory(argument: str | None = None) -> MCPServerStdio:
        target = notes if argument is None else notes.with_name(argument)
        return MCPServerStdio({"command": sys.executable, "args": [str(MCP_SERVER),
                                                                    str(target)]},
                              name="notes")
    return factory


async def test_mcp_servers_by_name_reuse_one_connection(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    llm_server.script(Reply(tool_calls=[ToolCallReply("add_note", {"text": "one"})]),
                      Reply(tool_calls=[ToolCallReply("add_note", {"text": "two"})]),
                      Reply(text="Two notes."))
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30)),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False),
        mcp_servers={"notes": _notes_server(notes)}, mcp_connection_idle_timeout=None)
    async with Worker(client, task_queue=task_queue, workflows=[McpV2Workflow],
                      plugins=[plugin]):
        handle = await client.start_workflow(McpV2Workflow.run, args=["two notes", None],
                                             id="mcp-v2", task_queue=task_queue)
        assert await handle.result() == "Two notes."
    lines = notes.read_text().splitlines()
    assert [line.split(" pid")[0] for line in lines] == ["one", "two"]
    # The tool list is cached in the workflow; each call is an activity.
    assert _activities(await handle.fetch_history()) == [
        "temporalio.mcp.notes.list-tools", "invoke_model_activity",
        "temporalio.mcp.notes.call-tool", "invoke_model_activity",
        "temporalio.mcp.notes.call-tool", "invoke_model_activity"]
    # One server process served both calls, and it was closed when the worker stopped.
    pids = {int(line.split(" pid ")[1]) for line in lines}
    assert len(pids) == 1

    async def server_gone() -> bool:
        try:
            os.kill(next(iter(pids)), 0)
        except ProcessLookupError:
            return True
        return False

    await eventually(server_gone, what="the MCP server process to exit")


async def test_mcp_factory_argument_gets_a_server_per_activity(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI, tmp_path: Path) -> None:
    llm_server.script(Reply(tool_calls=[ToolCallReply("add_note", {"text": "one"})]),
                      Reply(tool_calls=[ToolCallReply("add_note", {"text": "two"})]),
                      Reply(text="Two notes."))
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30)),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False),
        mcp_servers={"notes": _notes_server(tmp_path / "unused.txt")})
    async with Worker(client, task_queue=task_queue, workflows=[McpV2Workflow],
                      plugins=[plugin]):
        result = await client.execute_workflow(
            McpV2Workflow.run, args=["two notes", "team-a.txt"], id="mcp-v2-arg",
            task_queue=task_queue)
    assert result == "Two notes."
    lines = (tmp_path / "team-a.txt").read_text().splitlines()
    assert [line.split(" pid")[0] for line in lines] == ["one", "two"]
    assert len({line.split(" pid ")[1] for line in lines}) == 2
    assert "note 1 of this session" in str(
        [m for m in llm_server.model_requests()[2].body["messages"] if m["role"] == "tool"])


def test_bad_plugin_settings_are_refused_with_the_field_named(
        http: openai.AsyncOpenAI) -> None:
    provider = OpenAIProvider(openai_client=http, use_responses=False)
    with pytest.raises(ValueError, match="start_to_close_timeout or schedule_to_close"):
        OpenAIAgentsPlugin(ModelActivityParameters(start_to_close_timeout=None),
                           model_provider=provider)
    with pytest.raises(ValueError, match="heartbeat_timeout must be a positive timedelta"):
        ModelActivityParameters(heartbeat_timeout=timedelta(0))
    with pytest.raises(ValueError, match="streaming_topic"):
        ModelActivityParameters(streaming_topic="a/b")
    with pytest.raises(ValueError, match="use_otel_instrumentation"):
        OpenAIAgentsPlugin(use_otel_instrumentation=True)
    with pytest.raises(ValueError, match="sandbox_clients"):
        OpenAIAgentsPlugin(sandbox_clients=[object()])
    with pytest.raises(TypeError, match="one positional parameter"):
        OpenAIAgentsPlugin(mcp_servers={"x": lambda a, b: None})  # type: ignore[misc]
    with pytest.raises(ValueError, match="share a name"):
        OpenAIAgentsPlugin(mcp_server_providers=[
            StatelessMCPServerProvider("x", lambda: None),  # type: ignore[arg-type, return-value]
            StatelessMCPServerProvider("x", lambda: None)])  # type: ignore[arg-type, return-value]
