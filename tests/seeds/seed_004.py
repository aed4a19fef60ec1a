"""Seed article 004's workflow snippet as written; only the imports are Stalwart's."""
# ruff: noqa: I001, F405
from __future__ import annotations

import dataclasses
import datetime

from stalwart import activity, workflow

from tests.seeds.standins import *  # noqa: F403 - the snippets' undefined helpers


# -- seed 004: deterministic orchestrator with pause signal and query -------------------------
@dataclasses.dataclass
class ResearchInput:
    query: str
    max_steps: int = 10


@activity.defn
async def run_research_step(query: str, step: int) -> str:
    # Heartbeat keeps Temporal informed the activity is alive
    activity.heartbeat(f"Running step {step}")

    # Your LLM call goes here — crashes here will be retried
    response = await call_llm(f"Research step {step} for: {query}")
    return response


@workflow.defn
class ResearchAgentWorkflow:
    def __init__(self) -> None:
        self._paused = False

    @workflow.signal
    async def pause(self) -> None:
        self._paused = True

    @workflow.query
    def is_paused(self) -> bool:
        return self._paused

    @workflow.run
    async def run(self, inp: ResearchInput) -> str:
        # Pause signal support built-in
        await workflow.wait_condition(lambda: not self._paused)

        results = []
        for step in range(inp.max_steps):
            result = await workflow.execute_activity(
                run_research_step,
                args=[inp.query, step],
                start_to_close_timeout=datetime.timedelta(minutes=5),
            )
            results.append(result)
            if "[DONE]" in result:
                break

        return "\n".join(results)


