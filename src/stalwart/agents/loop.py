"""The durable agent loop: model, tool calls, model, ... until the model answers.

Every model call is the ``stalwart.agents.chat`` activity and every tool call the tool's own
activity, so a crash resumes the loop after the last recorded call: nothing recorded is sent
again. The conversation lives in workflow state (rebuilt by replay), and is carried into a
fresh run by ``continue_as_new`` when the history grows long.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NoReturn

from .. import workflow
from ..common import RetryPolicy
from ..exceptions import ActivityError, ApplicationError
from ._types import (
    ApprovalDecision,
    ApprovalRequest,
    ContentRef,
    Message,
    ModelRequest,
    ModelResponse,
    ToolSpec,
    Usage,
)
from .cost import record_usage
from .human import HumanSteps
from .llm import CHAT_ACTIVITY

__all__ = [
    "DEFAULT_LLM_RETRY_POLICY",
    "AgentConfig",
    "AgentInput",
    "AgentLoop",
    "AgentResult",
    "AgentStatus",
    "AgentWorkflow",
]

# Rate limits clear in seconds to minutes; a provider outage can last longer. Non-retryable
# errors (bad request, bad key) fail at once whatever this says.
BUDGET_MEMO = "stalwart.budget"
_BUDGET_ACTIONS = ("stop", "pause")

DEFAULT_LLM_RETRY_POLICY = RetryPolicy(initial_interval=timedelta(seconds=1),
                                       backoff_coefficient=2.0,
                                       maximum_interval=timedelta(seconds=60),
                                       maximum_attempts=10)


@dataclass
class AgentConfig:
    """How an agent runs. Serializable: it is part of the workflow's input.

    Args:
        model: Model name, e.g. ``"gpt-4o-mini"`` or ``"claude-sonnet-4-5"``.
        provider: ``"openai"`` (any OpenAI-compatible endpoint) or ``"anthropic"``.
        instructions: The system prompt.
        tools: Tools from ``activity_as_tool``.
        max_steps: Model calls allowed (over the whole workflow, across continue-as-new).
        max_total_tokens: Stop once this many tokens (input + output) were used.
        max_cost_usd: Stop once the model calls cost this much (estimated, priced calls only).
        budget_action: What a spent budget does: ``"stop"`` ends the run with
            ``stop_reason`` ``"token_budget"``/``"cost_budget"``; ``"pause"`` waits as a
            human step (kind ``"budget"``) until someone approves going on (the decision's
            ``answer`` may give the new limit; without one the budget doubles) or rejects it
            (the run then stops as with ``"stop"``). Either way the reason is recorded in the
            run's memo ``stalwart.budget`` and the history.
        approval_handler: The update (or signal, see ``approval_handler_kind``) that takes
            decisions; ``AgentWorkflow`` exposes the update ``decide``.
        stream: Publish the model's text deltas to the workflow's stream (topic ``tokens``).
        approval_timeout_seconds: How long a ``needs_approval`` tool call waits for a human.
        approval_default: The decision taken when nobody decides in time.
        llm_timeout_seconds: Start-to-close timeout of each model call attempt.
        llm_retry_policy: Retry policy of model calls (default ``DEFAULT_LLM_RETRY_POLICY``).
        continue_as_new_after_events: Continue as new once the history has this many events
            (besides whenever Stalwart suggests it).
    """

    model: str
    provider: str = "openai"
    instructions: str = ""
    tools: list[ToolSpec] = field(default_factory=list)
    max_steps: int = 20
    max_total_tokens: int | None = None
    max_cost_usd: float | None = None
    budget_action: str = "stop"
    approval_handler: str = "decide"
    approval_handler_kind: str = "update"
    temperature: float | None = None
    max_tokens: int | None = None
    stream: bool = False
    approval_timeout_seconds: float = 24 * 3600.0
    approval_default: bool = False
    llm_timeout_seconds: float = 300.0
    llm_retry_policy: RetryPolicy | None = None
    llm_task_queue: str | None = None
    continue_as_new_after_events: int | None = None


@dataclass
class AgentInput:
    """Input of :class:`AgentWorkflow`; the ``messages``/``usage``/``steps`` fields carry a
    conversation into the next run after continue-as-new."""

    config: AgentConfig
    prompt: str | None = None
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    decisions: list[ApprovalDecision] = field(default_factory=list)


@dataclass
class AgentResult:
    """What the agent produced.

    ``stop_reason`` is ``"done"`` (the model answered), ``"max_steps"``, ``"token_budget"`` or
    ``"cost_budget"``.
    ``output_ref`` is set instead of ``output`` when the answer was kept in the AgentStore.
    """

    output: str | None
    stop_reason: str
    steps: int
    usage: Usage
    messages: list[Message] = field(default_factory=list)
    output_ref: str | None = None


@dataclass
class AgentStatus:
    """What the ``status`` query returns: where the agent is and what it waits for."""

    state: str
    steps: int
    usage: Usage
    pending_approvals: list[ApprovalRequest]
    decisions: list[ApprovalDecision]
    current_stream_id: str | None


class AgentLoop:
    """The agent loop as a building block for your own workflows.

    Create it in ``@workflow.run`` and expose :meth:`status`, :meth:`decide` through your
    workflow's queries/signals (or use :class:`AgentWorkflow`, which does).
    """

    def __init__(self, config: AgentConfig, *, messages: list[Message] | None = None,
                 usage: Usage | None = None, steps: int = 0,
                 decisions: list[ApprovalDecision] | None = None) -> None:
        self.config = config
        self.messages: list[Message] = list(messages or [])
        if config.instructions and not any(m.get("role") == "system" for m in self.messages):
            self.messages.insert(0, {"role": "system", "content": config.instructions})
        self.usage = usage or Usage()
        self.steps = steps
        self.state = "idle"
        self.pending: dict[str, ApprovalRequest] = {}
        self.decisions: list[ApprovalDecision] = list(decisions or [])
        if config.budget_action not in _BUDGET_ACTIONS:
            raise ValueError(f"AgentConfig.budget_action={config.budget_action!r}: use 'stop' "
                             "or 'pause'")
        self.human = HumanSteps(handler=config.approval_handler,
                                handler_kind=config.approval_handler_kind)
        self._budget_pauses = 0
        self._tools = {tool.name: tool for tool in config.tools}
        self._current_stream: str | None = None

    # -- steering --------------------------------------------------------------------------
    def decide(self, decision: ApprovalDecision) -> None:
        """Record a human decision for a pending tool call or budget pause (from a signal or
        an update)."""
        self.human.decide(decision)

    def validate_decision(self, decision: ApprovalDecision) -> None:
        """Raise unless ``decision`` answers a step (tool call, budget) waiting for one."""
        self.human.validate(decision)

    def status(self) -> AgentStatus:
        return AgentStatus(self.state, self.steps, self.usage, list(self.pending.values()),
                           list(self.decisions), self._current_stream)

    # -- running ---------------------------------------------------------------------------
    async def run(self, prompt: str | None = None, *,
                  continue_as_new: Callable[[AgentInput], NoReturn] | None = None
                  ) -> AgentResult:
        """Add ``prompt`` as a user message and loop until the model answers or a budget ends.

        Args:
            continue_as_new: Called with the carried state when the history is long; it must
                not return (``AgentWorkflow`` passes ``workflow.continue_as_new``).
        """
        if prompt is not None:
            self.messages.append({"role": "user", "content": prompt})
        while True:
            if continue_as_new is not None and self._history_is_long():
                self.state = "continuing as new"
                continue_as_new(AgentInput(self.config, None, self.messages, self.usage,
                                           self.steps, self.decisions))
            if self.steps >= self.config.max_steps:
                return self._result("max_steps")
            spent = await self._check_budget()
            if spent is not None:
                return self._result(spent)
            response = await self.call_model()
            self.messages.append(response.message)
            if not response.tool_calls:
                return self._result("done")
            spent = await self._check_budget()
            if spent is not None:
                return self._result(spent)
            await self.run_tools(response.tool_calls)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        limit = self.config.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit)

    def _spent(self) -> tuple[str, str] | None:
        """Which budget is spent (stop reason, and a sentence saying so), if any."""
        config = self.config
        if config.max_total_tokens is not None and \
                self.usage.total_tokens >= config.max_total_tokens:
            return "token_budget", (f"token budget spent: {self.usage.total_tokens} of "
                                    f"{config.max_total_tokens} tokens used")
        if config.max_cost_usd is not None and self.usage.cost_usd >= config.max_cost_usd:
            return "cost_budget", (f"cost budget spent: {self.usage.cost_usd:.6f} of "
                                   f"{config.max_cost_usd:g} USD used")
        return None

    async def _check_budget(self) -> str | None:
        """None to go on; the stop reason when a budget is spent and the run must stop. With
        ``budget_action="pause"`` it first waits for a person to raise the budget."""
        spent = self._spent()
        while spent is not None:
            reason, text = spent
            if self.config.budget_action == "stop":
                self._record_budget("stopped", reason, text)
                return reason
            self._budget_pauses += 1
            self._record_budget("paused", reason, text)
            self.state = "paused at budget"
            decision = await self.human.ask(
                f"budget-{self._budget_pauses}", f"{text}. Approve to go on (answer: the new "
                "limit; without one the limit doubles) or reject to stop.", kind="budget",
                details={"reason": reason, "tokens": self.usage.total_tokens,
                         "cost_usd": self.usage.cost_usd,
                         "max_total_tokens": self.config.max_total_tokens,
                         "max_cost_usd": self.config.max_cost_usd},
                timeout=self.config.approval_timeout_seconds, default=False)
            self.decisions.append(decision)
            if not decision.approved:
                who = decision.by or "the reviewer"
                self._record_budget("stopped", reason, f"{text}; going on was rejected by "
                                    f"{who}" + (f": {decision.reason}" if decision.reason else ""))
                return reason
            self._raise_budget(reason, decision.answer)
            self._record_budget("resumed", reason, f"{text}; {decision.by or 'a reviewer'} "
                                "approved going on")
            self.state = "running"
            spent = self._spent()
        return None

    def _raise_budget(self, reason: str, answer: Any) -> None:
        config = self.config
        if reason == "token_budget":
            used = self.usage.total_tokens
            new = _number(answer)
            config.max_total_tokens = int(new) if new is not None and new > used else max(
                used + 1, 2 * (config.max_total_tokens or 0))
        else:
            used_cost = self.usage.cost_usd
            new = _number(answer)
            config.max_cost_usd = new if new is not None and new > used_cost else max(
                used_cost * 2, 2 * (config.max_cost_usd or 0.0), 1e-9)

    def _record_budget(self, state: str, reason: str, text: str) -> None:
        workflow.upsert_memo({BUDGET_MEMO: {
            "state": state, "reason": reason, "message": text, "at": workflow.now().isoformat(),
            "max_total_tokens": self.config.max_total_tokens,
            "max_cost_usd": self.config.max_cost_usd}})

    def _result(self, stop_reason: str) -> AgentResult:
        self.state = "finished"
        last = next((m for m in reversed(self.messages) if m.get("role") == "assistant"), {})
        content = last.get("content")
        return AgentResult(output=content if isinstance(content, str) else None,
                           stop_reason=stop_reason, steps=self.steps, usage=self.usage,
                           messages=self.messages, output_ref=last.get("content_ref"))

    async def call_model(self) -> ModelResponse:
        """One model call (an activity) on the current conversation; adds up its usage."""
        config = self.config
        self.steps += 1
        self.state = "calling model"
        stream_id = f"step-{self.steps}"
        self._current_stream = stream_id if config.stream else None
        request = ModelRequest(
            model=config.model, messages=self.messages,
            tools=[tool.openai_schema() for tool in config.tools], provider=config.provider,
            temperature=config.temperature, max_tokens=config.max_tokens,
            stream_to=workflow.info().workflow_id if config.stream else None,
            stream_id=stream_id)
        response: ModelResponse = await workflow.execute_activity(
            CHAT_ACTIVITY, request, result_type=ModelResponse,
            task_queue=config.llm_task_queue,
            start_to_close_timeout=timedelta(seconds=config.llm_timeout_seconds),
            heartbeat_timeout=timedelta(seconds=max(30.0, config.llm_timeout_seconds / 4))
            if config.stream else None,
            retry_policy=config.llm_retry_policy or DEFAULT_LLM_RETRY_POLICY,
            summary=f"model call {self.steps}")
        self.usage.add(response.usage)
        record_usage(response.model or config.model, response.usage)
        return response

    async def run_tools(self, tool_calls: list[dict[str, Any]]) -> None:
        """Run the calls (in parallel when several) and add their results to the conversation,
        in the order the model asked for them."""
        self.state = "running tools"
        results = await asyncio.gather(*(self._run_tool(call) for call in tool_calls))
        self.messages.extend(results)

    async def _run_tool(self, call: dict[str, Any]) -> Message:
        call_id = str(call.get("id"))
        name = call["function"]["name"]
        reply: Message = {"role": "tool", "tool_call_id": call_id}
        tool = self._tools.get(name)
        if tool is None:
            return {**reply, "content": f"error: there is no tool named {name!r}"}
        try:
            arguments = json.loads(call["function"].get("arguments") or "{}")
            if not isinstance(arguments, dict):
                raise ValueError("arguments are not a JSON object")
        except ValueError as error:
            return {**reply, "content": f"error: invalid arguments for {name!r}: {error}"}
        if tool.needs_approval:
            decision = await self._wait_for_approval(call_id, name, arguments)
            if not decision.approved:
                return {**reply, "content": f"The call was not approved by "
                                            f"{decision.by or 'the reviewer'}"
                                            + (f": {decision.reason}" if decision.reason else "")}
        args = []
        for param in tool.param_names:
            if param not in arguments:
                break
            args.append(arguments[param])
        try:
            result = await workflow.execute_activity(
                tool.activity, args=args, task_queue=tool.task_queue,
                start_to_close_timeout=_td(tool.start_to_close_timeout),
                schedule_to_close_timeout=_td(tool.schedule_to_close_timeout),
                heartbeat_timeout=_td(tool.heartbeat_timeout), retry_policy=tool.retry_policy,
                summary=f"tool {name}")
        except ActivityError as error:
            # The model gets to see the failure and may recover (another tool, other args).
            cause = error.__cause__ or error
            return {**reply, "content": f"error: tool {name!r} failed: {cause}"}
        ref = ContentRef.from_value(result)
        if ref is not None:
            return {**reply, "content_ref": ref.key}
        content = result if isinstance(result, str) else json.dumps(result, default=str)
        return {**reply, "content": content}

    async def _wait_for_approval(self, call_id: str, name: str,
                                 arguments: dict[str, Any]) -> ApprovalDecision:
        self.pending[call_id] = ApprovalRequest(call_id, name, arguments,
                                                workflow.now().isoformat())
        self.state = "waiting for approval"
        try:
            decision = await self.human.ask(
                call_id, f"Run the tool {name!r}?", details=arguments,
                timeout=self.config.approval_timeout_seconds,
                default=self.config.approval_default)
        finally:
            self.pending.pop(call_id, None)
        self.decisions.append(decision)
        self.state = "running tools"
        return decision


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _td(seconds: float | None) -> timedelta | None:
    return timedelta(seconds=seconds) if seconds is not None else None


@workflow.defn(name="stalwart.agents.AgentWorkflow")
class AgentWorkflow:
    """A ready-made agent: runs :class:`AgentLoop` on its input.

    Queries: ``status`` (:class:`AgentStatus`), ``usage`` (:class:`Usage`), ``messages``.
    Signal ``approve`` and update ``decide`` (validated: the call must be waiting) take an
    :class:`ApprovalDecision` for a ``needs_approval`` tool call.
    """

    def __init__(self) -> None:
        self._loop: AgentLoop | None = None

    @workflow.run
    async def run(self, input: AgentInput) -> AgentResult:
        self._loop = AgentLoop(input.config, messages=input.messages, usage=input.usage,
                               steps=input.steps, decisions=input.decisions)
        return await self._loop.run(input.prompt, continue_as_new=workflow.continue_as_new)

    @workflow.query
    def status(self) -> AgentStatus:
        if self._loop is None:
            return AgentStatus("starting", 0, Usage(), [], [], None)
        return self._loop.status()

    @workflow.query
    def usage(self) -> Usage:
        return self._loop.usage if self._loop is not None else Usage()

    @workflow.query
    def messages(self) -> list[Message]:
        return self._loop.messages if self._loop is not None else []

    @workflow.signal
    def approve(self, decision: ApprovalDecision) -> None:
        if self._loop is not None:
            self._loop.decide(decision)

    @workflow.update
    def decide(self, decision: ApprovalDecision) -> str:
        assert self._loop is not None
        self._loop.decide(decision)
        return "approved" if decision.approved else "denied"

    @decide.validator
    def _validate_decide(self, decision: ApprovalDecision) -> None:
        if self._loop is None:
            raise ApplicationError("the agent has not started yet", type="NotStarted",
                                   non_retryable=True)
        self._loop.validate_decision(decision)
