"""Run OpenAI Agents SDK agents durably (mirrors ``temporalio.contrib.openai_agents``).

The SDK is the PyPI package ``openai-agents``; its import name is ``agents``. Install with
``pip install 'stalwart[openai-agents]'``. Give :class:`OpenAIAgentsPlugin` to the client (or a
worker), and write workflows as Temporal's documentation does::

    client = await Client.connect(url, plugins=[OpenAIAgentsPlugin(
        model_params=ModelActivityParameters(start_to_close_timeout=timedelta(seconds=60)))])

    @workflow.defn
    class Research:
        @workflow.run
        async def run(self, topic: str) -> str:
            result = await Runner.run(agent, topic)      # agents.Runner
            return result.final_output

Every model call is the ``invoke_model_activity`` activity, each
``workflow.activity_as_tool`` call its own activity, MCP servers' operations are activities,
and ``Runner.run_streamed`` streams events to readers (:func:`stream_events`) without putting
them in the history. See ``docs/agents.md`` for what differs from Temporal.
"""

from __future__ import annotations

try:
    import agents as _agents  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise ImportError("stalwart.contrib.openai_agents needs the OpenAI Agents SDK: "
                      "pip install 'stalwart[openai-agents]' (PyPI package 'openai-agents', "
                      "imported as 'agents')") from error

from . import testing, workflow
from ._errors import AgentsWorkflowError
from ._legacy import FinalOutput, StalwartRunner, TemporalRunner, activity_as_tool
from ._mcp import StatefulMCPServerProvider, StatelessMCPServerProvider
from ._model_activity import MODEL_ACTIVITY, STREAMING_MODEL_ACTIVITY, ModelActivity
from ._params import ModelActivityParameters, ModelSummaryProvider
from ._plugin import OpenAIAgentsPlugin, OpenAIPayloadConverter
from ._streaming import ModelStreamEvent, stream_events
from ._worker_env import AllowAllWorkerEnvVars, temporal_worker_env_ref

__all__ = [
    "MODEL_ACTIVITY",
    "STREAMING_MODEL_ACTIVITY",
    "AgentsWorkflowError",
    "AllowAllWorkerEnvVars",
    "FinalOutput",
    "ModelActivity",
    "ModelActivityParameters",
    "ModelStreamEvent",
    "ModelSummaryProvider",
    "OpenAIAgentsPlugin",
    "OpenAIPayloadConverter",
    "StalwartRunner",
    "StatefulMCPServerProvider",
    "StatelessMCPServerProvider",
    "TemporalRunner",
    "activity_as_tool",
    "stream_events",
    "temporal_worker_env_ref",
    "testing",
    "workflow",
]
