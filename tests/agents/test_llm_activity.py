"""The LLM activity over the real openai/anthropic clients, against a local HTTP stand-in."""

from __future__ import annotations

import socket
from datetime import timedelta
from typing import Any

import anthropic
import openai
import pytest

from stalwart import activity
from stalwart.agents import (
    AgentConfig,
    AgentInput,
    AgentStore,
    AgentWorkflow,
    LLMActivities,
    ModelRequest,
    activity_as_tool,
    estimate_cost,
)
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, ApplicationError, WorkflowFailureError
from stalwart.testing import ActivityEnvironment
from stalwart.worker import Worker


def _request(**kwargs: object) -> ModelRequest:
    return ModelRequest(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                        **kwargs)  # type: ignore[arg-type]


async def _error_of(llm: LLMActivities, request: ModelRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await ActivityEnvironment().run(llm.chat, request)
    return caught.value


async def test_llm_activity_rate_limit_is_retryable_with_retry_after(
        llm_server: FakeLLMServer, openai_client: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(status=429, retry_after=7, message="Rate limit reached for gpt-4o"))
    error = await _error_of(LLMActivities(openai_client=openai_client), _request())
    assert error.non_retryable is False
    assert error.next_retry_delay == timedelta(seconds=7)
    assert error.type == "RateLimitError"
    assert "Rate limit reached for gpt-4o" in str(error)
    assert len(llm_server.model_requests()) == 1  # the SDK's own retries are off


async def test_llm_activity_server_error_is_retryable(
        llm_server: FakeLLMServer, openai_client: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(status=503, message="overloaded"))
    error = await _error_of(LLMActivities(openai_client=openai_client), _request())
    assert error.non_retryable is False and "503" in str(error)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_llm_activity_client_errors_are_not_retryable(
        llm_server: FakeLLMServer, openai_client: openai.AsyncOpenAI, status: int) -> None:
    llm_server.script(Reply(status=status, message=f"provider says {status}"))
    error = await _error_of(LLMActivities(openai_client=openai_client), _request())
    assert error.non_retryable is True
    assert f"provider says {status}" in str(error)


async def test_llm_activity_slow_response_times_out_retryably(
        llm_server: FakeLLMServer, openai_client: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(text="late", delay=2.0))
    llm = LLMActivities(openai_client=openai_client, request_timeout=0.2)
    error = await _error_of(llm, _request())
    assert error.non_retryable is False and "timed out" in str(error)


async def test_llm_activity_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="k")
    try:
        error = await _error_of(LLMActivities(openai_client=client), _request())
    finally:
        await client.close()
    assert error.non_retryable is False and "connection" in str(error).lower()


async def test_llm_activity_anthropic_tool_use_round_trip(
        llm_server: FakeLLMServer, anthropic_client: anthropic.AsyncAnthropic) -> None:
    llm_server.script(Reply(text="Checking.", tool_calls=[ToolCallReply("lookup", {"q": "x"})]))
    llm = LLMActivities(anthropic_client=anthropic_client)
    request = ModelRequest(
        model="claude-sonnet-4-6", provider="anthropic",
        messages=[{"role": "system", "content": "Be terse."},
                  {"role": "user", "content": "find x"},
                  {"role": "assistant", "content": None, "tool_calls": [
                      {"id": "t1", "type": "function",
                       "function": {"name": "lookup", "arguments": "{\"q\": \"w\"}"}}]},
                  {"role": "tool", "tool_call_id": "t1", "content": "w found"}],
        tools=[{"type": "function", "function": {"name": "lookup", "description": "Look up.",
                                                 "parameters": {"type": "object"}}}])
    response = await ActivityEnvironment().run(llm.chat, request)
    assert response.content == "Checking."
    assert response.tool_calls[0]["function"]["name"] == "lookup"
    assert response.finish_reason == "tool_calls"
    assert response.usage.cost_usd == estimate_cost("claude-sonnet-4-6",
                                                    response.usage.input_tokens,
                                                    response.usage.output_tokens)
    sent = llm_server.model_requests()[0].body
    assert sent["system"] == "Be terse."
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"][0] == {"type": "tool_result", "tool_use_id": "t1",
                                                 "content": "w found"}
    assert sent["tools"][0]["input_schema"] == {"type": "object"}


async def test_llm_activity_anthropic_errors_classified(
        llm_server: FakeLLMServer, anthropic_client: anthropic.AsyncAnthropic) -> None:
    llm = LLMActivities(anthropic_client=anthropic_client)
    request = ModelRequest(model="claude-sonnet-4-6", provider="anthropic",
                           messages=[{"role": "user", "content": "hi"}])
    llm_server.script(Reply(status=429, retry_after=3, message="slow down"))
    error = await _error_of(llm, request)
    assert error.non_retryable is False and error.next_retry_delay == timedelta(seconds=3)
    llm_server.script(Reply(status=401, message="invalid x-api-key"))
    error = await _error_of(llm, request)
    assert error.non_retryable is True and "invalid x-api-key" in str(error)


