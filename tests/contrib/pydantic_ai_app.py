"""A Pydantic AI agent with a function tool and structured output, its workflows, and (run as a
script) a worker process for the crash test.

Usage: pydantic_ai_app.py <store url> <task queue> <openai base url> <tool log>
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

import openai
from pydantic import BaseModel
from pydantic_ai import Agent, FunctionToolset, ModelRetry, RunContext
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.providers.openai import OpenAIProvider
from pydantic_ai.usage import UsageLimits

from stalwart import workflow
from stalwart.common import RetryPolicy
from stalwart.contrib.pydantic_ai import PydanticAIWorkflow, TemporalAgent

HTTP_CLIENTS: list[openai.AsyncOpenAI] = []


async def close_http_clients() -> None:
    while HTTP_CLIENTS:
        await HTTP_CLIENTS.pop().close()


class Forecast(BaseModel):
    city: str
    summary: str
    population: int


class Deps(BaseModel):
    tool_log: str
    unit: str = "celsius"


def _log(path: str, line: str) -> None:
    with Path(path).open("a") as log:
        log.write(line + "\n")


def make_agent(base_url: str, name: str = "forecaster",
               extra_models: dict[str, str] | None = None) -> TemporalAgent:
    # The activity's retry policy is the only one: the SDK's own retries are off.
    http = openai.AsyncOpenAI(base_url=base_url, api_key="test-key", max_retries=0)
    HTTP_CLIENTS.append(http)
    model = OpenAIChatModel("gpt-test", provider=OpenAIProvider(openai_client=http))
    tools = FunctionToolset[Deps](id="weather", max_retries=2)

    @tools.tool
    async def get_weather(ctx: RunContext[Deps], city: str) -> str:
        """Get the weather in a city."""
        _log(ctx.deps.tool_log, f"get_weather {city} retry {ctx.retry} step {ctx.run_step} "
                                f"pid {os.getpid()}")
        if city.islower():
            raise ModelRetry(f"write the city with a capital letter, not {city!r}")
        if city == "Atlantis":
            raise KeyError(f"no weather station in {city}")  # a bug in the user's tool
        return f"sunny and 21 degrees {ctx.deps.unit} in {city}"

    @tools.tool_plain
    def get_population(city: str) -> int:
        """Get the population of a city."""
        return {"Paris": 2_100_000, "Oslo": 700_000}.get(city, 0)

    agent = Agent(model, name=name, deps_type=Deps, output_type=Forecast, toolsets=[tools],
                  instructions="Answer with a forecast; use the tools.")
    models = {}
    for key, model_name in (extra_models or {}).items():
        models[key] = OpenAIChatModel(model_name, provider=OpenAIProvider(openai_client=http))
    return TemporalAgent(agent, models=models, activity_config={
        "start_to_close_timeout": timedelta(seconds=120),
        "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=100),
                                    maximum_attempts=3)})


MCP_NOTES_SERVER = Path(__file__).resolve().parents[1] / "agents" / "mcp_notes_server.py"


def make_notes_agent(base_url: str, notes_file: str) -> TemporalAgent:
    """An agent whose tools come from a real MCP server (stdio): a notebook."""
    from fastmcp.client.transports import StdioTransport
    from pydantic_ai.mcp import MCPToolset

    http = openai.AsyncOpenAI(base_url=base_url, api_key="test-key", max_retries=0)
    HTTP_CLIENTS.append(http)
    notes = MCPToolset(StdioTransport(sys.executable, [str(MCP_NOTES_SERVER), notes_file]),
                       id="notes")
    agent = Agent(OpenAIChatModel("gpt-test", provider=OpenAIProvider(openai_client=http)),
                  name="notetaker", toolsets=[notes], instructions="Take notes.")
    return TemporalAgent(agent)


NOTES_AGENT: TemporalAgent | None = None


@workflow.defn
class NotesWorkflow(PydanticAIWorkflow):
    @workflow.run
    async def run(self, request: str) -> str:
        assert NOTES_AGENT is not None
        return str((await NOTES_AGENT.run(request)).output)


def _roll(sides: int) -> int:
    """Roll a die (a tool of the agent itself: the toolset '<agent>')."""
    return sides


ROLLER = TemporalAgent(Agent(TestModel(), name="roller", tools=[_roll]))


@workflow.defn
class RollWorkflow(PydanticAIWorkflow):
    """Drives the run node by node with agent.iter() instead of agent.run()."""

    __pydantic_ai_agents__ = [ROLLER]

    @workflow.run
    async def run(self) -> list[str]:
        nodes: list[str] = []
        async with ROLLER.iter("roll a d6") as run:
            async for node in run:
                nodes.append(type(node).__name__)
        assert run.result is not None
        return [*nodes, str(run.result.output)]


AGENT: TemporalAgent | None = None


def set_agent(agent: TemporalAgent) -> None:
    global AGENT
    AGENT = agent
    ForecastWorkflow.__pydantic_ai_agents__ = [agent]
    LimitedForecastWorkflow.__pydantic_ai_agents__ = [agent]


@workflow.defn
class ForecastWorkflow(PydanticAIWorkflow):
    @workflow.run
    async def run(self, question: str, tool_log: str) -> Forecast:
        assert AGENT is not None
        result = await AGENT.run(question, deps=Deps(tool_log=tool_log))
        return result.output  # type: ignore[no-any-return]


@workflow.defn
class LimitedForecastWorkflow(PydanticAIWorkflow):
    """Runs the agent with a request limit and, optionally, a model picked by key."""

    @workflow.run
    async def run(self, question: str, tool_log: str, request_limit: int,
                  model_key: str | None = None) -> Forecast:
        assert AGENT is not None
        result = await AGENT.run(question, deps=Deps(tool_log=tool_log), model=model_key,
                                 usage_limits=UsageLimits(request_limit=request_limit))
        return result.output  # type: ignore[no-any-return]


async def _main() -> None:
    from stalwart.client import Client
    from stalwart.contrib.pydantic_ai import PydanticAIPlugin
    from stalwart.worker import Worker

    url, task_queue, base_url = sys.argv[1], sys.argv[2], sys.argv[3]
    set_agent(make_agent(base_url))
    client = await Client.connect(url, plugins=[PydanticAIPlugin()])
    async with Worker(client, task_queue=task_queue, workflows=[ForecastWorkflow]):
        print("worker ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_main())
