"""Serializable values the agent layer passes between workflows and activities.

Messages use the OpenAI chat format (``{"role": ..., "content": ..., "tool_calls": [...]}``)
whatever the provider: the Anthropic activity translates on its way out and back. A message
may carry ``content_ref`` instead of ``content``: the text then lives in the
:class:`~stalwart.agents.AgentStore` and the LLM activity loads it before calling the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..common import RetryPolicy

Message = dict[str, Any]


@dataclass
class Usage:
    """Tokens and estimated cost of one model call, or summed over many.

    ``input_tokens`` counts every input token, the ones read from or written to the provider's
    prompt cache included (``cached_input_tokens``, ``cache_write_tokens``). ``cost_usd`` sums
    the calls whose model has a known price; ``unpriced_calls`` counts the others, so a total
    is never mistaken for complete when it is not.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    unpriced_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd = round(self.cost_usd + other.cost_usd, 10)
        self.calls += other.calls
        self.cached_input_tokens += other.cached_input_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.unpriced_calls += other.unpriced_calls


@dataclass
class ModelRequest:
    """One model call. ``provider`` picks the SDK: ``"openai"`` (any OpenAI-compatible
    endpoint) or ``"anthropic"``.

    Args:
        stream_to: Workflow id whose stream the partial text is written to (needs an
            :class:`AgentStore` on the activities); ``None`` calls the model without streaming.
        stream_id: Names this call's stream entry (the agent loop uses the step number).
    """

    model: str
    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)
    provider: str = "openai"
    temperature: float | None = None
    max_tokens: int | None = None
    tool_choice: str | None = None
    stream_to: str | None = None
    stream_id: str = ""


@dataclass
class ModelResponse:
    """The assistant message (OpenAI chat format), why the model stopped, and its usage."""

    message: Message
    usage: Usage
    model: str = ""
    finish_reason: str = ""

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return list(self.message.get("tool_calls") or [])

    @property
    def content(self) -> str | None:
        content = self.message.get("content")
        return content if isinstance(content, str) else None


@dataclass
class ToolSpec:
    """A tool the model may call, run as the activity ``activity`` (see ``activity_as_tool``).

    Serializable, so it can be part of a workflow's input. Timeouts are in seconds.
    """

    name: str
    description: str
    parameters: dict[str, Any]
    activity: str
    param_names: list[str] = field(default_factory=list)
    needs_approval: bool = False
    start_to_close_timeout: float | None = 300.0
    schedule_to_close_timeout: float | None = None
    heartbeat_timeout: float | None = None
    retry_policy: RetryPolicy | None = None
    task_queue: str | None = None

    def openai_schema(self) -> dict[str, Any]:
        """The tool in the ``tools=[...]`` form of OpenAI's chat completions API."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": self.parameters}}


@dataclass
class ContentRef:
    """A pointer to text kept in the :class:`AgentStore` instead of the history.

    An activity (a tool, say) that produces a large result stores it with
    ``AgentStore.put`` and returns the ``ContentRef``; the agent loop keeps only the key.
    """

    key: str
    size: int = 0
    preview: str = ""

    @staticmethod
    def from_value(value: Any) -> ContentRef | None:
        if isinstance(value, ContentRef):
            return value
        if isinstance(value, dict) and set(value) == {"key", "size", "preview"} \
                and isinstance(value.get("key"), str) and value["key"].startswith("sha256:"):
            return ContentRef(value["key"], int(value["size"]), str(value["preview"]))
        return None


@dataclass
class ApprovalRequest:
    """A tool call waiting for a human decision (visible through the ``status`` query)."""

    call_id: str
    tool: str
    arguments: dict[str, Any]
    requested_at: str


@dataclass
class ApprovalDecision:
    """A human's (or the timeout's) answer to an :class:`ApprovalRequest`.

    Sent as the ``approve`` signal or the ``decide`` update; it is the payload recorded in the
    workflow's history, so who decided what, and why, is part of the audit trail. ``answer``
    carries a reply when the step asked a question (any JSON value).
    """

    call_id: str
    approved: bool
    by: str = ""
    reason: str = ""
    answer: Any = None
