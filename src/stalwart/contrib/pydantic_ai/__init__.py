"""Run Pydantic AI agents durably (mirrors ``pydantic_ai.durable_exec.temporal``).

Install with ``pip install 'stalwart[pydantic-ai]'``. Wrap the agent, list it on the workflow,
and give :class:`PydanticAIPlugin` to the client::

    agent = Agent("openai:gpt-5", name="support", output_type=Answer)
    durable_agent = TemporalAgent(agent)

    @workflow.defn
    class Support(PydanticAIWorkflow):
        __pydantic_ai_agents__ = [durable_agent]

        @workflow.run
        async def run(self, question: str) -> Answer:
            return (await durable_agent.run(question)).output

    client = await Client.connect(url, plugins=[PydanticAIPlugin()])

The agent loop runs in the workflow; every model request is the activity
``agent__<name>__model_request`` and every function tool call the activity
``agent__<name>__toolset__<id>__call_tool``; an ``MCPToolset``'s listing and calls are
activities too. See ``docs/pydantic-ai.md`` for what is not supported (streaming, event stream
handlers, dynamic toolsets).
"""

from __future__ import annotations

try:
    import pydantic_ai as _pydantic_ai  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("stalwart.contrib.pydantic_ai needs Pydantic AI: "
                      "pip install 'stalwart[pydantic-ai]' (PyPI package 'pydantic-ai-slim')"
                      ) from error

from ._agent import StalwartAgent, TemporalAgent
from ._mcp import ActivityMCPToolset
from ._model import ActivityModel
from ._plugin import AgentPlugin, PydanticAIPayloadConverter, PydanticAIPlugin, PydanticAIWorkflow
from ._run_context import StalwartRunContext, TemporalRunContext
from ._toolset import ActivityToolset, TemporalWrapperToolset

__all__ = [
    "ActivityMCPToolset",
    "ActivityModel",
    "ActivityToolset",
    "AgentPlugin",
    "PydanticAIPayloadConverter",
    "PydanticAIPlugin",
    "PydanticAIWorkflow",
    "StalwartAgent",
    "StalwartRunContext",
    "TemporalAgent",
    "TemporalRunContext",
    "TemporalWrapperToolset",
]
