"""Human steps: places where a workflow waits for a person, published so an inbox can find them.

A workflow declares a human step by asking through :class:`HumanSteps` and exposing one
update (or signal) handler that passes the decision on::

    @workflow.defn
    class Refund:
        def __init__(self) -> None:
            self.human = HumanSteps(handler="review")          # an update named "review"

        @workflow.run
        async def run(self, amount: int) -> str:
            decision = await self.human.ask("refund", f"Refund {amount} USD?",
                                            timeout=timedelta(hours=4))
            return "refunded" if decision.approved else f"refused: {decision.reason}"

        @workflow.update
        def review(self, decision: ApprovalDecision) -> str:
            return self.human.decide(decision)

        @review.validator
        def _check(self, decision: ApprovalDecision) -> None:
            self.human.validate(decision)

While a step waits, the run carries the search attribute ``StalwartAwaitingHuman = true`` and
the memo ``stalwart.human_steps`` (what it asks, since when, until when, and which handler
answers it). Both are recorded in the history like any upsert, and the search attribute is
indexed, so the dev server's inbox (``/inbox``, ``GET /api/inbox``, ``stalwart inbox``) is one
indexed query, not a walk over histories. The decision arrives as the handler's argument, so
who decided, what and why is in the history too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from .. import workflow
from .._model.search_attributes import SearchAttributeKey
from ..exceptions import ApplicationError
from ._types import ApprovalDecision

__all__ = ["AWAITING_HUMAN", "HUMAN_STEPS_MEMO", "HumanStep", "HumanSteps"]

AWAITING_HUMAN = SearchAttributeKey.for_bool("StalwartAwaitingHuman")
HUMAN_STEPS_MEMO = "stalwart.human_steps"
# Published with a marker, so runs that started before human steps were published replay
# without it (their history has no upserts at these points).
_PATCH = "stalwart.agents.publish-human-steps"


@dataclass
class HumanStep:
    """One step waiting for a person, as the inbox shows it.

    Args:
        id: Names the step within its run; the decision's ``call_id`` must equal it.
        asks: What the person is asked, in a sentence.
        kind: ``"approval"`` (approve or reject), ``"question"`` (an answer is wanted) or
            ``"budget"`` (an agent stopped at its budget).
        details: JSON-able context shown with the question (a tool's arguments, say).
        handler: The update or signal that takes the :class:`ApprovalDecision`.
        handler_kind: ``"update"`` or ``"signal"``.
        since: ISO time the step began waiting (workflow time).
        until: ISO time the step stops waiting and takes its default, if it has a timeout.
    """

    id: str
    asks: str
    kind: str = "approval"
    details: Any = None
    handler: str = "decide"
    handler_kind: str = "update"
    since: str = ""
    until: str | None = None
    default: bool | None = None


@dataclass
class HumanSteps:
    """The human steps of one run (create it in the workflow's ``__init__`` or ``run``).

    Args:
        handler: Name of the update (or signal) the workflow exposes for decisions.
        handler_kind: ``"update"`` (validated, the sender learns the outcome) or ``"signal"``.
        publish: Publish waiting steps for the inbox (search attribute and memo).
    """

    handler: str = "decide"
    handler_kind: str = "update"
    publish: bool = True
    pending: dict[str, HumanStep] = field(default_factory=dict, init=False)
    _decided: dict[str, ApprovalDecision] = field(default_factory=dict, init=False, repr=False)
    _published: bool | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.handler_kind not in ("update", "signal"):
            raise ValueError(f"HumanSteps handler_kind={self.handler_kind!r}: use 'update' "
                             "or 'signal'")

    async def ask(self, step_id: str, asks: str, *, kind: str = "approval",
                  details: Any = None, timeout: timedelta | float | None = None,
                  default: bool = False, default_reason: str | None = None
                  ) -> ApprovalDecision:
        """Wait until a person decides step ``step_id`` (or ``timeout`` passes).

        On timeout the decision is ``approved=default`` with ``by="timeout"``.

        Raises:
            ValueError: a step with this id is already waiting.
        """
        if step_id in self.pending:
            raise ValueError(f"human step {step_id!r} is already waiting; give each step of "
                             "a run its own id")
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        now = workflow.now()
        until = (now + timedelta(seconds=seconds)).isoformat() if seconds is not None else None
        self.pending[step_id] = HumanStep(step_id, asks, kind, details, self.handler,
                                          self.handler_kind, now.isoformat(), until, default)
        self._publish()
        try:
            await workflow.wait_condition(lambda: step_id in self._decided, timeout=seconds)
            decision = self._decided.pop(step_id)
        except TimeoutError:
            decision = ApprovalDecision(step_id, default, by="timeout", reason=default_reason
                                        or f"no decision within {seconds:g} s")
        finally:
            self.pending.pop(step_id, None)
            self._decided.pop(step_id, None)
            self._publish()
        return decision

    def decide(self, decision: ApprovalDecision) -> str:
        """Take a decision (call it from the handler); ignored when nothing waits for it."""
        if decision.call_id in self.pending:
            self._decided[decision.call_id] = decision
        return "approved" if decision.approved else "rejected"

    def validate(self, decision: ApprovalDecision) -> None:
        """Raise (rejecting the update) unless ``decision`` answers a waiting step."""
        if decision.call_id not in self.pending:
            waiting = ", ".join(sorted(self.pending)) or "none"
            raise ApplicationError(f"no step {decision.call_id!r} is waiting for a decision "
                                   f"(waiting: {waiting})", type="NoSuchApproval",
                                   non_retryable=True)

    def _publish(self) -> None:
        if not self.publish:
            return
        if self._published is None:
            self._published = workflow.patched(_PATCH)
        if not self._published:
            return
        steps = [asdict(step) for step in self.pending.values()]
        workflow.upsert_memo({HUMAN_STEPS_MEMO: steps or None})
        workflow.upsert_search_attributes([AWAITING_HUMAN.value_set(True) if steps
                                           else AWAITING_HUMAN.value_unset()])
