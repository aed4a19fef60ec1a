"""Worker liveness: a heartbeat thread per worker, and telling a dead worker from a busy one.

The heartbeat runs on its own thread and connection so that a worker whose event loop is busy
(a long workflow task, a user's blocking call) still counts as alive. A worker on the same host
is also checked by process id and process start time, so a SIGKILLed worker is known dead the
moment anyone looks, not only once its heartbeat lapses.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from .._store.base import WorkerRow

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECONDS = 0.5
DEFAULT_LIVENESS_LEASE_SECONDS = 2.0
LEASE_VARIABLE = "STALWART_LIVENESS_LEASE"
HOST_VARIABLE = "STALWART_HOST_ID"
# How many leases a worker whose process is seen running on this host may go without a
# heartbeat before it counts as dead.
ALIVE_PROCESS_FACTOR = 5


def _lease_from_environment() -> float:
    raw = os.environ.get(LEASE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_LIVENESS_LEASE_SECONDS
    try:
        lease = float(raw)
    except ValueError:
        lease = math.nan
    if not math.isfinite(lease) or lease < 2 * HEARTBEAT_INTERVAL_SECONDS:
        raise ValueError(
            f"{LEASE_VARIABLE}={raw!r}: the liveness lease must be a number of seconds of at "
            f"least {2 * HEARTBEAT_INTERVAL_SECONDS} (two heartbeats); unset it for the "
            f"default of {DEFAULT_LIVENESS_LEASE_SECONDS}")
    return lease


# A worker on another host is dead once its heartbeat is this old. Every process that shares
# a store should use the same lease: the one that looks decides.
LIVENESS_TIMEOUT_SECONDS = _lease_from_environment()

# Workers on the same host are checked by process id; the host identity says which workers
# those are. Containers that share a hostname but not a process namespace must set distinct
# identities.
HOST = os.environ.get(HOST_VARIABLE, "").strip() or socket.gethostname()


def _stat_fields(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def process_start_time(pid: int) -> str:
    """An opaque token that changes when ``pid`` is reused by another process."""
    fields = _stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


def is_dead(worker: WorkerRow, now: float) -> bool:
    if worker.host == HOST and worker.pid > 0:
        if worker.pid == os.getpid():
            return now - worker.heartbeat_at > LIVENESS_TIMEOUT_SECONDS * ALIVE_PROCESS_FACTOR
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        fields = _stat_fields(worker.pid)
        if fields and fields[0] in ("Z", "X"):
            return True  # killed, not yet reaped by its parent: it will never run again
        start = fields[19] if len(fields) > 19 else ""
        if worker.pid_start and start and start != worker.pid_start:
            return True
        if start and start == worker.pid_start:
            # The very process, still running: a heartbeat that lags is far more often a busy
            # store (the heartbeat's write waiting on SQLite's file lock under load) than a
            # worker gone wrong, and taking its attempts would run each of them twice. One
            # that truly stopped beating (a frozen process, an abandoned worker) is given a
            # longer lease.
            return now - worker.heartbeat_at > LIVENESS_TIMEOUT_SECONDS * ALIVE_PROCESS_FACTOR
    return now - worker.heartbeat_at > LIVENESS_TIMEOUT_SECONDS


class ProcessWatch:
    """Calls ``on_exit`` the moment a watched worker process on this host ends.

    Each watched process gets a pidfd (Linux 5.3+), which becomes readable when the process
    exits, SIGKILL included; the event loop watches the descriptors, so a dead neighbour is
    noticed within milliseconds rather than at the next sweep. Where pidfds are unavailable
    nothing is watched and the sweep's own checks remain.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, on_exit: Callable[[], None]) -> None:
        self._loop = loop
        self._on_exit = on_exit
        self._fds: dict[str, int] = {}

    def watch(self, workers: list[WorkerRow]) -> None:
        """Watch these workers' processes (those on this host), and stop watching the rest."""
        current = {worker.worker_id for worker in workers}
        for worker_id in list(self._fds):
            if worker_id not in current:
                self._forget(worker_id)
        for worker in workers:
            if (worker.worker_id in self._fds or worker.host != HOST or worker.pid <= 0
                    or worker.pid == os.getpid()):
                continue
            try:
                fd = os.pidfd_open(worker.pid)
            except (AttributeError, OSError):
                continue  # gone already (the sweep sees that), or no pidfd on this system
            if worker.pid_start and process_start_time(worker.pid) != worker.pid_start:
                os.close(fd)  # the pid was reused: the worker itself is gone
                continue
            self._fds[worker.worker_id] = fd
            self._loop.add_reader(fd, self._exited, worker.worker_id)

    def _exited(self, worker_id: str) -> None:
        self._forget(worker_id)
        self._on_exit()

    def _forget(self, worker_id: str) -> None:
        fd = self._fds.pop(worker_id, None)
        if fd is not None:
            self._loop.remove_reader(fd)
            os.close(fd)

    def close(self) -> None:
        for worker_id in list(self._fds):
            self._forget(worker_id)


class HeartbeatThread:
    def __init__(self, beat: Callable[[], None]) -> None:
        self._beat = beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stalwart-liveness", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_INTERVAL_SECONDS):
            try:
                self._beat()
            except Exception as error:  # the store may be briefly busy; try again next beat
                logger.warning("worker heartbeat failed: %s", error)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
