"""What a worker process spends on coordinating with the others: counted, not timed.

A worker subprocess of the scale-out workloads calls :func:`serve` once it is polling. From
then on it counts its polls (and those that found nothing), the claim transactions that reached
the database (and those that found nothing), its pollers' and sweeper's wake-ups, the
activities it started, the sweeps it ran and the runs it rebuilt by replaying their history
(not in its cache); on SIGUSR1 it writes them, with its CPU time (all
threads, and per thread name), as one ``stats {json}`` line on stdout. The parent asks with
:meth:`bench._common.WorkerProcess.stats` before and after the measured run and keeps the
difference, so start-up costs are left out.

The counters wrap the store's and the engine's methods by name; a counter whose method is
missing stays at zero.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import signal
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

COUNTS: Counter[str] = Counter()
_TICKS = os.sysconf("SC_CLK_TCK")


def _wrap_async(owner: Any, name: str, count: Callable[[Any, tuple[Any, ...]], None]) -> None:
    original = getattr(owner, name, None)
    if original is None:
        return

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        count(result, args)
        return result

    setattr(owner, name, wrapper)


def _wrap_sync(owner: Any, name: str, count: Callable[[Any, tuple[Any, ...]], None]) -> None:
    original = getattr(owner, name, None)
    if original is None:
        return

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        count(result, args)
        return result

    setattr(owner, name, wrapper)


def _counter(prefix: str) -> Callable[[Any, tuple[Any, ...]], None]:
    def count(result: Any, args: tuple[Any, ...]) -> None:
        COUNTS[prefix] += 1
        if not result:
            COUNTS[prefix + "_empty"] += 1
    return count


def install() -> None:
    """Wrap the methods counted; call before the worker starts."""
    from stalwart._engine import activity_worker, sweeper, workflow_worker
    from stalwart._store import database, wakeup
    from stalwart._store.ops import tasks
    from stalwart._store.sqlite import connection as sqlite_connection

    # Polls as the engine makes them (a SQLite poll may stop at its point-read precheck) ...
    _wrap_async(database.DatabaseStore, "claim_workflow_tasks", _counter("poll_workflow"))
    _wrap_async(database.DatabaseStore, "claim_activity_tasks", _counter("poll_activity"))
    # ... and the claim transactions that reached the database.
    _wrap_sync(tasks, "claim_workflow_tasks", _counter("claim_tx_workflow"))
    _wrap_sync(tasks, "claim_activity_tasks", _counter("claim_tx_activity"))

    def woken(result: Any, args: tuple[Any, ...]) -> None:
        kinds = sorted({kind for kind, _ in args[0].keys})
        COUNTS[f"wake_{'+'.join(kinds)}" if result else f"timeout_{'+'.join(kinds)}"] += 1
    _wrap_async(wakeup.Subscription, "wait", woken)

    def started(result: Any, args: tuple[Any, ...]) -> None:
        COUNTS["activities"] += len(args[1])
        COUNTS["activity_retries"] += sum(1 for claim in args[1] if claim.attempt > 1)
    _wrap_sync(activity_worker.ActivityWorker, "start", started)
    _wrap_async(sweeper.Sweeper, "sweep_once", lambda result, args: COUNTS.update(["sweeps"]))

    def rebuilt(result: Any, args: tuple[Any, ...]) -> None:
        # A run that had only its start event is new here, not replayed.
        if args[1].history_length > 1:
            COUNTS["replays"] += 1
    _wrap_async(workflow_worker.WorkflowWorker, "_rebuild", rebuilt)

    def published(result: Any, args: tuple[Any, ...]) -> None:
        COUNTS["publish"] += 1
        if wakeup.EXTERNAL in set(args[1]):
            COUNTS["publish_external"] += 1
    _wrap_sync(wakeup.Notifier, "publish", published)

    def commit(result: Any, args: tuple[Any, ...]) -> None:
        COUNTS["batches"] += 1
        COUNTS["batched_ops"] += len(args[1])
    _wrap_sync(sqlite_connection.Writer, "_commit", commit)
    try:
        from stalwart._store.postgres import connection
    except ImportError:
        return
    _wrap_sync(connection.Database, "_on_notify",
               lambda result, args: COUNTS.update(["notify_in"]))
    _wrap_sync(connection.Announcer, "payloads",
               lambda result, args: COUNTS.update({"notify_out": len(result)}))

    def batch(result: Any, args: tuple[Any, ...]) -> None:
        COUNTS["batches"] += 1
        COUNTS["batched_ops"] += len(args[1])
    _wrap_sync(connection.GroupWriter, "_commit", batch)


def _cpu_by_thread() -> dict[str, float]:
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    threads: Counter[str] = Counter()
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # Thread names end in a number per pool member: add them up per pool.
        name = names.get(int(task.name), "other").rstrip("0123456789_-")
        threads[name] += (int(fields[11]) + int(fields[12])) / _TICKS
    return dict(threads)


def snapshot() -> dict[str, Any]:
    times = os.times()
    return {"cpu_s": times.user + times.system, "threads": _cpu_by_thread(),
            "counts": dict(COUNTS)}


def serve() -> None:
    """Answer SIGUSR1 with a ``stats`` line; call on the running loop, once ready."""
    def answer() -> None:
        sys.stdout.write(f"stats {json.dumps(snapshot())}\n")
        sys.stdout.flush()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, answer)


def difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    counts = Counter(after["counts"])
    counts.subtract(before["counts"])
    threads = {name: round(seconds - before["threads"].get(name, 0.0), 3)
               for name, seconds in after["threads"].items()}
    return {"cpu_s": round(after["cpu_s"] - before["cpu_s"], 3),
            "threads": {name: s for name, s in threads.items() if s > 0},
            "counts": {name: n for name, n in counts.items() if n}}


def summary(prefix: str, stats: list[dict[str, Any]], activities: int) -> dict[str, Any]:
    """Per-activity figures over all worker processes of one run, and each process's CPU."""
    total: Counter[str] = Counter()
    for one in stats:
        total.update(one["counts"])
    per = {f"{prefix}_{name}_per_activity": round(total[name] / activities, 3)
           for name in ("poll_workflow", "poll_workflow_empty", "poll_activity",
                        "poll_activity_empty", "claim_tx_workflow", "claim_tx_workflow_empty",
                        "claim_tx_activity", "claim_tx_activity_empty", "sweeps",
                        "notify_in", "publish_external", "replays")}
    wakes = sum(n for name, n in total.items() if name.startswith("wake_"))
    per[f"{prefix}_wakeups_per_activity"] = round(wakes / activities, 3)
    per[f"{prefix}_worker_cpu_ms_per_activity"] = round(
        1000 * sum(one["cpu_s"] for one in stats) / activities, 3)
    per[f"{prefix}_worker_cpu_s"] = [one["cpu_s"] for one in stats]
    per[f"{prefix}_worker_activities"] = [one["counts"].get("activities", 0) for one in stats]
    threads: Counter[str] = Counter()
    for one in stats:
        threads.update(one["threads"])
    per[f"{prefix}_counts"] = dict(total.most_common())
    per[f"{prefix}_worker_thread_cpu_s"] = {name: round(seconds, 2)
                                           for name, seconds in threads.most_common()}
    return per
