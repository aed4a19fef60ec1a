"""Count Python function calls and CPU time per workflow (B1) or per activity (B6).

Wall-clock benchmarks are noisy on a loaded machine; these two measures are not (the call count
is deterministic up to thread scheduling, CPU time is not stretched by waiting for a core).

    python -m bench.profile_calls --workload B1 --mode calls      # cProfile over every thread
    python -m bench.profile_calls --workload B6 --mode cpu        # process CPU time, no profiler
    python -m bench.profile_calls --workload B1 --mode calls --top 40   # plus the top functions
    valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
        --callgrind-out-file=cg.out python -m bench.profile_calls --workload B1 --runs 300 \
        --mode instructions     # machine instructions per thread: grep '^totals' cg.out-*

``calls`` gives every thread a ``cProfile.Profile`` (the SQLite writer thread included, see
``_AllThreads``) and reports the total call count of the measured part only: for B1,
``--runs`` workflows after ``--warmup`` warm-up runs; for B6, the execution of
``--activities`` activities, or (``--phase``) the history fetch or the replay, one phase per
process. ``--dump FILE`` writes the count per function (and ``FILE.time.json`` the profiler's
own time per function) so that two checkouts can be compared function by function. ``cpu``
reports ``time.process_time()`` (all threads) over the same parts, without a profiler.
``instructions`` is for a run under callgrind started with instrumentation off: it switches
instrumentation on for the measured part only (``callgrind_control -i``), so the totals of the
per-thread output files are the instructions that part executed, which load on the machine
does not change.
The worker and client share the process, so both sides are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import Any

from stalwart.client import Client
from stalwart.worker import Replayer, Worker

from .workloads import b1_latency, b6_long_history


def _label(code: Any) -> str:
    if isinstance(code, str):
        return code
    # Relative to the package or the standard library, so two checkouts compare.
    filename = code.co_filename
    for marker in ("/src/stalwart/", "/lib/python3"):
        if marker in filename:
            filename = filename[filename.index(marker) + 1:]
            break
    return f"{filename}:{code.co_name}"


class _AllThreads:
    """Profiles every thread from ``start()`` on.

    ``threading.setprofile`` cannot reach threads that already run (the SQLite writer starts
    at connect), and a running ``cProfile.Profile`` can only be enabled and read reliably once
    (reading it ends the calls in progress). So every thread carries a small hook from
    ``install()`` on; after ``start()`` the hook's next event in each thread swaps itself for a
    profiler, and ``stop()`` reads all profilers once. One measure per process.
    """

    def __init__(self) -> None:
        self.profiles: list[cProfile.Profile] = []
        self.owners: list[threading.Thread] = []
        self.active = False
        self._lock = threading.Lock()

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.active:
            self._start_here()

    def _start_here(self) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.profiles.append(profile)
            self.owners.append(threading.current_thread())
        profile.enable()

    def install(self) -> None:
        threading.setprofile(self._hook)
        sys.setprofile(self._hook)

    def start(self) -> None:
        self.active = True
        self._start_here()

    def stop(self) -> dict[str, int]:
        self.active = False
        counts: dict[str, int] = {}
        self.own_time: dict[str, float] = {}
        with self._lock:
            profiles = list(self.profiles)
            owners = list(self.owners)
        for profile, owner in zip(profiles, owners, strict=True):
            # This thread's profiler is stopped before it is read (reading a running one in
            # the middle of a call stack miscounts); the other threads sit idle by now.
            if owner is threading.current_thread():
                profile.disable()
        for profile in profiles:
            for entry in profile.getstats():
                key = _label(entry.code)
                counts[key] = counts.get(key, 0) + entry.callcount
                self.own_time[key] = self.own_time.get(key, 0.0) + entry.inlinetime
        return counts


_DUMP: list[Path] = []


def _callgrind(state: str) -> None:
    subprocess.run(["callgrind_control", "--instr", state, str(os.getpid())], check=True,
                   capture_output=True)


async def _measure(mode: str, profiler: _AllThreads, top: int,
                   body: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    if mode == "instructions":
        _callgrind("on")
        await body()
        _callgrind("off")
        return {}
    if mode == "calls":
        profiler.start()
        await body()
        counts = profiler.stop()
        if _DUMP:
            _DUMP[0].write_text(json.dumps(counts, indent=0, sort_keys=True))
            # The profiler's own time per function too (inflated by the profiler, but where
            # the time goes relative to the rest).
            _DUMP[0].with_suffix(".time.json").write_text(
                json.dumps(profiler.own_time, indent=0, sort_keys=True))
        if top:
            for key, count in sorted(counts.items(), key=lambda item: -item[1])[:top]:
                print(f"{count:9d}  {key}", file=sys.stderr)
        return {"calls": sum(counts.values())}
    cpu = time.process_time()
    wall = time.perf_counter()
    threads = _thread_cpu()
    await body()
    out: dict[str, Any] = {"cpu_s": time.process_time() - cpu,
                           "wall_s": time.perf_counter() - wall}
    # Per thread (the SQLite writer runs the store's operations, the main thread the engine).
    for name, seconds in _thread_cpu().items():
        spent = seconds - threads.get(name, 0.0)
        if spent > 0:
            out[f"cpu_s_{name}"] = spent
    return out


def _thread_cpu() -> dict[str, float]:
    """CPU seconds (user + system) of each thread of this process, by thread name (Linux)."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), "other")
        name = "main" if name == "MainThread" else name.removeprefix("stalwart-")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


