"""The OpenAI Agents SDK's model activity reports its tokens and cost: in its recorded result,
on the run's usage endpoint (summed from the history) and in Prometheus, on both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import openai
import pytest

from agents import Agent, OpenAIProvider, Runner
from stalwart import workflow
from stalwart.agents import estimate_cost
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client
from stalwart.contrib.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin
from stalwart.contrib.openai_agents import workflow as agents_workflow
from stalwart.metrics import REGISTRY
from stalwart.worker import Worker
from tests.server._support import RunningServer, start_server, wid

from .ops_workflows import issue_refund

pytestmark = pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)

MODEL = "gpt-4o-mini"
refund_agent = Agent(name="Refunds", instructions="Refund when asked.", model=MODEL,
                     tools=[agents_workflow.activity_as_tool(
                         issue_refund, start_to_close_timeout=timedelta(seconds=10))])


@workflow.defn
class SdkRefundWorkflow:
    @workflow.run
    async def run(self, request: str) -> str:
        return str((await Runner.run(refund_agent, request)).final_output)


@pytest.fixture
async def http(llm_server: FakeLLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="k",
                                max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def server(db_url: str) -> Iterator[RunningServer]:
    running = start_server(db_url)
    try:
        yield running
    finally:
        running.stop()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_sdk_model_activity_usage_on_the_usage_endpoint_and_in_metrics(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        http: openai.AsyncOpenAI, server: RunningServer) -> None:
    llm_server.script(
        Reply(tool_calls=[ToolCallReply("issue_refund", {"customer": "c-1", "amount": 3})],
              usage=(100, 20)),
        Reply(text="Refunded.", usage=(150, 30)))
    labels = {"workflow_type": "SdkRefundWorkflow", "model": MODEL}
    tokens_before = _metric("stalwart_llm_tokens_total", **labels, kind="input")
    cost_before = _metric("stalwart_llm_cost_usd_total", **labels)
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30)),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False))
    async with Worker(client, task_queue=task_queue, workflows=[SdkRefundWorkflow],
                      activities=[issue_refund], plugins=[plugin]):
        answer = await client.execute_workflow(SdkRefundWorkflow.run, "refund c-1",
                                               id="sdk-usage", task_queue=task_queue)
    assert answer == "Refunded."
    expected = [estimate_cost(MODEL, 100, 20, provider="openai"),
                estimate_cost(MODEL, 150, 30, provider="openai")]
    assert None not in expected and all(c and c > 0 for c in expected)

    usage = (await server.arequest("GET", f"/api/workflows/{wid('sdk-usage')}/usage")).json()
    assert usage["source"] == "history"
    assert [(s["activity_type"], s["model"], s["input_tokens"], s["output_tokens"])
            for s in usage["steps"]] == [("invoke_model_activity", MODEL, 100, 20),
                                         ("invoke_model_activity", MODEL, 150, 30)]
    assert [s["cost_usd"] for s in usage["steps"]] == pytest.approx(expected)
    assert usage["total"]["by_model"][MODEL]["calls"] == 2
    assert usage["total"]["cost_usd"] == pytest.approx(sum(expected))

    assert _metric("stalwart_llm_tokens_total", **labels, kind="input") - tokens_before == 250
    assert _metric("stalwart_llm_cost_usd_total", **labels) - cost_before == pytest.approx(
        sum(expected))
    page = (await server.arequest("GET", f"/workflows/{wid('sdk-usage')}")).text
    assert 'id="usage-by-model"' in page and MODEL in page
