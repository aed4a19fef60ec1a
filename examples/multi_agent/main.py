"""Planner, executors, validator: three kinds of agents as workflows.

``python -m examples.multi_agent.main``: ``PlannerWorkflow`` asks a planner agent to split a
goal into tasks, runs one executor agent per task as a child workflow (in parallel), then a
validator agent as another child workflow. Each agent is an ``AgentWorkflow`` with its own
history, budgets and usage; the planner sums their usage.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stalwart import activity, workflow
from stalwart.agents import (
    AgentConfig,
    AgentInput,
    AgentLoop,
    AgentResult,
    AgentWorkflow,
    LLMActivities,
    Usage,
    activity_as_tool,
)
from stalwart.agents.testing import Reply, ToolCallReply
from stalwart.client import Client
from stalwart.worker import Worker

from .._fake_llm import last_user_text, model, tool_results

PLANNER = "You are a planner. Reply with one task per line, nothing else."
EXECUTOR = "You are an executor. Use the search tool, then answer in one sentence."
VALIDATOR = "You are a validator. Reply VALID or INVALID followed by a reason."


@activity.defn
async def search(query: str) -> str:
    """Search the knowledge base."""
    return f"[doc] notes about {query}"


@dataclass
class Goal:
    text: str
    model: str


@dataclass
class Report:
    tasks: list[str]
    answers: list[str]
    verdict: str
    usage: Usage = field(default_factory=Usage)


@workflow.defn
class PlannerWorkflow:
    @workflow.run
    async def run(self, goal: Goal) -> Report:
        planner = AgentLoop(AgentConfig(model=goal.model, instructions=PLANNER, max_steps=2))
        plan = await planner.run(goal.text)
        tasks = [line.strip("- ").strip() for line in (plan.output or "").splitlines()
                 if line.strip()]
        usage = Usage()
        usage.add(plan.usage)
        executor = AgentConfig(model=goal.model, instructions=EXECUTOR, max_steps=4,
                               tools=[activity_as_tool(search)])
        results: list[AgentResult] = await asyncio.gather(*(
            workflow.execute_child_workflow(AgentWorkflow.run, AgentInput(executor, task),
                                            id=f"{workflow.info().workflow_id}/task-{i}")
            for i, task in enumerate(tasks)))
        for result in results:
            usage.add(result.usage)
        answers = [result.output or "" for result in results]
        review = "\n".join(f"{t}: {a}" for t, a in zip(tasks, answers, strict=True))
        verdict: AgentResult = await workflow.execute_child_workflow(
            AgentWorkflow.run, AgentInput(AgentConfig(model=goal.model, instructions=VALIDATOR,
                                                      max_steps=1), review),
            id=f"{workflow.info().workflow_id}/validator")
        usage.add(verdict.usage)
        return Report(tasks, answers, verdict.output or "", usage)


def offline_model(body: dict[str, Any]) -> Reply:
    system = body["messages"][0]["content"]
    if system == PLANNER:
        return Reply(text="Find how workflows persist state\nFind how activities are retried")
    if system == VALIDATOR:
        return Reply(text="VALID: both answers cite a source.")
    results = tool_results(body)
    if not results:
        return Reply(tool_calls=[ToolCallReply("search", {"query": last_user_text(body)})])
    return Reply(text=f"According to {results[0]}, yes.")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, model(offline_model) as llm:
        client = await Client.connect(f"sqlite:///{Path(tmp) / 'stalwart.db'}")
        async with Worker(client, task_queue="multi", workflows=[PlannerWorkflow, AgentWorkflow],
                          activities=[*LLMActivities(openai_client=llm.client).activities(),
                                      search]):
            report = await client.execute_workflow(
                PlannerWorkflow.run, Goal("Explain durable execution", llm.name),
                id="multi-agent-demo", task_queue="multi")
        for task, answer in zip(report.tasks, report.answers, strict=True):
            print(f"- {task}\n  {answer}")
        print(f"validator: {report.verdict}")
        print(f"usage over all agents: {report.usage}")
        await client.close()
        await llm.client.close()


if __name__ == "__main__":
    asyncio.run(main())
