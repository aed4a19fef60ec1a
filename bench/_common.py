"""Helpers shared by the workloads: configuration, percentiles, worker subprocesses, RSS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

# The repository root, so that worker subprocesses can import ``bench`` whatever the cwd.
REPO_ROOT = Path(__file__).resolve().parent.parent

ACTIVITY_TIMEOUT = timedelta(seconds=10)


@dataclass
class Config:
    """What every workload receives from the runner."""

    short: bool
    workdir: Path
    store: str = "sqlite"
    postgres_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    schemas: list[str] = field(default_factory=list)

    def db_path(self, name: str) -> Path:
        """A fresh SQLite file path for one workload run."""
        return self.workdir / f"{name}-{uuid.uuid4().hex[:8]}.db"

    def db_url(self, name: str) -> str:
        """A fresh store for one workload run: a SQLite file, or a PostgreSQL schema."""
        if self.store == "postgres":
            schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
            self.schemas.append(schema)
            separator = "&" if "?" in self.postgres_url else "?"
            return f"{self.postgres_url}{separator}schema={schema}"
        return f"sqlite:///{self.db_path(name)}"

    def drop_schemas(self) -> None:
        """Remove the PostgreSQL schemas the runs created."""
        if not self.schemas:
            return
        import psycopg

        with psycopg.connect(self.postgres_url, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        self.schemas.clear()


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def rss_mib(pid: int) -> float:
    """Resident set size of a process, in MiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def sample_peak(peak: list[float], measure: Callable[[], list[float]],
                      every: float = 0.5) -> None:
    """Keep ``peak[0]`` at the largest of ``measure()`` seen, looking every ``every`` seconds
    until cancelled (a task of its own: the workload awaits its results with one gather, as
    the DBOS harness does, rather than waking on every result to measure)."""
    while True:
        peak[0] = max([peak[0], *measure()])
        await asyncio.sleep(every)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


def rounded(seconds: float) -> float:
    return round(seconds, 4)


class WorkerProcess:
    """A worker running ``python -m <module> --worker ...`` in a subprocess.

    The child prints ``ready <unix time>`` on stdout once its worker polls; its stderr goes to
    a log file so that failures can be shown.
    """

    def __init__(self, module: str, args: Sequence[str], log_path: Path,
                 env: dict[str, str] | None = None) -> None:
        self.module = module
        self.args = list(args)
        self.env = dict(env or {})
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0
        self.ready_at = 0.0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self, ready_timeout: float = 60.0) -> None:
        env = {**os.environ, **self.env}
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        with self.log_path.open("ab") as log:
            self.spawned_at = time.time()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", self.module, "--worker", *self.args,
                stdout=asyncio.subprocess.PIPE, stderr=log, stdin=asyncio.subprocess.DEVNULL,
                cwd=str(REPO_ROOT), env=env)
        assert self.process.stdout is not None
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), ready_timeout)
        except TimeoutError:
            await self.kill()
            raise RuntimeError(f"worker {self.module} not ready after {ready_timeout}s; "
                               f"log:\n{self.log_tail()}") from None
        if not line.startswith(b"ready "):
            await self.kill()
            raise RuntimeError(f"worker {self.module} failed to start; log:\n{self.log_tail()}")
        self.ready_at = float(line.split()[1])

    async def stats(self) -> dict[str, Any]:
        """The counters of a worker that serves them (``bench.process_stats.serve``)."""
        assert self.process is not None and self.process.stdout is not None
        self.process.send_signal(signal.SIGUSR1)
        line = await asyncio.wait_for(self.process.stdout.readline(), 30.0)
        if not line.startswith(b"stats "):
            raise RuntimeError(f"worker {self.module} sent no stats; log:\n{self.log_tail()}")
        stats: dict[str, Any] = json.loads(line[len(b"stats "):])
        return stats

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.asynccontextmanager
async def worker_process(module: str, args: Sequence[str],
                         log_path: Path) -> AsyncIterator[WorkerProcess]:
    worker = WorkerProcess(module, args, log_path)
    await worker.start()
    try:
        yield worker
    finally:
        await worker.kill()


def announce_ready() -> None:
    """Called by a worker subprocess once it is polling."""
    sys.stdout.write(f"ready {time.time()}\n")
    sys.stdout.flush()
