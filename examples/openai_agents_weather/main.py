"""The OpenAI Agents SDK as Temporal's documentation writes it, on Stalwart.

``python -m examples.openai_agents_weather.main``: the plugin goes on the client, the workflow
calls the SDK's own ``Runner.run_streamed``, the tool is an activity
(``workflow.activity_as_tool``). While the run goes on, this script follows the model's text
as it streams (from the workflow's stream, not the history), then prints which activities the
history recorded: every model call and every tool call is one.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents import Agent, OpenAIProvider, Runner
from stalwart import activity, workflow
from stalwart.agents.testing import Reply, ToolCallReply
from stalwart.client import Client
from stalwart.contrib.openai_agents import (
    ModelActivityParameters,
    OpenAIAgentsPlugin,
    stream_events,
)
from stalwart.contrib.openai_agents import workflow as agents_workflow
from stalwart.worker import Worker

from .._fake_llm import model, tool_results


@activity.defn
async def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return {"Paris": "sunny, 21C", "Oslo": "snow, -3C"}.get(city, "unknown")


agent = Agent(
    name="Weather", instructions="Answer weather questions; use the tool for current weather.",
    tools=[agents_workflow.activity_as_tool(get_weather,
                                            start_to_close_timeout=timedelta(seconds=10))])


@workflow.defn
class WeatherWorkflow:
    @workflow.run
    async def run(self, question: str, model_name: str) -> str:
        result = Runner.run_streamed(agent.clone(model=model_name), question)
        async for _ in result.stream_events():
            pass  # the workflow could react to run items here; deltas are not recorded
        return str(result.final_output)


def offline_model(body: dict[str, Any]) -> Reply:
    results = tool_results(body)
    if not results:
        return Reply(tool_calls=[ToolCallReply("get_weather", {"city": "Paris"})])
    return Reply(text=f"In Paris right now it is {results[-1]}. Enjoy your walk!",
                 chunk_delay=0.01)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, model(offline_model) as llm:
        url = f"sqlite:///{Path(tmp) / 'stalwart.db'}"
        plugin = OpenAIAgentsPlugin(
            model_params=ModelActivityParameters(start_to_close_timeout=timedelta(seconds=60)),
            # The offline stand-in speaks chat completions, not the Responses API.
            model_provider=OpenAIProvider(openai_client=llm.client, use_responses=False))
        client = await Client.connect(url, plugins=[plugin])
        async with Worker(client, task_queue="weather", workflows=[WeatherWorkflow],
                          activities=[get_weather]):
            handle = await client.start_workflow(
                WeatherWorkflow.run, args=["Weather in Paris?", llm.name], id="weather-demo",
                task_queue="weather")
            print("streamed: ", end="", flush=True)
            async for event in stream_events(handle):
                if event.kind == "event" and event.event and \
                        event.event.get("type") == "response.output_text.delta":
                    print(event.event["delta"], end="", flush=True)
                elif event.kind == "retry":
                    print(f"\n(model call {event.call} retried; attempt {event.attempt})")
            print(f"\nanswer: {await handle.result()}")
        history = await handle.fetch_history()
        print("activities:", ", ".join(e.attributes["activityType"]["name"] for e in history.events
                                       if e.event_type == "ActivityTaskScheduled"))
        await client.close()
        await llm.client.close()


if __name__ == "__main__":
    asyncio.run(main())
