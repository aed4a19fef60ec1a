"""AGENT_processes: the agent's load on 1, 2 and 4 worker processes, each capped alike.

The workflows of ``AGENT_load`` (5 steps of a 200 ms "LLM call", a 1 s durable timer between
steps), 2,000 at once (200 when short), served by N worker subprocesses that may each run at
most 250 activities at once (25 when short). One process's cap bounds it at 1,250 LLM calls per
second; every added process adds as much capacity, so the wall time falls with N until the
machine's cores (or the store) are saturated. The client is this process.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from stalwart.client import Client
from stalwart.worker import Worker

from .. import process_stats
from .._common import Config, WorkerProcess, announce_ready, new_id, rounded, rss_mib, sample_peak
from .agent_load import STEPS, AgentLoad, llm_call

NAME = "AGENT_processes"
MODULE = "bench.workloads.agent_processes"


async def _one(config: Config, processes: int, count: int, cap: int) -> dict[str, Any]:
    url = config.db_url(f"agentp{processes}")
    queue = new_id("agentp")
    client = await Client.connect(url)
    workers = [WorkerProcess(MODULE, [url, queue, str(cap)],
                             config.workdir / f"{new_id('agentp-worker')}.log")
               for _ in range(processes)]
    peak_rss = 0.0
    try:
        await asyncio.gather(*(worker.start() for worker in workers))
        before = [await worker.stats() for worker in workers]
        client_cpu = process_stats.snapshot()["cpu_s"]
        started = time.perf_counter()
        handles = await asyncio.gather(*(
            client.start_workflow(AgentLoad.run, id=new_id("agentp"), task_queue=queue)
            for _ in range(count)))
        peak = [0.0]
        sampling = asyncio.ensure_future(sample_peak(
            peak, lambda: [rss_mib(worker.pid) for worker in workers]))
        try:
            await asyncio.gather(*(h.result() for h in handles))
        finally:
            sampling.cancel()
        peak_rss = max([peak[0], *(rss_mib(worker.pid) for worker in workers)])
        wall = time.perf_counter() - started
        client_cpu = process_stats.snapshot()["cpu_s"] - client_cpu
        after = [await worker.stats() for worker in workers]
    finally:
        for worker in workers:
            await worker.kill()
        await client.close()
    steps = count * STEPS
    stats = [process_stats.difference(b, a) for b, a in zip(before, after, strict=True)]
    return {f"p{processes}_wall_s": rounded(wall),
            f"p{processes}_steps_per_s": round(count * STEPS / wall, 1),
            f"p{processes}_worker_rss_peak_mib": round(peak_rss, 1),
            f"p{processes}_client_cpu_ms_per_activity": round(1000 * client_cpu / steps, 3),
            **process_stats.summary(f"p{processes}", stats, steps)}


async def run(config: Config) -> dict[str, Any]:
    count, cap = (200, 25) if config.short else (2000, 250)
    metrics: dict[str, Any] = {"workflows": count, "activities_per_process": cap}
    for processes in (1, 2, 4):
        metrics.update(await _one(config, processes, count, cap))
    return metrics


async def _worker_main(url: str, queue: str, cap: str) -> None:
    process_stats.install()
    client = await Client.connect(url)
    async with Worker(client, task_queue=queue, workflows=[AgentLoad], activities=[llm_call],
                      max_concurrent_activities=int(cap), max_concurrent_workflow_tasks=200,
                      max_cached_workflows=2000):
        process_stats.serve()
        announce_ready()
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=3, metavar=("URL", "QUEUE", "CAP"), required=True)
    options = parser.parse_args()
    asyncio.run(_worker_main(*options.worker))
