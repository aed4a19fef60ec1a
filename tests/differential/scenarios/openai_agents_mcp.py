"""An MCP tool as Temporal's docs write it: a ``StatelessMCPServerProvider`` on the plugin
whose factory starts a real local MCP server over stdio, and ``stateless_mcp_server`` in the
workflow, so that listing the tools and calling one are each an activity. The model is the
harness's OpenAI-compatible stand-in (``LLM_STAND_IN``)."""

import sys
import warnings
from pathlib import Path

from agents.mcp import MCPServerStdio
from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.openai_agents import (
    OpenAIAgentsPlugin,
    StatelessMCPServerProvider,
)
from temporalio.contrib.openai_agents import workflow as agents_workflow

from agents import Agent, Runner

from ._agents import stand_in_plugin

LLM_STAND_IN = [
    {"tool_calls": [["capital_of", {"country": "Japan"}]]},
    {"text": "The capital of Japan is Tokyo."},
]

_SERVER = Path(__file__).with_name("_capitals_mcp_server.py")


@workflow.defn
class CapitalsAgent:
    @workflow.run
    async def run(self, question: str) -> str:
        server = agents_workflow.stateless_mcp_server("capitals", cache_tools_list=True)
        agent = Agent(name="Capitals", instructions="Answer with the capitals tool.",
                      mcp_servers=[server])
        result = await Runner.run(agent, question)
        return str(result.final_output)


def _capitals_server() -> MCPServerStdio:
    return MCPServerStdio(name="capitals",
                          params={"command": sys.executable, "args": [str(_SERVER)]})


def _plugin() -> OpenAIAgentsPlugin:
    with warnings.catch_warnings():
        # Deprecated in favour of OpenAIAgentsPlugin(mcp_servers=...), still documented.
        warnings.simplefilter("ignore", DeprecationWarning)
        provider = StatelessMCPServerProvider("capitals", _capitals_server)
    return stand_in_plugin(mcp_server_providers=[provider])


PLUGINS = [_plugin()]
WORKFLOWS = [CapitalsAgent]

KNOWN_DIFFERENCES = {
    "attributes": (
        "the OpenAI Agents integration's activity payloads: temporalio writes a model "
        "request's unset settings as nulls and an MCP tool's schemas under their Python "
        "names; Stalwart leaves the nulls out and uses MCP's wire names"
    ),
}


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(CapitalsAgent.run, "Capital of Japan?",
                                         id=f"{task_queue}-capitals", task_queue=task_queue)
