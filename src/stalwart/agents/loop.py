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

    ``stop_reason`` is ``"done"`` (the model answered), ``"max_steps"`` or ``"token_budget"``.
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
        self._decided: dict[str, ApprovalDecision] = {}
        self._tools = {tool.name: tool for tool in config.tools}
        self._current_stream: str | None = None

    # -- steering --------------------------------------------------------------------------
    def decide(self, decision: ApprovalDecision) -> None:
        """Record a human decision for a pending tool call (from a signal or an update)."""
        if decision.call_id in self.pending:
            self._decided[decision.call_id] = decision

    def validate_decision(self, decision: ApprovalDecision) -> None:
        """Raise unless ``decision`` answers a tool call that is waiting for one."""
        if decision.call_id not in self.pending:
            waiting = ", ".join(sorted(self.pending)) or "none"
            raise ApplicationError(f"no tool call {decision.call_id!r} is waiting for approval "
                                   f"(waiting: {waiting})", type="NoSuchApproval",
                                   non_retryable=True)

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
            if self._over_token_budget():
                return self._result("token_budget")
            response = await self.call_model()
            self.messages.append(response.message)
            if not response.tool_calls:
                return self._result("done")
            if self._over_token_budget():
                return self._result("token_budget")
            await self.run_tools(response.tool_calls)

    def _history_is_long(self) -> bool:
        info = workflow.info()
        limit = self.config.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit)

    def _over_token_budget(self) -> bool:
        budget = self.config.max_total_tokens
        return budget is not None and self.usage.total_tokens >= budget

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
            await workflow.wait_condition(lambda: call_id in self._decided,
                                          timeout=self.config.approval_timeout_seconds)
            decision = self._decided.pop(call_id)
        except TimeoutError:
            decision = ApprovalDecision(call_id, self.config.approval_default, by="timeout",
                                        reason="no decision within "
                                               f"{self.config.approval_timeout_seconds:g} s")
        finally:
            self.pending.pop(call_id, None)
        self.decisions.append(decision)
        self.state = "running tools"
        return decision


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
