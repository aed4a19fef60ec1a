"""Tokens and cost (describe, list, HTTP API, list page, Prometheus), budgets that stop or
pause, and the approval inbox over real HTTP and the real CLI, on both stores, against the
local OpenAI-compatible stand-in with known usage numbers."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from stalwart.agents import (
    AgentConfig,
    AgentInput,
    AgentResult,
    AgentWorkflow,
    LLMActivities,
    activity_as_tool,
)
from stalwart.agents.inbox import list_inbox
from stalwart.agents.testing import FakeLLMServer, Reply, ToolCallReply
from stalwart.client import Client
from stalwart.metrics import REGISTRY
from stalwart.worker import Worker
from tests.helpers.waiting import eventually
from tests.server._support import RunningServer, start_server, wid

from .ops_workflows import Refund, issue_refund

pytestmark = pytest.mark.parametrize("store_backend", ["sqlite", "postgres"], indirect=True)

# Known prices (USD per million tokens) so the expected cost is exact.
PRICES = {"gpt-4o-mini": (1.0, 2.0)}
AGENT = "stalwart.agents.AgentWorkflow"


@pytest.fixture
def server(db_url: str) -> Iterator[RunningServer]:
    running = start_server(db_url)
    try:
        yield running
    finally:
        running.stop()


def _worker(client: Client, task_queue: str, openai_client: openai.AsyncOpenAI) -> Worker:
    llm = LLMActivities(openai_client=openai_client, prices=PRICES)
    return Worker(client, task_queue=task_queue, workflows=[AgentWorkflow, Refund],
                  activities=[*llm.activities(), issue_refund])


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _refund_call() -> ToolCallReply:
    return ToolCallReply("issue_refund", {"customer": "c-1", "amount": 5})


def _payload(event: Any, path: tuple[str, ...]) -> dict[str, Any]:
    value: Any = event.attributes
    for key in path:
        value = value[key]
    decoded: dict[str, Any] = json.loads(base64.b64decode(value["payloads"][0]["data"]))
    return decoded


async def test_cost_in_describe_list_http_page_and_metrics(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI, server: RunningServer) -> None:
    llm_server.script(Reply(tool_calls=[_refund_call()], usage=(100, 20)),
                      Reply(text="Refunded.", usage=(150, 30)))
    labels = {"workflow_type": AGENT, "model": "gpt-4o-mini"}
    before = {kind: _metric("stalwart_llm_tokens_total", **labels, kind=kind)
              for kind in ("input", "output")}
    cost_before = _metric("stalwart_llm_cost_usd_total", **labels)
    config = AgentConfig(model="gpt-4o-mini", tools=[activity_as_tool(issue_refund)])
    async with _worker(client, task_queue, openai_client):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "refund"),
                                             id="cost-1", task_queue=task_queue)
        result: AgentResult = await handle.result()
    # 100 * 1 + 20 * 2 and 150 * 1 + 30 * 2 micro-dollars.
    expected_cost = 0.00035
    assert result.usage.cost_usd == pytest.approx(expected_cost)

    memo = await (await handle.describe()).memo_value("stalwart.usage")
    assert memo["input_tokens"] == 250 and memo["output_tokens"] == 50
    assert memo["calls"] == 2 and memo["cost_usd"] == pytest.approx(expected_cost)
    assert memo["by_model"]["gpt-4o-mini"]["calls"] == 2
    listed = [e async for e in client.list_workflows("WorkflowId = 'cost-1'")]
    assert (await listed[0].memo_value("stalwart.usage"))["cost_usd"] == pytest.approx(
        expected_cost)

    assert _metric("stalwart_llm_tokens_total", **labels, kind="input") - before["input"] == 250
    assert _metric("stalwart_llm_tokens_total", **labels, kind="output") - before["output"] == 50
    assert _metric("stalwart_llm_cost_usd_total", **labels) - cost_before == pytest.approx(
        expected_cost)

    usage = (await server.arequest("GET", f"/api/workflows/{wid('cost-1')}/usage")).json()
    assert usage["source"] == "memo" and usage["total"]["cost_usd"] == pytest.approx(
        expected_cost)
    assert [(s["summary"], s["input_tokens"], s["output_tokens"]) for s in usage["steps"]] == [
        ("model call 1", 100, 20), ("model call 2", 150, 30)]
    assert [s["cost_usd"] for s in usage["steps"]] == pytest.approx([0.00014, 0.00021])
    described = (await server.arequest("GET", f"/api/workflows/{wid('cost-1')}")).json()
    assert described["memo"]["stalwart.usage"]["calls"] == 2
    page = (await server.arequest("GET", "/")).text
    assert "0.000350" in page and 'id="page-cost"' in page


async def test_cost_budget_stops_the_run_with_a_recorded_reason(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI) -> None:
    llm_server.script(Reply(tool_calls=[_refund_call()], usage=(100, 20)),
                      Reply(text="never sent"))
    config = AgentConfig(model="gpt-4o-mini", tools=[activity_as_tool(issue_refund)],
                         max_cost_usd=0.0001)
    async with _worker(client, task_queue, openai_client):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "refund"),
                                             id="budget-stop", task_queue=task_queue)
        result: AgentResult = await handle.result()
    assert result.stop_reason == "cost_budget"
    assert len(llm_server.model_requests()) == 1
    budget = await (await handle.describe()).memo_value("stalwart.budget")
    assert budget["state"] == "stopped" and budget["reason"] == "cost_budget"
    assert budget["message"] == "cost budget spent: 0.000140 of 0.0001 USD used"
    history = await handle.fetch_history()
    modified = [e for e in history.events if e.event_type == "WorkflowPropertiesModified"]
    assert any("stalwart.budget" in json.dumps(e.attributes) for e in modified)


async def test_token_budget_pauses_in_the_inbox_and_goes_on_when_approved_over_http(
        client: Client, task_queue: str, llm_server: FakeLLMServer,
        openai_client: openai.AsyncOpenAI, server: RunningServer) -> None:
    llm_server.script(Reply(tool_calls=[_refund_call()], usage=(100, 20)),
                      Reply(text="Finished.", usage=(10, 5)))
    config = AgentConfig(model="gpt-4o-mini", tools=[activity_as_tool(issue_refund)],
                         max_total_tokens=100, budget_action="pause")
    async with _worker(client, task_queue, openai_client):
        handle = await client.start_workflow(AgentWorkflow.run, AgentInput(config, "refund"),
                                             id="budget-pause", task_queue=task_queue)

        async def waiting() -> list[dict[str, Any]]:
            reply = await server.arequest("GET", "/api/inbox")
            return [i for i in reply.json()["items"] if i["workflow_id"] == "budget-pause"]

        items = await eventually(waiting, timeout=30, what="the budget pause in the inbox")
        item = items[0]
        assert item["kind"] == "budget" and item["step_id"] == "budget-1"
        assert "token budget spent: 120 of 100 tokens used" in item["asks"]
        assert item["since"] and item["until"] and item["handler"] == "decide"
        paused = await (await handle.describe()).memo_value("stalwart.budget")
        assert paused["state"] == "paused"

        missing = await server.arequest("POST", "/api/inbox/decisions", {
            "workflow_id": "budget-pause", "step_id": "budget-1", "approved": True})
        assert missing.status == 422 and missing.error_code == "validation_error"
        decided = await server.arequest("POST", "/api/inbox/decisions", {
            "workflow_id": "budget-pause", "step_id": "budget-1", "approved": True,
            "by": "carol", "reason": "worth it", "answer": 1000})
        assert decided.status == 200, decided.text
        assert decided.json()["by"] == "carol (API)"
        result: AgentResult = await handle.result()
        again = await server.arequest("POST", "/api/inbox/decisions", {
            "workflow_id": "budget-pause", "step_id": "budget-1", "approved": True,
            "by": "carol"})
        assert again.status == 409
    assert result.stop_reason == "done" and result.output == "Finished."
    resumed = await (await handle.describe()).memo_value("stalwart.budget")
    assert resumed["state"] == "resumed" and resumed["max_total_tokens"] == 1000
    history = await handle.fetch_history()
    accepted = [e for e in history.events if e.event_type == "WorkflowExecutionUpdateAccepted"]
    decision = _payload(accepted[0], ("acceptedRequest", "input", "args"))
    assert decision["by"] == "carol (API)" and decision["reason"] == "worth it"
    assert (await list_inbox(client)) == []


async def _cli(db_url: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "stalwart._cli.main", "--url", db_url, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_signal_human_step_listed_and_rejected_from_the_cli(
        client: Client, task_queue: str, openai_client: openai.AsyncOpenAI,
        db_url: str) -> None:
    async with _worker(client, task_queue, openai_client):
        handle = await client.start_workflow(Refund.run, args=["c-9", 40], id="refund-cli",
                                             task_queue=task_queue)
        await eventually(lambda: list_inbox(client), timeout=30, what="the refund step")
        code, out, err = await _cli(db_url, "-o", "json", "inbox", "list")
        assert code == 0, err
        listed = json.loads(out)
        assert [(i["workflow_id"], i["step_id"], i["asks"], i["handler_kind"])
                for i in listed] == [("refund-cli", "refund", "Refund 40 USD to c-9?", "signal")]
        assert listed[0]["details"] == {"amount": 40} and listed[0]["until"]
        code, out, err = await _cli(db_url, "inbox", "decide", "-w", "refund-cli", "--step",
                                    "nope", "--reject", "--by", "dave")
        assert code != 0 and "no step 'nope' waiting" in err
        code, out, err = await _cli(db_url, "inbox", "decide", "-w", "refund-cli", "--step",
                                    "refund", "--reject", "--by", "dave", "--reason",
                                    "too much")
        assert code == 0, err
        assert await handle.result() == "refused by dave (CLI): too much"
    history = await handle.fetch_history()
    signaled = [e for e in history.events if e.event_type == "WorkflowExecutionSignaled"]
    assert _payload(signaled[0], ("input",))["by"] == "dave (CLI)"
    assert (await list_inbox(client)) == []
