"""Run Stalwart's benchmark workloads and print one JSON line per workload.

    python -m bench.run --workload all --store sqlite [--short] [--json] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import ModuleType
from typing import Any

import stalwart

from ._common import Config
from .workloads import (
    agent_load,
    agent_processes,
    b1_latency,
    b2_throughput,
    b3_fanout,
    b4_recovery,
    b5_parked,
    b6_long_history,
    conversation,
    floor,
    kill_handover,
    pg_step_cost,
    scale_out,
)

WORKLOADS: dict[str, ModuleType] = {m.NAME: m for m in (
    floor, b1_latency, b2_throughput, b3_fanout, b4_recovery, b5_parked, b6_long_history,
    scale_out, agent_load, agent_processes, kill_handover, pg_step_cost, conversation)}
STORES = ("sqlite", "postgres")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--workload", default="all", choices=[*WORKLOADS, "all"],
                        help="which workload to run (default: all)")
    parser.add_argument("--store", default="sqlite", choices=STORES)
    parser.add_argument("--short", action="store_true",
                        help="small sizes, for CI (the whole suite in well under 30 s)")
    parser.add_argument("--json", action="store_true",
                        help="print only the JSON lines (no progress on stderr)")
    parser.add_argument("--repeat", type=int, default=1, help="run each workload N times")
    parser.add_argument("--dir", type=Path, default=None,
                        help="directory for the SQLite files (default: a fresh temporary "
                             "directory; put it on the disk you want to measure)")
    return parser.parse_args(argv)


def _run_one(module: ModuleType, config: Config) -> dict[str, Any]:
    workload: Callable[[Config], Coroutine[Any, Any, dict[str, Any]]] = module.run
    started = time.perf_counter()
    metrics: dict[str, Any] = asyncio.run(workload(config))
    return {"workload": module.NAME, "store": config.store, **metrics,
            "short": config.short, "elapsed_s": round(time.perf_counter() - started, 3),
            "python": platform.python_version(), "stalwart": stalwart.__version__}


def main(argv: list[str] | None = None) -> int:
    options = _parse(argv)
    if options.repeat < 1:
        print("bench: --repeat must be at least 1", file=sys.stderr)
        return 2
    names = list(WORKLOADS) if options.workload == "all" else [options.workload]
    failed = False
    with tempfile.TemporaryDirectory(prefix="stalwart-bench-", dir=options.dir) as workdir:
        config = Config(short=options.short, workdir=Path(workdir), store=options.store,
                        postgres_url=os.environ.get("STALWART_BENCH_POSTGRES_URL",
                                                    Config.postgres_url))
        for repetition in range(options.repeat):
            for name in names:
                if options.store == "postgres" and name == "floor":
                    continue  # the fsync floor is a SQLite measurement
                if options.store == "sqlite" and name == "PG_step_cost":
                    continue  # it counts what the PostgreSQL driver sends
                if not options.json:
                    print(f"bench: running {name} ({'short' if options.short else 'full'}, "
                          f"run {repetition + 1}/{options.repeat})", file=sys.stderr)
                try:
                    line = _run_one(WORKLOADS[name], config)
                except Exception as error:
                    failed = True
                    traceback.print_exc(file=sys.stderr)
                    line = {"workload": name, "store": options.store,
                            "error": f"{type(error).__name__}: {error}"}
                print(json.dumps(line), flush=True)
                config.drop_schemas()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
