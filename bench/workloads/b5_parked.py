"""B5: thousands of workflows parked on a signal: the worker's memory, then the wake-up time.

The worker runs in a subprocess so that its resident memory is its own, not the client's.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from stalwart import workflow
from stalwart.client import Client, WorkflowHandle
from stalwart.worker import Worker

from .._common import Config, WorkerProcess, announce_ready, new_id, rounded, rss_mib

NAME = "B5_parked"
MODULE = "bench.workloads.b5_parked"
# Starts and signals are sent in batches of this size, as a busy client would.
BATCH = 500
WAIT_POLL_SECONDS = 0.05


@workflow.defn(name="B5Parked")
class Parked:
    def __init__(self) -> None:
        self._released = False

    @workflow.signal(name="release")
    def release(self) -> None:
        self._released = True

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self._released)
        return "released"


async def _in_batches(coros: list[Any]) -> list[Any]:
    results: list[Any] = []
    for i in range(0, len(coros), BATCH):
        results.extend(await asyncio.gather(*coros[i:i + BATCH]))
    return results


async def _wait_all_parked(handles: list[WorkflowHandle[Any, Any]], timeout: float) -> None:
    """Wait until every run has committed its first workflow task (it is then waiting)."""
    deadline = time.monotonic() + timeout
    pending = list(handles)
    while pending:
        if time.monotonic() > deadline:
            raise RuntimeError(f"B5: {len(pending)} workflows not parked after {timeout}s")
        descriptions = await _in_batches([h.describe() for h in pending])
        pending = [h for h, d in zip(pending, descriptions, strict=True)
                   if d.history_length < 2]
        if pending:
            await asyncio.sleep(WAIT_POLL_SECONDS)


async def run(config: Config) -> dict[str, Any]:
    count = 100 if config.short else 2000
    url = config.db_url("b5")
    queue = new_id("b5")
    client = await Client.connect(url)
    worker = WorkerProcess(MODULE, [url, queue], config.workdir / f"{new_id('b5-worker')}.log")
    try:
        await worker.start()
        idle_rss = rss_mib(worker.pid)
        started = time.perf_counter()
        handles: list[WorkflowHandle[Any, Any]] = await _in_batches([
            client.start_workflow(Parked.run, id=new_id("b5"), task_queue=queue)
            for _ in range(count)])
        start = time.perf_counter() - started
        await _wait_all_parked(handles, timeout=600)
        park = time.perf_counter() - started
        parked_rss = rss_mib(worker.pid)

        signal_wall = time.time()
        signal_started = time.perf_counter()
        await _in_batches([h.signal("release") for h in handles])
        signalled = time.perf_counter() - signal_started
        for handle in handles:
            if await handle.result() != "released":
                raise RuntimeError("B5 workflow returned an unexpected result")
        observed = time.perf_counter() - signal_started
        descriptions = await _in_batches([h.describe() for h in handles])
    finally:
        await worker.kill()
        await client.close()
    last_close = max(d.close_time.timestamp() for d in descriptions if d.close_time)
    return {
        "workflows": count, "worker_rss_idle_mib": round(idle_rss, 1),
        "worker_rss_parked_mib": round(parked_rss, 1),
        "kib_per_parked_workflow": round((parked_rss - idle_rss) * 1024 / count, 1),
        "start_s": rounded(start),
        "start_and_park_s": rounded(park), "signal_send_s": rounded(signalled),
        "signal_to_all_complete_s": rounded(last_close - signal_wall),
        "client_observed_s": rounded(observed),
    }


async def _worker_main(url: str, queue: str) -> None:
    client = await Client.connect(url)
    async with Worker(client, task_queue=queue, workflows=[Parked]):
        announce_ready()
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=2, metavar=("URL", "QUEUE"), required=True)
    options = parser.parse_args()
    asyncio.run(_worker_main(*options.worker))