async def _skip(mode: str, profiler: _AllThreads, top: int,
                body: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    await body()
    return {}


def _store_url(args: argparse.Namespace, workdir: Path, name: str) -> str:
    """A fresh store: a SQLite file in ``workdir``, or a new schema of ``--postgres``."""
    if args.store == "sqlite":
        return f"sqlite:///{workdir / f'{name}.db'}"
    schema = f"profile_{name}_{uuid.uuid4().hex[:8]}"
    _SCHEMAS.append((args.postgres, schema))
    separator = "&" if "?" in args.postgres else "?"
    return f"{args.postgres}{separator}schema={schema}"


_SCHEMAS: list[tuple[str, str]] = []


def _drop_schemas() -> None:
    if not _SCHEMAS:
        return
    import psycopg

    for url, schema in _SCHEMAS:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


async def _b1(args: argparse.Namespace, profiler: _AllThreads, workdir: Path) -> dict[str, Any]:
    client = await Client.connect(_store_url(args, workdir, "b1"))
    queue = f"q-{uuid.uuid4().hex[:8]}"

    async def one() -> None:
        result = await client.execute_workflow(b1_latency.OneActivity.run, "x",
                                               id=f"b1-{uuid.uuid4().hex[:12]}",
                                               task_queue=queue)
        assert result == "x"

    async def measured() -> None:
        for _ in range(args.runs):
            await one()

    try:
        async with Worker(client, task_queue=queue, workflows=[b1_latency.OneActivity],
                          activities=[b1_latency.echo]):
            for _ in range(args.warmup):
                await one()
            result = await _measure(args.mode, profiler, args.top, measured)
    finally:
        await client.close()
    return {"workload": "B1", "runs": args.runs, **result,
            **{f"{key}_per_workflow": value / args.runs for key, value in result.items()}}


async def _b6(args: argparse.Namespace, profiler: _AllThreads, workdir: Path) -> dict[str, Any]:
    client = await Client.connect(_store_url(args, workdir, "b6"))
    queue = f"q-{uuid.uuid4().hex[:8]}"
    workflow_id = f"b6-{uuid.uuid4().hex[:12]}"
    out: dict[str, Any] = {"workload": "B6", "activities": args.activities}

    def measure(phase: str) -> Callable[..., Awaitable[dict[str, Any]]]:
        # Call counts: one phase per process (see _AllThreads).
        return _measure if args.mode == "cpu" or args.phase == phase else _skip
    try:
        async with Worker(client, task_queue=queue, workflows=[b6_long_history.LongChain],
                          activities=[b6_long_history.echo]):
            # One short workflow first so that imports and caches are warm.
            await client.execute_workflow(b6_long_history.LongChain.run, 3,
                                          id=f"warm-{workflow_id}", task_queue=queue)

            async def execute() -> None:
                await client.execute_workflow(b6_long_history.LongChain.run, args.activities,
                                              id=workflow_id, task_queue=queue)

            run = await measure("run")(args.mode, profiler, args.top, execute)
            out.update({f"run_{key}": value for key, value in run.items()})
            out.update({f"run_{key}_per_activity": value / args.activities
                        for key, value in run.items()})
            if args.mode != "cpu" and args.phase == "run":
                return out
        handle = client.get_workflow_handle(workflow_id)
        await handle.fetch_history()  # warm
        holder: dict[str, Any] = {}

        async def fetch() -> None:
            holder["history"] = await handle.fetch_history()

        out.update({f"fetch_{key}": value for key, value in
                    (await measure("fetch")(args.mode, profiler, args.top, fetch)).items()})
        replayer = Replayer(workflows=[b6_long_history.LongChain])

        async def replay() -> None:
            await replayer.replay_workflow(holder["history"])

        out.update({f"replay_{key}": value for key, value in
                    (await measure("replay")(args.mode, profiler, args.top, replay)).items()})
        out["history_events"] = len(holder["history"].events)
    finally:
        await client.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workload", choices=["B1", "B6"], required=True)
    parser.add_argument("--mode", choices=["calls", "cpu", "instructions"], default="calls")
    parser.add_argument("--runs", type=int, default=100, help="B1: measured workflows")
    parser.add_argument("--warmup", type=int, default=20, help="B1: warm-up workflows")
    parser.add_argument("--activities", type=int, default=300, help="B6: activities")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="the server for --store postgres (a schema per run, dropped after)")
    parser.add_argument("--phase", choices=["run", "fetch", "replay"], default="run",
                        help="B6 with --mode calls: the phase to count")
    parser.add_argument("--top", type=int, default=0, help="print the N most-called functions")
    parser.add_argument("--dump", type=Path, help="write the call count of every function "
                        "(JSON) to this file, to compare two checkouts")
    args = parser.parse_args(argv)
    if args.dump:
        _DUMP.append(args.dump)
    profiler = _AllThreads()
    if args.mode == "calls":
        profiler.install()
    with tempfile.TemporaryDirectory(prefix="stalwart-profile-") as tmp:
        runner = _b1 if args.workload == "B1" else _b6
        try:
            result = asyncio.run(runner(args, profiler, Path(tmp)))
        finally:
            _drop_schemas()
    print(json.dumps({key: round(value, 7) if isinstance(value, float) else value
                      for key, value in result.items()}), flush=True)
    sys.stderr.flush()
    # Leave without the interpreter's teardown: the profilers still run in other threads.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