async def test_agent_workflow_retries_rate_limit_then_finishes(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(status=429, retry_after=0.1), Reply(status=503), Reply(text="ok"))
    config = AgentConfig(model="gpt-4o", llm_retry_policy=RetryPolicy(
        initial_interval=timedelta(milliseconds=50), maximum_attempts=5))
    async with Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                      activities=LLMActivities(openai_client=openai_client).activities()):
        result = await client.execute_workflow(AgentWorkflow.run, AgentInput(config, "hi"),
                                               id="retry", task_queue=task_queue)
    assert result.output == "ok"
    requests = llm_server.model_requests()
    assert [r.status for r in requests] == [429, 503, 200]
    assert len({r.idempotency_key for r in requests}) == 1
    assert [r.attempt for r in requests] == [1, 2, 3]


async def test_agent_workflow_fails_fast_on_bad_api_key(
        client: Client, task_queue: str, llm_server: FakeLLMServer) -> None:
    llm_server.api_key = "right-key"
    wrong = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="wrong-key")
    try:
        async with Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                          activities=LLMActivities(openai_client=wrong).activities()):
            with pytest.raises(WorkflowFailureError) as caught:
                await client.execute_workflow(
                    AgentWorkflow.run, AgentInput(AgentConfig(model="gpt-4o"), "hi"),
                    id="bad-key", task_queue=task_queue)
    finally:
        await wrong.close()
    cause = caught.value.cause
    assert isinstance(cause, ActivityError)
    assert "Incorrect API key provided" in str(cause.__cause__)
    assert len(llm_server.model_requests()) == 1


@activity.defn
async def fetch_page(url: str) -> object:
    """Fetch a web page; large pages go to the agent store."""
    text = f"<html>{url} " + "lorem ipsum " * 5000 + "</html>"
    return await STORE[0].put_async(activity.info().workflow_id, text)


STORE: list[AgentStore] = []


async def test_agent_streams_tokens_and_keeps_large_tool_output_out_of_history(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI, agent_store: AgentStore) -> None:
    STORE[:] = [agent_store]
    llm_server.script(Reply(tool_calls=[ToolCallReply("fetch_page", {"url": "http://x"})]),
                      Reply(text="The page is mostly lorem ipsum text", chunk_delay=0.05))
    config = AgentConfig(model="gpt-4o", stream=True, tools=[activity_as_tool(fetch_page)])
    llm = LLMActivities(openai_client=openai_client, store=agent_store)
    seen: list[Any] = []
    async with Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                      activities=[*llm.activities(), fetch_page]):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "read x"),
                                             id="stream", task_queue=task_queue)
        async for item in client.workflow_stream("stream").subscribe(["tokens"]):
            seen.append(item)
            if item.data.get("step") == "step-2" and item.data.get("done"):
                break
        result = await handle.result()
    assert result.output == "The page is mostly lorem ipsum text"
    deltas = [i.data["delta"] for i in seen if i.data["step"] == "step-2" and "delta" in i.data]
    # Deltas were published while tokens arrived (chunks come >= 50 ms apart, batches are
    # 50 ms): several items, in order, that add up to the answer; then the done item.
    assert "".join(deltas) == result.output and len(deltas) >= 3
    assert seen[-1].data == {"step": "step-2", "done": True, "text": result.output}
    assert [i.offset for i in seen] == sorted(i.offset for i in seen)
    assert all(i.producer == "activity" and i.attempt == 1 for i in seen)
    second = llm_server.model_requests()[1].body["messages"]
    assert second[-1]["content"].startswith("<html>http://x lorem ipsum")  # resolved for model
    history = await handle.fetch_history()
    assert all(len(str(e.attributes)) < 20_000 for e in history.events)
    tool_message = result.messages[2]
    assert tool_message["content_ref"].startswith("sha256:") and "content" not in tool_message
    assert agent_store.delete_workflow("stream") >= 1


async def test_agent_continues_as_new_carrying_the_conversation(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    calls = [Reply(tool_calls=[ToolCallReply("count", {"n": i})]) for i in range(4)]
    llm_server.script(*calls, Reply(text="counted"))
    config = AgentConfig(model="gpt-4o", tools=[activity_as_tool(count)],
                         continue_as_new_after_events=10)
    async with Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                      activities=[*LLMActivities(openai_client=openai_client).activities(),
                                  count]):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "count"),
                                             id="can", task_queue=task_queue)
        result = await handle.result()
        first = client.get_workflow_handle("can", run_id=handle.first_execution_run_id)
        description = await first.describe()
    assert result.output == "counted"
    assert result.steps == 5 and result.usage.calls == 5
    assert description.continued_as_new_run_id is not None
    last_request = llm_server.model_requests()[-1].body["messages"]
    assert [m["role"] for m in last_request].count("tool") == 4  # whole conversation carried


