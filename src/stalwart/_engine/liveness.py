"""Worker liveness: a heartbeat thread per worker, and telling a dead worker from a busy one.

The heartbeat runs on its own thread and connection so that a worker whose event loop is busy
(a long workflow task, a user's blocking call) still counts as alive. A worker on the same host
is also checked by process id and process start time, so a SIGKILLed worker is known dead the
moment anyone looks, not only once its heartbeat lapses.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from .._store.base import WorkerRow

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_SECONDS = 0.5
# A worker on another host is dead once its heartbeat is this old.
LIVENESS_TIMEOUT_SECONDS = 2.0

HOST = socket.gethostname()


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
            return now - worker.heartbeat_at > LIVENESS_TIMEOUT_SECONDS * 5
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
    return now - worker.heartbeat_at > LIVENESS_TIMEOUT_SECONDS


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
