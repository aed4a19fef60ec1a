"""The durable agent loop against a real HTTP stand-in of the OpenAI API."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import openai

from stalwart import activity
from stalwart.agents import (
    AgentConfig,
    AgentInput,
    AgentResult,
    AgentWorkflow,
    ApprovalDecision,
    LLMActivities,
    Usage,
    activity_as_tool,
)
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

CALLS: list[tuple[str, object]] = []


@dataclass
class Order:
    sku: str
    quantity: int = 1


@activity.defn
async def lookup_weather(city: str) -> str:
    """Current weather for a city."""
    CALLS.append(("weather", city))
    return f"sunny in {city}"


@activity.defn
async def place_order(order: Order) -> dict[str, object]:
    """Place an order (needs a human's approval)."""
    CALLS.append(("order", order))
    return {"order_id": f"o-{order.sku}", "quantity": order.quantity}


def _worker(client: Client, task_queue: str, llm: LLMActivities) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                  activities=[*llm.activities(), lookup_weather, place_order])


async def test_agent_loop_runs_tools_in_parallel_and_sums_usage(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    CALLS.clear()
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("lookup_weather", {"city": "Paris"}),
                          ToolCallReply("lookup_weather", {"city": "Oslo"})]),
        Reply(text="Paris is sunny, Oslo too."))
    config = AgentConfig(model="gpt-4o-mini", instructions="Be brief.",
                         tools=[activity_as_tool(lookup_weather)])
    async with _worker(client, task_queue, LLMActivities(openai_client=openai_client)):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "weather?"),
                                             id="agent-1", task_queue=task_queue)
        result: AgentResult = await handle.result()
        usage: Usage = await handle.query(AgentWorkflow.usage)
    assert result.output == "Paris is sunny, Oslo too."
    assert result.stop_reason == "done"
    assert sorted(CALLS) == [("weather", "Oslo"), ("weather", "Paris")]
    requests = llm_server.model_requests()
    assert len(requests) == 2
    second = requests[1].body["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "tool", "tool"]
    assert {m["content"] for m in second[3:]} == {"sunny in Paris", "sunny in Oslo"}
    assert requests[0].body["tools"][0]["function"]["name"] == "lookup_weather"
    assert usage.calls == 2 and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.cost_usd > 0  # gpt-4o-mini is in the price table
    assert usage == result.usage
    history = await handle.fetch_history()
    scheduled = [e.attributes["activityType"]["name"] for e in history.events
                 if e.event_type == "ActivityTaskScheduled"]
    assert scheduled == ["stalwart.agents.chat", "lookup_weather", "lookup_weather",
                         "stalwart.agents.chat"]


async def test_agent_loop_approval_signal_records_who_decided(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    CALLS.clear()
    llm_server.script(Reply(tool_calls=[ToolCallReply("place_order", {
        "order": {"sku": "A1", "quantity": 2}})]), Reply(text="Order placed."))
    config = AgentConfig(model="gpt-4o", tools=[activity_as_tool(place_order,
                                                                 needs_approval=True)])
    async with _worker(client, task_queue, LLMActivities(openai_client=openai_client)):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "buy A1"),
                                             id="agent-approve", task_queue=task_queue)

        async def pending() -> list[object]:
            status = await handle.query(AgentWorkflow.status)
            return status.pending_approvals

        waiting = await eventually(pending, what="a pending approval")
        assert CALLS == []  # nothing ran before the decision
        call_id = waiting[0].call_id
        outcome = await handle.execute_update(
            AgentWorkflow.decide, ApprovalDecision(call_id, True, by="alice", reason="ok"))
        result = await handle.result()
    assert outcome == "approved"
    assert result.output == "Order placed."
    assert [("order", Order("A1", 2))] == CALLS
    history = await handle.fetch_history()
    accepted = [e for e in history.events if e.event_type == "WorkflowExecutionUpdateAccepted"]
    assert len(accepted) == 1
    args = accepted[0].attributes["acceptedRequest"]["input"]["args"]
    payload = json.loads(base64.b64decode(args["payloads"][0]["data"]))
    assert payload["by"] == "alice" and payload["approved"] is True


async def test_agent_loop_approval_timeout_takes_default_decision(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    CALLS.clear()
    llm_server.script(Reply(tool_calls=[ToolCallReply("place_order", {
        "order": {"sku": "B2"}})]), Reply(text="Could not order."))
    config = AgentConfig(model="gpt-4o", approval_timeout_seconds=0.2,
                         tools=[activity_as_tool(place_order, needs_approval=True)])
    async with _worker(client, task_queue, LLMActivities(openai_client=openai_client)):
        result = await client.execute_workflow(
            AgentWorkflow.run, AgentInput(config, "buy B2"), id="agent-timeout",
            task_queue=task_queue)
    assert CALLS == []
    tool_message = result.messages[-2]
    assert tool_message["role"] == "tool"
    assert "not approved by timeout" in tool_message["content"]
