"""An agent loop: a scripted "model" activity picks tools until it answers; each tool runs
as an activity. (One after the other: parallel activities that finish together may be
interleaved differently by two servers, which a differential test cannot pin down.)"""

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client

SCRIPT = [
    {"tools": [["weather", "Paris"], ["weather", "Rome"]]},
    {"tools": [["convert", "21C"]]},
    {"answer": "Rome is warmer"},
]


@activity.defn
async def model(turn: int, observations: list[str]) -> dict[str, Any]:
    return SCRIPT[turn]


@activity.defn
async def weather(city: str) -> str:
    return {"Paris": "18C", "Rome": "21C"}[city]


@activity.defn
async def convert(celsius: str) -> str:
    return f"{int(celsius[:-1]) * 9 // 5 + 32}F"


TOOLS = {"weather": weather, "convert": convert}


@workflow.defn
class Agent:
    @workflow.run
    async def run(self, question: str) -> dict[str, Any]:
        observations: list[str] = [question]
        opts = {"start_to_close_timeout": timedelta(seconds=10)}
        for turn in range(10):
            step = await workflow.execute_activity(model, args=[turn, observations], **opts)
            if "answer" in step:
                return {"answer": step["answer"], "observations": observations}
            for name, arg in step["tools"]:
                observations.append(await workflow.execute_activity(TOOLS[name], arg, **opts))
        return {"answer": None, "observations": observations}


WORKFLOWS = [Agent]
ACTIVITIES = [model, weather, convert]


async def run(client: Client, task_queue: str) -> object:
    return await client.execute_workflow(Agent.run, "Which is warmer?",
                                         id=f"{task_queue}-agent", task_queue=task_queue)
