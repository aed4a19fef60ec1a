"""The demo's record of what the activities really did, kept outside the store.

Each activity appends a line when it starts and when its call has completed, fsync'd, so the
demo can count real side effects even in a worker that was SIGKILLed a moment later.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

_path: Path | None = None


@dataclass(frozen=True)
class Entry:
    event: str  # "begin" or "done"
    step: int
    attempt: int
    pid: int
    activity: str
    detail: str


def configure(path: str | Path) -> None:
    global _path
    _path = Path(path)


def record(event: str, step: int, attempt: int, activity: str, detail: str) -> None:
    if _path is None:
        return
    line = json.dumps({"event": event, "step": step, "attempt": attempt, "pid": os.getpid(),
                       "activity": activity, "detail": detail})
    fd = os.open(_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: Path) -> list[Entry]:
    """Every complete line written so far."""
    if not path.exists():
        return []
    text = path.read_text()
    return [Entry(**json.loads(line)) for line in text.splitlines(keepends=True)
            if line.endswith("\n")]
