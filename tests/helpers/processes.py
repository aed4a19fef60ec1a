"""Worker subprocesses by slot, for tests that kill and restart them.

Each runs ``main(url, task_queue, identity, *args)`` of a test module (its ``args`` as given,
integers passed as integers) with this checkout's ``src`` first on ``PYTHONPATH``, and with the
identity ``slot<N>-<pid>``: histories name the slot, and the pid keeps restarts of a slot apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.helpers.waiting import eventually

REPO_ROOT = Path(__file__).resolve().parents[2]

_RUN = ("import os, sys, asyncio, logging; logging.basicConfig(level=logging.WARNING); "
        "import importlib; m = importlib.import_module(sys.argv[1]); "
        "args = [int(a) if a.lstrip('-').isdigit() else a for a in sys.argv[5:]]; "
        "asyncio.run(m.main(sys.argv[2], sys.argv[3], f'slot{sys.argv[4]}-{os.getpid()}', "
        "*args))")


class WorkerSlots:
    def __init__(self, module: str, url: str, task_queue: str, logs: Path,
                 args: Sequence[object] = (), env: dict[str, str] | None = None) -> None:
        self.module, self.url, self.task_queue, self.logs = module, url, task_queue, logs
        self.args = [str(arg) for arg in args]
        self.env = env or {}
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.started = 0

    def start(self, slot: int, env: dict[str, str] | None = None) -> None:
        self.started += 1
        log = (self.logs / f"worker-{slot}-{self.started}.log").open("wb")
        env = {**os.environ, **self.env, **(env or {}), "PYTHONPATH": str(REPO_ROOT / "src")}
        self.procs[slot] = subprocess.Popen(
            [sys.executable, "-c", _RUN, self.module, self.url, self.task_queue, str(slot),
             *self.args], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def kill(self, slot: int) -> None:
        proc = self.procs[slot]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def alive(self) -> list[int]:
        return [slot for slot, proc in self.procs.items() if proc.poll() is None]


async def workers_registered(client: Any, count: int) -> None:
    """Wait until ``count`` workers have registered with the client's store."""
    async def registered() -> bool:
        return len(await client.store.list_workers()) >= count

    await eventually(registered, timeout=30, what=f"{count} worker processes to register")
