"""Worker liveness: the lease from the environment, and noticing a neighbour's exit at once."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from stalwart._engine import liveness
from stalwart._store.base import WorkerRow


def _row(pid: int, host: str = liveness.HOST, pid_start: str = "") -> WorkerRow:
    return WorkerRow(worker_id=f"w{pid}", identity=f"{pid}@{host}", task_queue="q", host=host,
                     pid=pid, pid_start=pid_start or liveness.process_start_time(pid),
                     heartbeat_at=0.0)


def test_lease_defaults_and_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(liveness.LEASE_VARIABLE, raising=False)
    assert liveness._lease_from_environment() == liveness.DEFAULT_LIVENESS_LEASE_SECONDS
    monkeypatch.setenv(liveness.LEASE_VARIABLE, "3.5")
    assert liveness._lease_from_environment() == 3.5


@pytest.mark.parametrize("raw", ["soon", "0.2", "-1", "nan", "inf"])
def test_a_bad_lease_is_refused_with_the_variable_and_the_fix(
        monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(liveness.LEASE_VARIABLE, raw)
    with pytest.raises(ValueError, match=rf"STALWART_LIVENESS_LEASE='{raw}'.*at least 1.0"):
        liveness._lease_from_environment()


async def test_process_watch_calls_back_when_a_neighbour_is_killed() -> None:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c",
                                                 "import time; time.sleep(600)")
    exited = asyncio.Event()
    watch = liveness.ProcessWatch(asyncio.get_running_loop(), exited.set)
    try:
        # Another host's worker with the same pid, and this process itself, are not watched.
        watch.watch([_row(child.pid), _row(os.getpid()),
                     _row(child.pid + 10**6, host="elsewhere", pid_start="x")])
        assert list(watch._fds) == [f"w{child.pid}"]
        assert not exited.is_set()
        child.kill()
        await asyncio.wait_for(exited.wait(), 30)
        assert watch._fds == {}
        assert liveness.is_dead(_row(child.pid, pid_start="gone"), now=0.0)
    finally:
        watch.close()
        if child.returncode is None:
            child.kill()
        await child.wait()


async def test_process_watch_drops_workers_that_left_the_list() -> None:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c",
                                                 "import time; time.sleep(600)")
    called = asyncio.Event()
    watch = liveness.ProcessWatch(asyncio.get_running_loop(), called.set)
    try:
        watch.watch([_row(child.pid)])
        watch.watch([])
        assert watch._fds == {}
    finally:
        watch.close()
        if child.returncode is None:
            child.kill()
        await child.wait()


async def test_a_running_neighbour_with_a_lagging_heartbeat_keeps_its_work_longer() -> None:
    child = await asyncio.create_subprocess_exec(sys.executable, "-c",
                                                 "import time; time.sleep(600)")
    try:
        lease = liveness.LIVENESS_TIMEOUT_SECONDS
        row = _row(child.pid)  # heartbeat at 0.0
        # Past the lease but running: a busy store, not a dead worker.
        assert not liveness.is_dead(row, now=lease * 2)
        # Not beating for many leases while running: given up on.
        assert liveness.is_dead(row, now=lease * (liveness.ALIVE_PROCESS_FACTOR + 1))
        # The same pid on another host, or a reused pid, goes by the plain lease.
        assert liveness.is_dead(_row(child.pid, host="elsewhere", pid_start="x"), now=lease * 2)
        assert liveness.is_dead(_row(child.pid, pid_start="reused"), now=0.0)
    finally:
        child.kill()
        await child.wait()
