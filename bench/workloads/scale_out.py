"""SCALE_processes: throughput with 1, 2 and 4 worker processes on one store.

The client (this process) starts 100 workflows of 20 sequential activities (10 x 10 when
short) on one task queue served by N worker subprocesses, and measures activities per second
from the first start to the last result, for N = 1, 2, 4. Activities are trivial, so this is
the engine's and the store's cost of coordination across processes.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import timedelta
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .. import process_stats
from .._common import Config, WorkerProcess, announce_ready, new_id, rounded

NAME = "SCALE_processes"
MODULE = "bench.workloads.scale_out"


@activity.defn(name="scale_step")
async def step(value: int) -> int:
    return value + 1


@workflow.defn(name="ScaleSteps")
class Steps:
    @workflow.run
    async def run(self, count: int) -> int:
        value = 0
        for _ in range(count):
            value = await workflow.execute_activity(
                step, value, start_to_close_timeout=timedelta(seconds=30))
        return value


async def _one(config: Config, processes: int, workflows: int, steps: int) -> dict[str, Any]:
    url = config.db_url(f"scale{processes}")
    queue = new_id("scale")
    client = await Client.connect(url)
    workers = [WorkerProcess(MODULE, [url, queue],
                             config.workdir / f"{new_id('scale-worker')}.log")
               for _ in range(processes)]
    try:
        await asyncio.gather(*(worker.start() for worker in workers))
        before = [await worker.stats() for worker in workers]
        client_cpu = process_stats.snapshot()["cpu_s"]
        started = time.perf_counter()
        handles = await asyncio.gather(*(
            client.start_workflow(Steps.run, steps, id=new_id("scale"), task_queue=queue)
            for _ in range(workflows)))
        results = await asyncio.gather(*(handle.result() for handle in handles))
        wall = time.perf_counter() - started
        client_cpu = process_stats.snapshot()["cpu_s"] - client_cpu
        after = [await worker.stats() for worker in workers]
        if any(result != steps for result in results):
            raise RuntimeError("a scale-out workflow returned a wrong result")
    finally:
        for worker in workers:
            await worker.kill()
        await client.close()
    stats = [process_stats.difference(b, a) for b, a in zip(before, after, strict=True)]
    return {f"p{processes}_wall_s": rounded(wall),
            f"p{processes}_activities_per_s": round(workflows * steps / wall, 1),
            f"p{processes}_client_cpu_ms_per_activity": round(
                1000 * client_cpu / (workflows * steps), 3),
            **process_stats.summary(f"p{processes}", stats, workflows * steps)}


async def run(config: Config) -> dict[str, Any]:
    workflows, steps = (10, 10) if config.short else (100, 20)
    metrics: dict[str, Any] = {"workflows": workflows, "activities_per_workflow": steps}
    for processes in (1, 2, 4):
        metrics.update(await _one(config, processes, workflows, steps))
    return metrics


async def _worker_main(url: str, queue: str) -> None:
    process_stats.install()
    client = await Client.connect(url)
    async with Worker(client, task_queue=queue, workflows=[Steps], activities=[step]):
        process_stats.serve()
        announce_ready()
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=2, metavar=("URL", "QUEUE"), required=True)
    options = parser.parse_args()
    asyncio.run(_worker_main(*options.worker))
