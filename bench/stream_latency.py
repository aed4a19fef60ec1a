"""Workflow stream latency: from a publish call to the item reaching a reader.

    python -m bench.stream_latency [--store sqlite|postgres|both] [--items 200] [--json]

A workflow is started (no worker is needed: publishing only needs the run to exist) and a
reader follows its stream with ``client.workflow_stream(id).subscribe()``. A publisher appends
``--items`` items one at a time, ``--gap`` seconds apart (so each one wakes the reader on its
own), each carrying the wall-clock time just before its publish call. The latency of an item
is the reader's clock when the item is yielded minus that time: the commit, the wake-up and
the reader's query. Two placements:

* ``same_process``: publisher and reader share a client in one process (in-process wake-up);
* ``other_process``: the publisher is a subprocess, as an activity on another worker is
  (PostgreSQL: LISTEN/NOTIFY; SQLite: the reader's store notices the file changed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from stalwart import workflow
from stalwart.client import Client
from stalwart.contrib.workflow_streams import WorkflowStreamClient

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@workflow.defn(name="bench.StreamHost")
class StreamHost:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def publish(url: str, workflow_id: str, items: int, gap: float,
                  client: Client | None = None) -> list[float]:
    """Publish ``items`` items; how long each append (the commit) took, in ms."""
    own = client is None
    client = client if client is not None else await Client.connect(url)
    commits: list[float] = []
    try:
        stream = WorkflowStreamClient.create(client, workflow_id, batch_interval=60)
        for n in range(items):
            started = time.time()
            stream.publish("bench", {"n": n, "t": started})
            await stream.flush()
            commits.append((time.time() - started) * 1000)
            await asyncio.sleep(gap)
    finally:
        if own:
            await client.close()
    return commits


async def measure(url: str, placement: str, items: int, gap: float) -> dict[str, Any]:
    reader = await Client.connect(url)
    workflow_id = f"stream-bench-{uuid.uuid4().hex[:8]}"
    try:
        handle = await reader.start_workflow(StreamHost.run, id=workflow_id,
                                             task_queue="stream-bench")
        latencies: list[float] = []

        async def read() -> None:
            async for item in reader.workflow_stream(workflow_id).subscribe(["bench"]):
                latencies.append(time.time() - item.data["t"])
                if item.data["n"] == items - 1:
                    return

        reading = asyncio.ensure_future(read())
        await asyncio.sleep(0.2)  # the reader is waiting before the first item
        commits: list[float] = []
        if placement == "same_process":
            # One client, as an activity worker and a reader in one process share one.
            commits = await publish(url, workflow_id, items, gap, reader)
        else:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.stream_latency", "--publish", url, workflow_id,
                str(items), str(gap), cwd=Path(__file__).resolve().parents[1])
            if await proc.wait() != 0:
                raise RuntimeError("the publisher process failed")
        await asyncio.wait_for(reading, 120)
        await handle.terminate("benchmark done")
    finally:
        await reader.close()
    ms = sorted(x * 1000 for x in latencies)
    return {"placement": placement, "items": len(ms),
            "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
            "mean_ms": round(statistics.fmean(ms), 2), "max_ms": round(ms[-1], 2),
            "commit_p50_ms": round(statistics.median(commits), 2) if commits else None}


async def run(store: str, items: int, gap: float) -> list[dict[str, Any]]:
    results = []
    stores = ["sqlite", "postgres"] if store == "both" else [store]
    for name in stores:
        for placement in ("same_process", "other_process"):
            if name == "sqlite":
                with tempfile.TemporaryDirectory() as tmp:
                    url = f"sqlite:///{Path(tmp) / 'stalwart.db'}"
                    result = await measure(url, placement, items, gap)
            else:
                schema = f"bench_stream_{uuid.uuid4().hex[:8]}"
                url = f"{POSTGRES_URL}?schema={schema}"
                try:
                    result = await measure(url, placement, items, gap)
                finally:
                    import psycopg

                    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            results.append({"store": name, **result})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--gap", type=float, default=0.02)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--publish", nargs=4, metavar=("URL", "ID", "ITEMS", "GAP"),
                        help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.publish:
        url, workflow_id, items, gap = options.publish
        asyncio.run(publish(url, workflow_id, int(items), float(gap)))
        return
    results = asyncio.run(run(options.store, options.items, options.gap))
    if options.json:
        print(json.dumps(results, indent=1))
        return
    print(f"{'store':<9} {'placement':<14} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} "
          f"{'max ms':>8} {'commit p50':>10}")
    for r in results:
        print(f"{r['store']:<9} {r['placement']:<14} {r['p50_ms']:>8} {r['p99_ms']:>8} "
              f"{r['mean_ms']:>8} {r['max_ms']:>8} {r['commit_p50_ms'] or '':>10}")


if __name__ == "__main__":
    main()
