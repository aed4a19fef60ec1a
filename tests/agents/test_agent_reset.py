"""Reset and fork of an agent that has made recorded LLM calls: the calls before the point are
reused from history, never sent to the provider again (the stand-in's request log proves it)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from stalwart import activity
from stalwart.agents import AgentConfig, AgentInput, AgentWorkflow, LLMActivities, activity_as_tool
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client, WorkflowHandle
from stalwart.worker import Worker

BOTH_STORES = pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)
TOOL_RUNS: list[str] = []


@activity.defn
async def look_up(city: str) -> str:
    """Current weather for a city."""
    TOOL_RUNS.append(city)
    return f"sunny in {city}"


async def chat_scheduled_by(handle: WorkflowHandle[Any, Any], nth: int) -> int:
    """The workflow task (its WorkflowTaskCompleted id) that scheduled the nth LLM call."""
    events = (await handle.fetch_history()).events
    chats = [e for e in events if e.event_type == "ActivityTaskScheduled"
             and e.attributes["activityType"]["name"] == "stalwart.agents.chat"]
    return int(chats[nth].attributes["workflowTaskCompletedEventId"])


@BOTH_STORES
async def test_reset_and_fork_reuse_recorded_llm_calls(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    TOOL_RUNS.clear()
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("look_up", {"city": "Paris"})]),
        Reply(tool_calls=[ToolCallReply("look_up", {"city": "Oslo"})]),
        Reply(text="first answer"),
        Reply(text="second answer"),  # the reset run's third call
        Reply(tool_calls=[ToolCallReply("look_up", {"city": "Rome"})]),  # the fork's second
        Reply(text="forked answer"))
    config = AgentConfig(model="gpt-4o-mini", tools=[activity_as_tool(look_up)])
    async with Worker(client, task_queue=task_queue, workflows=[AgentWorkflow],
                      activities=[*LLMActivities(openai_client=openai_client).activities(),
                                  look_up]):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "weather?"),
                                             id="agent", task_queue=task_queue)
        assert (await asyncio.wait_for(handle.result(), 60)).output == "first answer"
        assert len(llm_server.model_requests()) == 3
        base = await handle.describe()

        # Reset to the step that made the third LLM call: only that call is sent again.
        new = await handle.reset(event_id=await chat_scheduled_by(handle, 2),
                                 reason="try the last answer again")
        assert (await asyncio.wait_for(new.result(), 60)).output == "second answer"
        requests = llm_server.model_requests()
        assert len(requests) == 4
        # The re-sent call carries the conversation the recorded calls built.
        roles = [m["role"] for m in requests[3].body["messages"]]
        assert roles == [m["role"] for m in requests[2].body["messages"]]
        assert TOOL_RUNS == ["Paris", "Oslo"]

        # Fork from the step that made the second LLM call; the original stays as it is.
        original = (await handle.fetch_history()).to_json()
        # (``handle`` follows the workflow's latest run: the reset's.)
        fork = await handle.fork("agent-fork", event_id=await chat_scheduled_by(handle, 1),
                                 reason="other path")
        assert (await asyncio.wait_for(fork.result(), 60)).output == "forked answer"
        assert len(llm_server.model_requests()) == 6  # the fork's second and third calls
        assert TOOL_RUNS == ["Paris", "Oslo", "Rome"]
        assert (await handle.fetch_history()).to_json() == original
        assert (await fork.describe()).base_run_id == new.run_id
        assert (await new.describe()).base_run_id == base.run_id
