"""The workloads of Stalwart's `bench/` on DBOS Transact with its PostgreSQL system database.

Runs only in the virtualenv that ``bench/dbos/setup.sh`` makes (DBOS is never a dependency of
Stalwart). Each workload gets a freshly created database of its own (``--database``, default
``stalwart_bench_dbos``), dropped and created again by this script, so run it against a server
where that name is free. DBOS is configured as its documentation recommends for PostgreSQL: a
``system_database_url`` and every other setting at its default (LISTEN/NOTIFY on, the default
pool). Workflows and steps are ``async def``; steps are DBOS steps (``@DBOS.step()``), which
DBOS records durably one by one, as Stalwart records each activity result.

    bench/dbos/setup.sh
    .venv-dbos/bin/python bench/dbos/dbos_bench.py --workload all --json

Prints one JSON line per workload, with the same keys as ``python -m bench.run``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg

from dbos import DBOS, DBOSConfig

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
STEPS = 5
LLM_SECONDS = 0.2
PAUSE_SECONDS = 1.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


@DBOS.step()
async def echo(value: Any) -> Any:
    return value


@DBOS.step()
async def llm_call(step: int) -> float:
    await asyncio.sleep(LLM_SECONDS)
    return time.time()


@DBOS.workflow()
async def one_step(value: str) -> str:
    result: str = await echo(value)
    return result


@DBOS.workflow()
async def chain(length: int) -> int:
    total = 0
    for i in range(length):
        total += await echo(i)
    return total


@DBOS.workflow()
async def agent() -> list[float]:
    finished = []
    for step in range(STEPS):
        finished.append(await llm_call(step))
        if step < STEPS - 1:
            await DBOS.sleep_async(PAUSE_SECONDS)
    return finished


async def b1_latency(short: bool) -> dict[str, Any]:
    warmup, runs = (5, 30) if short else (20, 200)
    latencies: list[float] = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        handle = await DBOS.start_workflow_async(one_step, "x")
        result = await handle.get_result()
        elapsed = time.perf_counter() - started
        if result != "x":
            raise RuntimeError(f"B1 workflow returned {result!r}")
        if i >= warmup:
            latencies.append(elapsed)
    return {"runs": runs, "warmup": warmup, "p50_ms": ms(percentile(latencies, 50)),
            "p99_ms": ms(percentile(latencies, 99)), "mean_ms": ms(sum(latencies) / runs)}


async def b2_throughput(short: bool) -> dict[str, Any]:
    workflows, length = (10, 5) if short else (100, 20)
    started = time.perf_counter()
    handles = await asyncio.gather(*(DBOS.start_workflow_async(chain, length)
                                     for _ in range(workflows)))
    results = await asyncio.gather(*(h.get_result() for h in handles))
    wall = time.perf_counter() - started
    expected = length * (length - 1) // 2
    if any(r != expected for r in results):
        raise RuntimeError(f"B2 workflows returned {set(results)}, expected {expected}")
    return {"workflows": workflows, "activities_per_workflow": length,
            "wall_s": round(wall, 4), "activities_per_s": round(workflows * length / wall, 1)}


async def b6_long_history(short: bool) -> dict[str, Any]:
    length = 100 if short else 1000
    started = time.perf_counter()
    handle = await DBOS.start_workflow_async(chain, length)
    result = await handle.get_result()
    total = time.perf_counter() - started
    if result != length * (length - 1) // 2:
        raise RuntimeError(f"B6 workflow returned {result!r}")
    return {"activities": length, "total_s": round(total, 4),
            "ms_per_activity": ms(total / length)}


async def agent_load(short: bool) -> dict[str, Any]:
    count = 200 if short else 2000
    started_wall = time.time()
    started = time.perf_counter()
    handles = await asyncio.gather(*(DBOS.start_workflow_async(agent) for _ in range(count)))
    start_s = time.perf_counter() - started
    results = await asyncio.gather(*(h.get_result() for h in handles))
    wall = time.perf_counter() - started
    ideal = STEPS * LLM_SECONDS + (STEPS - 1) * PAUSE_SECONDS
    overheads = [max(finishes) - started_wall - ideal for finishes in results]
    return {"workflows": count, "steps_per_workflow": STEPS, "ideal_workflow_s": ideal,
            "start_all_s": round(start_s, 4), "wall_s": round(wall, 4),
            "steps_per_s": round(count * STEPS / wall, 1),
            "finish_overhead_p50_s": round(percentile(overheads, 50), 4),
            "finish_overhead_p99_s": round(percentile(overheads, 99), 4),
            "process_rss_peak_mib": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


WORKLOADS: dict[str, Callable[[bool], Awaitable[dict[str, Any]]]] = {
    "B1_latency": b1_latency, "B2_throughput": b2_throughput,
    "B6_long_history": b6_long_history, "AGENT_load": agent_load}


def recreate_database(server: str, database: str) -> str:
    """Drop and create ``database`` (this script's own), and return its URL."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    return urlunparse(urlparse(server)._replace(path=f"/{database}"))


async def run_one(name: str, server: str, database: str, short: bool) -> dict[str, Any]:
    url = recreate_database(server, database)
    config: DBOSConfig = {"name": "stalwart-bench", "system_database_url": url,
                          "log_level": "WARNING"}
    elapsed = time.perf_counter()
    DBOS(config=config)
    DBOS.launch()
    try:
        metrics = await WORKLOADS[name](short)
    finally:
        DBOS.destroy(destroy_registry=False)
    return {"workload": name, "store": "dbos-postgres", **metrics, "short": short,
            "elapsed_s": round(time.perf_counter() - elapsed, 3),
            "python": platform.python_version(), "dbos": version("dbos")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workload", default="all", choices=[*WORKLOADS, "all"])
    parser.add_argument("--short", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--database", default="stalwart_bench_dbos",
                        help="a database name of this script's own: it is dropped and created")
    args = parser.parse_args()
    server = os.environ.get("STALWART_BENCH_POSTGRES_URL", DEFAULT_SERVER)
    names = list(WORKLOADS) if args.workload == "all" else [args.workload]
    for _ in range(args.repeat):
        for name in names:
            if not args.json:
                print(f"running {name} on DBOS ...", file=sys.stderr)
            line = asyncio.run(run_one(name, server, args.database, args.short))
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
