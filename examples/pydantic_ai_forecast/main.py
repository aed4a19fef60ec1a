"""A Pydantic AI agent run durably, written as for Pydantic AI's Temporal integration.

``python -m examples.pydantic_ai_forecast.main``: the agent (a function tool, structured output)
is wrapped in ``TemporalAgent``, listed on the workflow, and ``PydanticAIPlugin`` goes on the
client. The agent loop runs in the workflow; the script prints the answer and which activities
the history recorded: every model request and every tool call is one.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_ai import Agent, FunctionToolset, RunContext
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from stalwart import workflow
from stalwart.agents.testing import Reply, ToolCallReply
from stalwart.client import Client
from stalwart.contrib.pydantic_ai import PydanticAIPlugin, PydanticAIWorkflow, TemporalAgent
from stalwart.worker import Worker

from .._fake_llm import model, tool_results


class Forecast(BaseModel):
    city: str
    summary: str


class Deps(BaseModel):
    unit: str = "C"


tools = FunctionToolset[Deps](id="weather")


@tools.tool
async def get_weather(ctx: RunContext[Deps], city: str) -> str:
    """Get the current weather in a city."""
    return {"Paris": f"sunny, 21{ctx.deps.unit}", "Oslo": f"snow, -3{ctx.deps.unit}"}.get(
        city, "unknown")


def build_agent(model: OpenAIChatModel) -> TemporalAgent:
    agent = Agent(model, name="forecaster", deps_type=Deps, output_type=Forecast,
                  toolsets=[tools], instructions="Answer with a forecast; use the tool.")
    return TemporalAgent(agent)


forecaster: TemporalAgent | None = None  # built in main(), once the model client is known


@workflow.defn
class ForecastWorkflow(PydanticAIWorkflow):
    @workflow.run
    async def run(self, question: str) -> Forecast:
        assert forecaster is not None
        result = await forecaster.run(question, deps=Deps())
        return result.output  # type: ignore[no-any-return]


def offline_model(body: dict[str, Any]) -> Reply:
    results = tool_results(body)
    if not results:
        return Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Paris"})])
    return Reply(tool_calls=[ToolCallReply("final_result", {
        "city": "Paris", "summary": f"{results[-1]}: a good day for a walk"})])


async def main() -> None:
    global forecaster
    with tempfile.TemporaryDirectory() as tmp, model(offline_model) as llm:
        forecaster = build_agent(OpenAIChatModel(
            llm.name, provider=OpenAIProvider(openai_client=llm.client)))
        ForecastWorkflow.__pydantic_ai_agents__ = [forecaster]
        client = await Client.connect(f"sqlite:///{Path(tmp) / 'stalwart.db'}",
                                      plugins=[PydanticAIPlugin()])
        async with Worker(client, task_queue="forecast", workflows=[ForecastWorkflow]):
            forecast = await client.execute_workflow(
                ForecastWorkflow.run, "Weather in Paris?", id="forecast-demo",
                task_queue="forecast", result_type=Forecast)
            print("answer:", json.dumps(forecast.model_dump()))
            history = await client.get_workflow_handle("forecast-demo").fetch_history()
        print("activities:", ", ".join(e.attributes["activityType"]["name"] for e in history.events
                                       if e.event_type == "ActivityTaskScheduled"))
        await client.close()
        await llm.client.close()


if __name__ == "__main__":
    asyncio.run(main())
