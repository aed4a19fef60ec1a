"""OpenAI Agents SDK handoffs inside a durable workflow: the model sees the handoff as a tool,
the workflow's runner switches agents, and every model call is still an activity."""

from __future__ import annotations

from datetime import timedelta

import openai

from agents import Agent, OpenAIProvider
from stalwart import workflow
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client
from stalwart.contrib.openai_agents import (
    ModelActivityParameters,
    OpenAIAgentsPlugin,
    TemporalRunner,
)

billing = Agent(name="Billing", instructions="You handle refunds.")
triage = Agent(name="Triage", instructions="Route the customer.", handoffs=[billing])


@workflow.defn
class TriageWorkflow:
    @workflow.run
    async def run(self, question: str) -> str:
        return await TemporalRunner.run(triage, question)


async def test_handoff_switches_agent_and_each_model_call_is_an_activity(
        client: Client, task_queue: str, llm_server: FakeLLMServer) -> None:
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("transfer_to_billing", {})]),
        Reply(text="Refund issued."))
    http = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="k", max_retries=0)
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30)),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False))
    try:
        async with plugin.create_worker(client, task_queue=task_queue,
                                        workflows=[TriageWorkflow]):
            handle = await client.start_workflow(TriageWorkflow.run, "I want my money back",
                                                 id="triage", task_queue=task_queue)
            assert await handle.result() == "Refund issued."
    finally:
        await http.close()
    requests = llm_server.model_requests()
    assert len(requests) == 2
    first_tools = [tool["function"]["name"] for tool in requests[0].body.get("tools", [])]
    assert "transfer_to_billing" in first_tools
    assert "You handle refunds." in str(requests[1].body["messages"][0])
    history = await handle.fetch_history()
    scheduled = [e.attributes["activityType"]["name"] for e in history.events
                 if e.event_type == "ActivityTaskScheduled"]
    assert scheduled == ["invoke_model_activity", "invoke_model_activity"]
