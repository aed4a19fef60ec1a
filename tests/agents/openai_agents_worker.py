"""A worker process for the OpenAI Agents crash test: the plugin on the client, an agent with a
real stdio MCP server (notes) and a tool activity that records each start and, on its first
attempt, hangs (so the test can kill the worker while it runs).

Usage: openai_agents_worker.py <db path> <task queue> <openai base url> <tool log> <notes file>
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import openai
from agents.mcp import MCPServerStdio

from agents import Agent, OpenAIProvider, Runner
from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.contrib.openai_agents import (
    ModelActivityParameters,
    OpenAIAgentsPlugin,
    StatelessMCPServerProvider,
)
from stalwart.contrib.openai_agents import workflow as agents_workflow
from stalwart.worker import Worker

TOOL_LOG = Path(sys.argv[4]) if len(sys.argv) > 4 else Path("tool.log")
NOTES = Path(sys.argv[5]) if len(sys.argv) > 5 else Path("notes.txt")
MCP_SERVER = Path(__file__).with_name("mcp_notes_server.py")


@activity.defn
async def file_report(title: str) -> str:
    """File a report."""
    with TOOL_LOG.open("a") as log:
        log.write(f"start {title} attempt {activity.info().attempt} pid {os.getpid()}\n")
        log.flush()
        os.fsync(log.fileno())
    if activity.info().attempt == 1:
        await asyncio.sleep(60)  # killed here by the test
    return f"filed {title}"


@workflow.defn
class ReportWorkflow:
    @workflow.run
    async def run(self, request: str) -> str:
        agent = Agent(name="Reporter", instructions="Take notes, file reports.",
                      tools=[agents_workflow.activity_as_tool(
                          file_report, start_to_close_timeout=timedelta(seconds=120))],
                      mcp_servers=[agents_workflow.stateless_mcp_server("notes")])
        return str((await Runner.run(agent, request)).final_output)


@workflow.defn
class StreamedStoryWorkflow:
    @workflow.run
    async def run(self, request: str) -> str:
        result = Runner.run_streamed(Agent(name="Teller", instructions="Tell stories."),
                                     request)
        async for _ in result.stream_events():
            pass
        return str(result.final_output)


async def main() -> None:
    db, task_queue, base_url = sys.argv[1], sys.argv[2], sys.argv[3]
    http = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    notes = StatelessMCPServerProvider("notes", lambda: MCPServerStdio(
        {"command": sys.executable, "args": [str(MCP_SERVER), str(NOTES)]}, name="notes"))
    plugin = OpenAIAgentsPlugin(
        ModelActivityParameters(start_to_close_timeout=timedelta(seconds=120)),
        model_provider=OpenAIProvider(openai_client=http, use_responses=False),
        mcp_server_providers=[notes])
    client = await Client.connect(f"sqlite:///{db}", plugins=[plugin])
    worker = Worker(client, task_queue=task_queue,
                    workflows=[ReportWorkflow, StreamedStoryWorkflow],
                    activities=[file_report])
    await worker.run()


if __name__ == "__main__":
    asyncio.run(main())
