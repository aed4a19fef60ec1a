"""floor: the cost of one durable SQLite commit (WAL, synchronous=FULL) on this disk.

No engine can record a step durably faster than one fsync'd commit, so every workload is read
against this number.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from .._common import Config, median, ms

NAME = "floor"


def _measure(path: str, commits: int) -> list[float]:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
        samples = []
        for i in range(commits):
            started = time.perf_counter()
            # Autocommit: each INSERT is its own transaction, hence one WAL fsync.
            conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
            samples.append(time.perf_counter() - started)
        return samples
    finally:
        conn.close()


async def run(config: Config) -> dict[str, Any]:
    commits = 200 if config.short else 2000
    path = str(config.db_path("floor"))
    samples = _measure(path, commits)
    return {"commits": commits, "ms_per_commit": ms(sum(samples) / commits),
            "median_ms": ms(median(samples)), "commits_per_s": round(commits / sum(samples), 1)}
