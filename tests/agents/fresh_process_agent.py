"""A fresh process that runs one OpenAI agent workflow with the plugin set up the way
Temporal's samples set it up (default model provider, OPENAI_BASE_URL from the environment)
and prints the agent's answer. Nothing in the process has touched the Agents SDK's tracing
before the workflow runs, as in a newly started worker.

Usage: fresh_process_agent.py <db path>
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from agents import Agent, Runner, set_default_openai_api
from stalwart import workflow
from stalwart.client import Client
from stalwart.contrib.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin
from stalwart.worker import Worker


@workflow.defn
class HelloAgent:
    @workflow.run
    async def run(self, prompt: str) -> str:
        agent = Agent(name="Assistant", instructions="You only respond in haikus.")
        return str((await Runner.run(agent, prompt)).final_output)


async def main() -> None:
    set_default_openai_api("chat_completions")  # what the stand-in server speaks
    plugin = OpenAIAgentsPlugin(model_params=ModelActivityParameters(
        start_to_close_timeout=timedelta(seconds=30)))
    client = await Client.connect(f"sqlite:///{sys.argv[1]}", plugins=[plugin])
    async with Worker(client, task_queue="hello", workflows=[HelloAgent]):
        print(await client.execute_workflow(HelloAgent.run, "tell me about recursion",
                                            id="hello-agent", task_queue="hello",
                                            execution_timeout=timedelta(seconds=60)))


if __name__ == "__main__":
    asyncio.run(main())
