"""Stand-ins for what the seed snippets call but do not define."""
from __future__ import annotations

import dataclasses

from stalwart import activity, workflow

# -- stand-ins for what the snippets leave undefined ---------------------------------------


async def call_search_api(query: str) -> str:
    return f"results for {query}"


async def call_llm(prompt: str) -> str:
    return f"answer to {prompt} [DONE]" if "step 2" in prompt else f"answer to {prompt}"


@dataclasses.dataclass
class AgentState:
    checks: int = 0

    def update(self, result: str) -> AgentState:
        return AgentState(self.checks + 1)


@activity.defn
async def run_monitoring_check(state: AgentState) -> str:
    return f"check {state.checks}"


@activity.defn
async def run_weekly_research(topic: str) -> str:
    return f"weekly report on {topic}"


@activity.defn
async def send_report(report: str) -> None:
    return None


@activity.defn
async def generate_plan(task: str) -> str:
    return f"plan for {task}"


@activity.defn
async def execute_plan(plan: str) -> str:
    return f"executed {plan}"


@activity.defn
async def decompose_goal(goal: str) -> list[str]:
    return [f"{goal}: part {i}" for i in range(3)]


@activity.defn
async def synthesise_v1(topic: str) -> str:
    return f"v1 synthesis of {topic}"


@activity.defn
async def synthesise_v2(topic: str) -> str:
    return f"v2 synthesis of {topic}"


@activity.defn
async def generate_response(history: list) -> str:
    return f"reply to {history[-1]['content']}"


@workflow.defn
class ExecutorAgentWorkflow:
    @workflow.run
    async def run(self, task: str) -> str:
        return f"done: {task}"


@workflow.defn
class ValidatorWorkflow:
    @workflow.run
    async def run(self, results: list[str]) -> str:
        return f"validated {len(results)} results"


