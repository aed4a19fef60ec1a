"""A payment agent whose real-world side effects are undone when a later step fails.

``python -m examples.saga_payment_agent.main``: the model drives three tools (reserve
inventory, charge payment, dispatch shipment). The workflow runs each as an activity and,
after each success, registers its compensation with a :class:`~stalwart.saga.Saga`. Dispatch
fails for good (no courier for the region), so the saga refunds the payment and releases the
inventory, in reverse order, each a durable activity, and the agent reports ROLLED_BACK.

It uses the agent loop's building blocks (``AgentLoop.call_model``) instead of
``AgentLoop.run`` because the workflow, not the loop, runs the tools here.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from stalwart import activity, workflow
from stalwart.agents import AgentConfig, AgentLoop, LLMActivities, activity_as_tool
from stalwart.agents.testing import Reply, ToolCallReply
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError, ApplicationError
from stalwart.saga import Saga
from stalwart.worker import Worker

from .._fake_llm import model, tool_results

LEDGER: list[str] = []


@dataclass
class Order:
    order_id: str
    sku: str
    amount_eur: float
    region: str


@activity.defn
async def reserve_inventory(order: Order) -> str:
    """Reserve the order's item in the warehouse."""
    LEDGER.append(f"reserve {order.sku}")
    return f"reserved {order.sku}"


@activity.defn
async def release_inventory(order: Order) -> None:
    LEDGER.append(f"release {order.sku}")


@activity.defn
async def charge_payment(order: Order) -> str:
    """Charge the customer for the order."""
    LEDGER.append(f"charge {order.amount_eur}")
    return f"charged {order.amount_eur} EUR"


@activity.defn
async def refund_payment(order: Order) -> None:
    LEDGER.append(f"refund {order.amount_eur}")


@activity.defn
async def dispatch_shipment(order: Order) -> str:
    """Hand the order to a courier."""
    if order.region == "antarctica":
        raise ApplicationError(f"no courier delivers to {order.region}",
                               type="NoCourier", non_retryable=True)
    LEDGER.append(f"dispatch {order.order_id}")
    return "dispatched"


STEPS = {"reserve_inventory": (reserve_inventory, release_inventory),
         "charge_payment": (charge_payment, refund_payment),
         "dispatch_shipment": (dispatch_shipment, None)}


@workflow.defn
class PaymentAgentWorkflow:
    @workflow.run
    async def run(self, order: Order, model_name: str) -> str:
        loop = AgentLoop(AgentConfig(
            model=model_name, max_steps=6,
            instructions="Fulfil the order: reserve inventory, charge payment, dispatch. "
                         "Call one tool at a time.",
            tools=[activity_as_tool(fn) for fn, _ in STEPS.values()]))
        loop.messages.append({"role": "user", "content": json.dumps(order.__dict__)})
        try:
            async with Saga(start_to_close_timeout=timedelta(seconds=30)) as saga:
                while loop.steps < loop.config.max_steps:
                    response = await loop.call_model()
                    loop.messages.append(response.message)
                    if not response.tool_calls:
                        return response.content or "SUCCESS"
                    for call in response.tool_calls:
                        step, undo = STEPS[call["function"]["name"]]
                        result = await workflow.execute_activity(
                            step, order, start_to_close_timeout=timedelta(seconds=30),
                            retry_policy=RetryPolicy(maximum_attempts=3))
                        if undo is not None:
                            saga.add_compensation(undo, order)
                        loop.messages.append({"role": "tool", "tool_call_id": call["id"],
                                              "content": str(result)})
        except ActivityError as error:
            return f"ROLLED_BACK: {error.__cause__}"
        return "STOPPED: step budget exhausted"


def offline_model(body: dict[str, Any]) -> Reply:
    done = len(tool_results(body))
    order = ["reserve_inventory", "charge_payment", "dispatch_shipment"]
    if done < len(order):
        return Reply(tool_calls=[ToolCallReply(order[done], {"order": {}})])
    return Reply(text="SUCCESS: order fulfilled")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, model(offline_model) as llm:
        client = await Client.connect(f"sqlite:///{Path(tmp) / 'stalwart.db'}")
        async with Worker(client, task_queue="payments", workflows=[PaymentAgentWorkflow],
                          activities=[*LLMActivities(openai_client=llm.client).activities(),
                                      reserve_inventory, release_inventory, charge_payment,
                                      refund_payment, dispatch_shipment]):
            outcome = await client.execute_workflow(
                PaymentAgentWorkflow.run,
                args=[Order("o-7", "sku-42", 99.5, "antarctica"), llm.name],
                id="saga-demo", task_queue="payments")
        print(outcome)
        print("ledger:", " -> ".join(LEDGER))
        await client.close()
        await llm.client.close()


if __name__ == "__main__":
    asyncio.run(main())
