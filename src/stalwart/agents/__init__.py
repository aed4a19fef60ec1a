"""The agent layer: durable LLM calls, tools, agent loops, human approval, streaming.

Framework-neutral (no agent framework needed; the ``openai`` and ``anthropic`` SDKs are optional
extras ``stalwart[agents-openai]`` / ``stalwart[agents-anthropic]``). See ``docs/agents.md``.

* :class:`LLMActivities` -- the ``stalwart.agents.chat`` activity over the official SDKs.
* :func:`activity_as_tool` -- an activity as a tool (schema from its type hints).
* :class:`AgentLoop` / :class:`AgentWorkflow` -- the durable loop and a ready workflow.
* :class:`AgentStore` -- large contents outside the history.
* :class:`HumanSteps` -- waiting for a person, published to the dev server's inbox.
* :func:`record_usage` -- tokens and cost in the run's memo ``stalwart.usage``.
* :class:`ChatSession` / :func:`send_message` -- a chat session fed by update-with-start.
"""

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
from .convert import AttrDict, attribute_data_converter
from .cost import USAGE_MEMO, ModelUsage, RunUsage, record_usage, run_usage_from_memo
from .human import AWAITING_HUMAN, HUMAN_STEPS_MEMO, HumanStep, HumanSteps
from .llm import (
    CHAT_ACTIVITY,
    LLMActivities,
    classify_error,
    content_of,
    estimate_cost,
)
from .loop import (
    BUDGET_MEMO,
    DEFAULT_LLM_RETRY_POLICY,
    AgentConfig,
    AgentInput,
    AgentLoop,
    AgentResult,
    AgentStatus,
    AgentWorkflow,
)
from .session import (
    CHAT_TOPIC,
    ChatSession,
    SessionInput,
    SessionResult,
    SessionTurn,
    send_message,
)
from .store import AgentStore, StreamUpdate
from .tools import activity_as_tool, json_schema

__all__ = [
    "AWAITING_HUMAN",
    "BUDGET_MEMO",
    "CHAT_ACTIVITY",
    "CHAT_TOPIC",
    "DEFAULT_LLM_RETRY_POLICY",
    "HUMAN_STEPS_MEMO",
    "USAGE_MEMO",
    "AgentConfig",
    "AgentInput",
    "AgentLoop",
    "AgentResult",
    "AgentStatus",
    "AgentStore",
    "AgentWorkflow",
    "ApprovalDecision",
    "ApprovalRequest",
    "AttrDict",
    "ChatSession",
    "ContentRef",
    "HumanStep",
    "HumanSteps",
    "LLMActivities",
    "Message",
    "ModelRequest",
    "ModelResponse",
    "ModelUsage",
    "RunUsage",
    "SessionInput",
    "SessionResult",
    "SessionTurn",
    "StreamUpdate",
    "ToolSpec",
    "Usage",
    "activity_as_tool",
    "attribute_data_converter",
    "classify_error",
    "content_of",
    "estimate_cost",
    "json_schema",
    "record_usage",
    "run_usage_from_memo",
    "send_message",
]
