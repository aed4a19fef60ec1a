"""KILL_handover: a worker SIGKILLed under load; how soon its in-flight work runs elsewhere.

Two worker processes serve one task queue. The client starts workflows of one activity each.
In the first worker an activity's first attempt blocks (it stands for a long LLM call); every
other attempt returns at once. Once the first worker is full and the second has run the rest,
the first worker is SIGKILLed, and for each of its in-flight activities the benchmark measures
the time from the kill to that activity starting again in the surviving worker. Its
start-to-close timeout (60 s) is far longer than anything measured, so only liveness can hand
the work over.

Two modes: ``same_host`` (the surviving worker sees the dead one's process is gone) and
``other_host`` (the killed worker runs under another host identity, ``STALWART_HOST_ID``, so
only its liveness lease running out can tell it is dead).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

from .._common import Config, WorkerProcess, announce_ready, new_id, percentile, rounded

NAME = "KILL_handover"
MODULE = "bench.workloads.kill_handover"
LOG_POLL_SECONDS = 0.002
# Set in the worker that is killed: its first attempts block, standing for long LLM calls.
BLOCK_VARIABLE = "STALWART_BENCH_BLOCK"


@activity.defn(name="handover_step")
async def step(index: int, path: str) -> int:
    info = activity.info()
    _append(path, f"start {index} {info.attempt} {time.time():.6f} {os.getpid()}\n")
    if info.attempt == 1 and os.environ.get(BLOCK_VARIABLE):
        await asyncio.sleep(3600)  # ended by the kill
    return index


def _append(path: str, line: str) -> None:
    with open(path, "a") as log:
        log.write(line)


@workflow.defn(name="HandoverOne")
class One:
    @workflow.run
    async def run(self, index: int, path: str) -> int:
        result: int = await workflow.execute_activity(
            step, args=[index, path], start_to_close_timeout=timedelta(seconds=60))
        return result


def _starts(path: Path) -> list[tuple[int, int, float, int]]:
    if not path.exists():
        return []
    rows = []
    for raw in path.read_text().splitlines():
        parts = raw.split()
        if len(parts) == 5:
            rows.append((int(parts[1]), int(parts[2]), float(parts[3]), int(parts[4])))
    return rows


async def _until(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"KILL_handover: {what} did not happen within {timeout}s")
        await asyncio.sleep(LOG_POLL_SECONDS)


async def _round(config: Config, other_host: bool, workflows: int) -> list[float]:
    url = config.db_url("kill")
    queue = new_id("kill")
    path = config.workdir / f"{new_id('kill-activities')}.log"
    log = config.workdir / f"{new_id('kill-worker')}.log"
    victim_env = {BLOCK_VARIABLE: "1"}
    if other_host:
        victim_env["STALWART_HOST_ID"] = new_id("other-host")
    # The victim holds at most half the attempts, whichever worker polls first.
    victim = WorkerProcess(MODULE, [url, queue, str(workflows // 2)], log, env=victim_env)
    survivor = WorkerProcess(MODULE, [url, queue, "100"], log)
    client = await Client.connect(url)
    try:
        await victim.start()
        handles = await asyncio.gather(*(
            client.start_workflow(One.run, args=[n, str(path)], id=new_id("kill"),
                                  task_queue=queue) for n in range(workflows)))
        await _until(lambda: len(_starts(path)) >= workflows // 2, "the victim filling up")
        await survivor.start()
        await _until(lambda: len(_starts(path)) >= workflows, "every first attempt starting")
        killed_at = time.time()
        await victim.kill()
        held = {index for index, attempt, _, pid in _starts(path) if pid == victim.pid}
        if not held:
            raise RuntimeError("KILL_handover: the survivor took every activity; nothing to "
                               "hand over")
        await _until(lambda: held <= {index for index, attempt, _, pid in _starts(path)
                                      if attempt > 1 and pid == survivor.pid},
                     "the killed worker's activities restarting")
        restarted = {index: at for index, attempt, at, pid in _starts(path)
                     if attempt > 1 and pid == survivor.pid and index in held}
        # The survivor's own first attempts block; they are not what is measured.
        await asyncio.gather(*(handle.result() for handle in handles))
    finally:
        await victim.kill()
        await survivor.kill()
        await client.close()
    return [restarted[index] - killed_at for index in held]


async def run(config: Config) -> dict[str, Any]:
    rounds, workflows = (1, 10) if config.short else (5, 40)
    result: dict[str, Any] = {"rounds": rounds, "workflows_per_round": workflows}
    for mode, other_host in (("same_host", False), ("other_host", True)):
        samples: list[float] = []
        for _ in range(rounds):
            samples.extend(await _round(config, other_host, workflows))
        result[f"{mode}_handed_over"] = len(samples)
        result[f"{mode}_p50_s"] = rounded(percentile(samples, 50))
        result[f"{mode}_p99_s"] = rounded(percentile(samples, 99))
        result[f"{mode}_max_s"] = rounded(max(samples))
    return result


async def _worker_main(url: str, queue: str, cap: str) -> None:
    client = await Client.connect(url)
    async with Worker(client, task_queue=queue, workflows=[One], activities=[step],
                      max_concurrent_activities=int(cap)):
        announce_ready()
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=3, metavar=("URL", "QUEUE", "CAP"), required=True)
    options = parser.parse_args()
    asyncio.run(_worker_main(*options.worker))
