"""AGENT_load: the agent's load — many workflows in flight, each step waiting on an "LLM".

2,000 workflows (200 when short) run at once; each does 5 steps, and each step is an activity
that waits 200 ms (an LLM call) followed by a 1 s durable timer before the next step. The ideal
wall time for one workflow is 5 x 0.2 s + 4 x 1 s = 5 s; the workload reports how close all of
them together come to that, the step throughput, the spread of step latency overheads, and the
worker's resident memory at the peak.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import Config, new_id, percentile, rounded, rss_mib, sample_peak

NAME = "AGENT_load"
STEPS = 5
LLM_SECONDS = 0.2
PAUSE_SECONDS = 1.0


@activity.defn(name="agent_llm_call")
async def llm_call(step: int) -> float:
    await asyncio.sleep(LLM_SECONDS)
    return time.time()


@workflow.defn(name="AgentLoad")
class AgentLoad:
    @workflow.run
    async def run(self) -> list[float]:
        finished = []
        for step in range(STEPS):
            finished.append(await workflow.execute_activity(
                llm_call, step, start_to_close_timeout=timedelta(seconds=60)))
            if step < STEPS - 1:
                await workflow.sleep(PAUSE_SECONDS)
        return finished


async def run(config: Config) -> dict[str, Any]:
    count = 200 if config.short else 2000
    client = await Client.connect(config.db_url("agent"))
    queue = new_id("agent")
    peak_rss = 0.0
    try:
        async with Worker(client, task_queue=queue, workflows=[AgentLoad],
                          activities=[llm_call], max_concurrent_activities=count,
                          max_concurrent_workflow_tasks=200, max_cached_workflows=count):
            started_wall = time.time()
            started = time.perf_counter()
            handles = await asyncio.gather(*(
                client.start_workflow(AgentLoad.run, id=new_id("agent"), task_queue=queue)
                for _ in range(count)))
            start_s = time.perf_counter() - started
            peak = [0.0]
            sampling = asyncio.ensure_future(sample_peak(peak, lambda: [rss_mib(os.getpid())]))
            try:
                results: list[list[float]] = await asyncio.gather(*(h.result() for h in handles))
            finally:
                sampling.cancel()
            peak_rss = max(peak[0], rss_mib(os.getpid()))
            wall = time.perf_counter() - started
    finally:
        await client.close()
    ideal = STEPS * LLM_SECONDS + (STEPS - 1) * PAUSE_SECONDS
    # How late each workflow finished against its own ideal (from the common start).
    overheads = [max(finishes) - started_wall - ideal for finishes in results]
    return {
        "workflows": count, "steps_per_workflow": STEPS, "ideal_workflow_s": ideal,
        "start_all_s": rounded(start_s), "wall_s": rounded(wall),
        "steps_per_s": round(count * STEPS / wall, 1),
        "finish_overhead_p50_s": rounded(percentile(overheads, 50)),
        "finish_overhead_p99_s": rounded(percentile(overheads, 99)),
        "process_rss_peak_mib": round(peak_rss, 1),
    }
