"""An agent that must ask a human before it spends money.

``python -m examples.approval_agent.main``: the agent looks up a price (no approval needed),
then wants to ``purchase``, a tool marked ``needs_approval``. The workflow pauses; this script
plays the human, reads the pending request through the ``status`` query and approves it with
the ``decide`` update. The decision, and who made it, is in the workflow's history.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from stalwart import activity
from stalwart.agents import (
    AgentConfig,
    AgentInput,
    AgentWorkflow,
    ApprovalDecision,
    LLMActivities,
    activity_as_tool,
)
from stalwart.agents.testing import Reply, ToolCallReply
from stalwart.client import Client
from stalwart.worker import Worker

from .._fake_llm import model, tool_results


@activity.defn
async def get_price(item: str) -> float:
    """Current price of an item, in EUR."""
    return 42.0


@activity.defn
async def purchase(item: str, max_price: float) -> str:
    """Buy an item, at most at max_price EUR."""
    return f"bought {item} for 42.00 EUR (order #1001)"


def offline_model(body: dict[str, Any]) -> Reply:
    results = tool_results(body)
    if not results:
        return Reply(tool_calls=[ToolCallReply("get_price", {"item": "keyboard"})])
    if len(results) == 1:
        return Reply(tool_calls=[ToolCallReply("purchase", {"item": "keyboard",
                                                            "max_price": 50.0})])
    return Reply(text=f"Done: {results[-1]}")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, model(offline_model) as llm:
        client = await Client.connect(f"sqlite:///{Path(tmp) / 'stalwart.db'}")
        config = AgentConfig(
            model=llm.name, instructions="Buy what the user asks for, checking the price first.",
            tools=[activity_as_tool(get_price),
                   activity_as_tool(purchase, needs_approval=True)],
            approval_timeout_seconds=300)
        async with Worker(client, task_queue="approval",
                          workflows=[AgentWorkflow],
                          activities=[*LLMActivities(openai_client=llm.client).activities(),
                                      get_price, purchase]):
            handle = await client.start_workflow(
                AgentWorkflow.run, AgentInput(config, "Buy me a keyboard under 50 EUR."),
                id="approval-demo", task_queue="approval")
            while True:
                status = await handle.query(AgentWorkflow.status)
                if status.pending_approvals or status.state == "finished":
                    break
                await asyncio.sleep(0.1)
            for request in status.pending_approvals:
                print(f"agent asks to run {request.tool}({request.arguments})")
                answer = await handle.execute_update(AgentWorkflow.decide, ApprovalDecision(
                    request.call_id, approved=True, by="alice@example.com",
                    reason="within budget"))
                print(f"alice: {answer}")
            result = await handle.result()
            print(f"agent: {result.output}")
            print(f"usage: {result.usage}")
        await client.close()
        await llm.client.close()


if __name__ == "__main__":
    asyncio.run(main())
