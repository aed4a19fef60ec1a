"""Workflows for the inbox, cost and budget tests (used in-process by workers of the tests)."""

from __future__ import annotations

from datetime import timedelta

from stalwart import activity, workflow
from stalwart.agents import ApprovalDecision, HumanSteps
from stalwart.common import SearchAttributeKey

CUSTOMER = SearchAttributeKey.for_keyword("CustomerId")


@activity.defn
async def issue_refund(customer: str, amount: int) -> str:
    """Pay money back to a customer (needs a human's approval)."""
    return f"refunded {amount} to {customer}"


@workflow.defn
class Refund:
    """Asks a person through a signal-answered human step; tagged with a search attribute."""

    def __init__(self) -> None:
        self.human = HumanSteps(handler="review", handler_kind="signal")

    @workflow.run
    async def run(self, customer: str, amount: int) -> str:
        workflow.upsert_search_attributes([CUSTOMER.value_set(customer)])
        decision = await self.human.ask(
            "refund", f"Refund {amount} USD to {customer}?", details={"amount": amount},
            timeout=timedelta(hours=1))
        if not decision.approved:
            return f"refused by {decision.by}: {decision.reason}"
        return f"refunded {amount} to {customer}, approved by {decision.by}"

    @workflow.signal
    def review(self, decision: ApprovalDecision) -> None:
        self.human.decide(decision)
