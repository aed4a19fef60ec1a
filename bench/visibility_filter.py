"""Visibility filter benchmark: list queries over N closed workflows (default 1,000,000).

    python -m bench.visibility_filter [--rows 1000000] [--json]

Builds a fresh SQLite store with N closed runs (5 workflow types, 10,000 customers as a
Keyword search attribute, an Int attribute), then times each query through the public
``client.list_workflows`` / ``count_workflows`` API: median of 7 runs after one warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from stalwart.client import Client

QUERIES = [
    "CustomerId = 'customer-4242'",
    "CustomerId = 'customer-4242' AND ExecutionStatus = 'Completed'",
    "WorkflowType = 'Research' AND ExecutionStatus = 'Failed' ORDER BY StartTime DESC",
    "WorkflowId = 'wf-500000'",
    "WorkflowId STARTS_WITH 'wf-99999'",
    "TokensUsed > 99990",
    "CustomerId IN ('customer-1', 'customer-2', 'customer-3')",
]


def build(path: Path, rows: int) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    rng = random.Random(7)
    types = ["Research", "Support", "Planner", "Executor", "Validator"]
    now = time.time()
    conn.execute("BEGIN")
    batch_e, batch_v = [], []
    for i in range(rows):
        run_id = str(uuid.UUID(int=rng.getrandbits(128)))
        customer = f"customer-{rng.randrange(10_000)}"
        tokens = rng.randrange(100_000)
        start = now - rows + i
        status = 2 if rng.random() < 0.9 else 3
        attrs = json.dumps({"CustomerId": {"type": "Keyword", "value": customer},
                            "TokensUsed": {"type": "Int", "value": tokens}})
        batch_e.append((run_id, f"wf-{i}", types[i % 5], "agents", status, start, start + 5,
                        run_id, 12, attrs))
        batch_v.append((run_id, "CustomerId", customer, None))
        batch_v.append((run_id, "TokensUsed", None, float(tokens)))
        if len(batch_e) >= 50_000:
            _flush(conn, batch_e, batch_v)
    _flush(conn, batch_e, batch_v)
    conn.execute("INSERT OR IGNORE INTO search_attribute_types VALUES ('CustomerId', 'Keyword')")
    conn.execute("INSERT OR IGNORE INTO search_attribute_types VALUES ('TokensUsed', 'Int')")
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.close()


def _flush(conn: sqlite3.Connection, executions: list[tuple[object, ...]],
           values: list[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO executions (run_id, workflow_id, workflow_type, task_queue, status, "
        "start_time, close_time, first_run_id, next_event_id, search_attributes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", executions)
    conn.executemany("INSERT INTO search_attribute_values (run_id, name, value_text, "
                     "value_num) VALUES (?, ?, ?, ?)", values)
    executions.clear()
    values.clear()


async def run(rows: int) -> list[dict[str, object]]:
    directory = Path(tempfile.mkdtemp(prefix="stalwart-vis-"))
    url = f"sqlite:///{directory / 'stalwart.db'}"
    await (await Client.connect(url)).close()  # creates the schema
    started = time.perf_counter()
    build(directory / "stalwart.db", rows)
    build_seconds = time.perf_counter() - started
    client = await Client.connect(url)
    results: list[dict[str, object]] = []
    try:
        for query in QUERIES:
            timings = []
            for attempt in range(8):
                begin = time.perf_counter()
                found = [e async for e in client.list_workflows(query, limit=100)]
                elapsed = time.perf_counter() - begin
                if attempt:
                    timings.append(elapsed * 1000)
            begin = time.perf_counter()
            count = (await client.count_workflows(query)).count
            count_ms = (time.perf_counter() - begin) * 1000
            results.append({"workload": "visibility_filter", "rows": rows, "query": query,
                            "first_page": len(found), "list_ms_median": round(
                                statistics.median(timings), 2),
                            "count": count, "count_ms": round(count_ms, 2),
                            "build_seconds": round(build_seconds, 1)})
    finally:
        await client.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for result in asyncio.run(run(args.rows)):
        if args.json:
            print(json.dumps(result))
        else:
            print(f"{result['list_ms_median']:>8} ms list (first 100) {result['count_ms']:>8} "
                  f"ms count={result['count']:<8} {result['query']}")


if __name__ == "__main__":
    main()
