"""The research agent: a workflow that plans, searches, summarises and reports.

Every call to the model or to a tool is an activity, so its result is recorded in the workflow's
history. A worker that dies mid-run loses nothing that was recorded: the next worker replays
this code against the history and carries on from the step that was cut off.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from stalwart import activity, workflow
from stalwart.common import RetryPolicy

from . import llm, trace

STEPS = 6
CALL_TIMEOUT = timedelta(seconds=30)
CALL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)


def _step() -> tuple[int, int]:
    info = activity.info()
    return int(info.activity_id.removeprefix("step-")), info.attempt


async def _begin(name: str, detail: str) -> tuple[int, int]:
    step, attempt = _step()
    await asyncio.to_thread(trace.record, "begin", step, attempt, name, detail)
    return step, attempt


async def _done(step: int, attempt: int, name: str, detail: str) -> None:
    await asyncio.to_thread(trace.record, "done", step, attempt, name, detail)


@activity.defn
async def plan_research(question: str) -> list[str]:
    step, attempt = await _begin("plan_research", "asking the model for a plan")
    plan = (await llm.complete(f"PLAN: {question}")).splitlines()
    await _done(step, attempt, "plan_research", f"{len(plan)} sub-questions")
    return plan


@activity.defn
async def search_sources(query: str) -> list[str]:
    step, attempt = await _begin("search_sources", query)
    passages = await llm.search(query)
    await _done(step, attempt, "search_sources", f"{len(passages)} passages")
    return passages


@activity.defn
async def summarise_findings(question: str, findings: list[str]) -> str:
    step, attempt = await _begin("summarise_findings", f"{len(findings)} passages")
    summary = await llm.complete("SUMMARISE: " + question + "\n" + "\n".join(findings))
    await _done(step, attempt, "summarise_findings", "summary written")
    return summary


@activity.defn
async def write_report(question: str, plan: list[str], summary: str) -> str:
    step, attempt = await _begin("write_report", "drafting the report")
    sections = "\n".join(f"- {sub}" for sub in plan)
    report = await llm.complete(f"REPORT: {question}\nQuestions:\n{sections}\n"
                                f"Conclusion: {summary}")
    await _done(step, attempt, "write_report", f"{len(report.splitlines())} lines")
    return report


@workflow.defn
class ResearchAgent:
    @workflow.run
    async def run(self, question: str) -> str:
        plan = await workflow.execute_activity(
            plan_research, question, activity_id="step-1",
            start_to_close_timeout=CALL_TIMEOUT, retry_policy=CALL_RETRY)
        findings: list[str] = []
        for step, sub_question in enumerate(plan, start=2):
            findings += await workflow.execute_activity(
                search_sources, sub_question, activity_id=f"step-{step}",
                start_to_close_timeout=CALL_TIMEOUT, retry_policy=CALL_RETRY)
        summary = await workflow.execute_activity(
            summarise_findings, args=[question, findings], activity_id=f"step-{STEPS - 1}",
            start_to_close_timeout=CALL_TIMEOUT, retry_policy=CALL_RETRY)
        report: str = await workflow.execute_activity(
            write_report, args=[question, plan, summary], activity_id=f"step-{STEPS}",
            start_to_close_timeout=CALL_TIMEOUT, retry_policy=CALL_RETRY)
        return report


ACTIVITIES: list[Callable[..., Any]] = [
    plan_research, search_sources, summarise_findings, write_report]
