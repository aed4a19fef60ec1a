"""The OpenAI Agents SDK as Temporal's docs write it: ``OpenAIAgentsPlugin`` on the client,
the SDK's own ``Runner.run`` inside the workflow, a function tool made from an activity with
``workflow.activity_as_tool``, a handoff, and tool calls as the samples make them: two in one
model turn (two activities, started together), then another between two model turns. The
model is the harness's OpenAI-compatible stand-in (``LLM_STAND_IN``), so both servers get the
same answers in the same order.

The two tools of one turn run at once, and where the second one's completion lands in the
history (in the workflow task the first one's completion scheduled, or after it) depends on
timing, on Temporal as anywhere. So Rome's weather answers only once the workflow has taken
Paris's (the history shows a workflow task completed after it): the same history on every
run, on both servers."""

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.openai_agents import workflow as agents_workflow

from agents import Agent, Runner

from ._agents import stand_in_plugin

# What the stand-in answers, request by request (one run at a time, so the order is fixed).
LLM_STAND_IN = [
    {"tool_calls": [["get_weather", {"city": "Paris"}]]},
    {"text": "It is sunny in Paris."},
    {"tool_calls": [["transfer_to_billing", {}]]},
    {"text": "Refund issued."},
    {"tool_calls": [["get_weather", {"city": "Paris"}], ["get_weather", {"city": "Rome"}]]},
    {"tool_calls": [["get_time", {"city": "Rome"}]]},
    {"text": "Sunny in both; it is noon in Rome."},
]


@activity.defn
async def get_weather(city: str) -> str:
    """Get the weather in a city."""
    if city == "Rome":
        await _after_first_answer_taken()
    return f"sunny in {city}"


async def _after_first_answer_taken() -> None:
    # The travel run so far: the model's turn (an activity), then Paris's and Rome's weather.
    # Wait for Paris's completion (the second completed activity) and a workflow task after it.
    handle = activity.client().get_workflow_handle(activity.info().workflow_id)
    for _ in range(600):
        types = [e["eventType"] for e in (await handle.fetch_history()).to_json_dict()["events"]]
        done = [i for i, t in enumerate(types) if t == "EVENT_TYPE_ACTIVITY_TASK_COMPLETED"]
        if len(done) >= 2 and "EVENT_TYPE_WORKFLOW_TASK_COMPLETED" in types[done[1]:]:
            return
        await asyncio.sleep(0.02)
    raise RuntimeError("the workflow never took the first weather answer")


@activity.defn
async def get_time(city: str) -> str:
    """Get the local time in a city."""
    return f"12:00 in {city}"


@workflow.defn
class WeatherAgent:
    @workflow.run
    async def run(self, question: str) -> str:
        agent = Agent(
            name="Weather", instructions="Answer weather questions with the tools.",
            tools=[agents_workflow.activity_as_tool(
                get_weather, start_to_close_timeout=timedelta(seconds=10))])
        result = await Runner.run(agent, question)
        return str(result.final_output)


@workflow.defn
class TriageAgent:
    @workflow.run
    async def run(self, question: str) -> list[str]:
        billing = Agent(name="Billing", instructions="You handle refunds.")
        triage = Agent(name="Triage", instructions="Route the customer.", handoffs=[billing])
        result = await Runner.run(triage, question)
        return [result.last_agent.name, str(result.final_output)]


@workflow.defn
class TravelAgent:
    @workflow.run
    async def run(self, question: str) -> str:
        agent = Agent(
            name="Travel", instructions="Answer travel questions with the tools.",
            tools=[agents_workflow.activity_as_tool(
                       get_weather, start_to_close_timeout=timedelta(seconds=10)),
                   agents_workflow.activity_as_tool(
                       get_time, start_to_close_timeout=timedelta(seconds=10))])
        result = await Runner.run(agent, question)
        return str(result.final_output)


PLUGINS = [stand_in_plugin()]
WORKFLOWS = [WeatherAgent, TriageAgent, TravelAgent]
ACTIVITIES = [get_weather, get_time]

KNOWN_DIFFERENCES = {
    "attributes": (
        "the OpenAI Agents integration's activity payloads: temporalio writes a model "
        "request's unset settings as nulls and an MCP tool's schemas under their Python "
        "names; Stalwart leaves the nulls out and uses MCP's wire names"
    ),
}


async def run(client: Client, task_queue: str) -> object:
    weather = await client.execute_workflow(WeatherAgent.run, "Weather in Paris?",
                                            id=f"{task_queue}-weather", task_queue=task_queue)
    triage = await client.execute_workflow(TriageAgent.run, "Money back please",
                                           id=f"{task_queue}-triage", task_queue=task_queue)
    travel = await client.execute_workflow(TravelAgent.run, "Paris and Rome?",
                                           id=f"{task_queue}-travel", task_queue=task_queue)
    return {"weather": weather, "triage": triage, "travel": travel}