@activity.defn
async def count(n: int) -> str:
    """Count."""
    return str(n)


async def test_agent_stops_at_step_and_token_budgets(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    llm_server.responder = lambda body: Reply(tool_calls=[ToolCallReply("count", {"n": 1})])
    async with Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                      activities=[*LLMActivities(openai_client=openai_client).activities(),
                                  count]):
        by_steps = await client.execute_workflow(
            AgentWorkflow.run, AgentInput(AgentConfig(
                model="gpt-4o", tools=[activity_as_tool(count)], max_steps=3), "go"),
            id="steps", task_queue=task_queue)
        by_tokens = await client.execute_workflow(
            AgentWorkflow.run, AgentInput(AgentConfig(
                model="gpt-4o", tools=[activity_as_tool(count)], max_total_tokens=1), "go"),
            id="tokens", task_queue=task_queue)
    assert (by_steps.stop_reason, by_steps.steps) == ("max_steps", 3)
    assert (by_tokens.stop_reason, by_tokens.steps) == ("token_budget", 1)


# -- prices and request parameters ------------------------------------------------------------

async def test_openai_requests_send_max_completion_tokens_not_max_tokens(
        llm_server: FakeLLMServer, openai_client: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(text="ok"))
    await ActivityEnvironment().run(LLMActivities(openai_client=openai_client).chat,
                                    _request(max_tokens=50))
    sent = llm_server.model_requests()[0].body
    assert sent["max_completion_tokens"] == 50 and "max_tokens" not in sent


async def test_cached_input_tokens_are_priced_at_the_cache_rate(
        llm_server: FakeLLMServer, openai_client: openai.AsyncOpenAI,
        anthropic_client: anthropic.AsyncAnthropic) -> None:
    llm = LLMActivities(openai_client=openai_client, anthropic_client=anthropic_client)
    words = " ".join(["word"] * 400)
    for provider, model in (("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-6")):
        llm_server.script(Reply(text="a b"), Reply(text="a b", cached_tokens=300))
        request = ModelRequest(model=model, provider=provider,
                               messages=[{"role": "user", "content": words}])
        plain = (await ActivityEnvironment().run(llm.chat, request)).usage
        cached = (await ActivityEnvironment().run(llm.chat, request)).usage
        assert cached.input_tokens == plain.input_tokens  # cache reads still count as input
        assert cached.cached_input_tokens == 300 and plain.cached_input_tokens == 0
        assert 0 < cached.cost_usd < plain.cost_usd, provider
        assert cached.cost_usd == estimate_cost(model, cached.input_tokens,
                                                cached.output_tokens, cached_input_tokens=300,
                                                provider=provider)


async def test_unknown_models_are_counted_as_unpriced_not_free(
        llm_server: FakeLLMServer, openai_client: openai.AsyncOpenAI,
        caplog: pytest.LogCaptureFixture) -> None:
    llm_server.script(Reply(text="a"), Reply(text="b"))
    llm = LLMActivities(openai_client=openai_client)
    request = _request()
    request.model = "in-house-model-7b"
    with caplog.at_level("WARNING", logger="stalwart.agents.llm"):
        first = (await ActivityEnvironment().run(llm.chat, request)).usage
        second = (await ActivityEnvironment().run(llm.chat, request)).usage
    assert first.unpriced_calls == 1 and first.cost_usd == 0.0
    assert estimate_cost("in-house-model-7b", 10, 10, provider="openai") is None
    warned = [r for r in caplog.records if "in-house-model-7b" in r.getMessage()]
    assert len(warned) == 1 and "prices=" in warned[0].getMessage()  # once per model
    total = first
    total.add(second)
    assert total.unpriced_calls == 2 and total.calls == 2
    # prices= overrides, for unknown and known models alike.
    llm_server.script(Reply(text="a"))
    priced = LLMActivities(openai_client=openai_client,
                           prices={"in-house": (1.0, 2.0), "gpt-4o": (100.0, 100.0)})
    usage = (await ActivityEnvironment().run(priced.chat, request)).usage
    assert usage.unpriced_calls == 0
    assert usage.cost_usd == round((usage.input_tokens * 1.0 + usage.output_tokens * 2.0) / 1e6,
                                   10)
    assert estimate_cost("gpt-4o", 1_000_000, 0, {"gpt-4o": (100.0, 100.0)}) == 100.0
