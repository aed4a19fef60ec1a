"""Group commit's shared step: both drivers' writer threads take one waiting write, then
whatever else is already queued, and commit them together."""

from __future__ import annotations

import asyncio
import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def take_batch(waiting: queue.SimpleQueue[T | None], first: T, limit: int
               ) -> tuple[list[T], bool]:
    """``first`` and the writes queued behind it, at most ``limit`` in all, without waiting.
    The second value says whether the stop mark (``None``) was met: the thread commits the
    batch and then ends."""
    batch = [first]
    while len(batch) < limit:
        try:
            item = waiting.get_nowait()
        except queue.Empty:
            return batch, False
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False


@dataclass
class QueuedWrite:
    """One caller's write, waiting for a writer thread: the operation, and where its outcome
    goes once the batch it joined has committed."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    result: Any = None
    error: BaseException | None = None


def resolve_all(batch: Sequence[QueuedWrite]) -> None:
    """Hand every write's outcome to its caller, one call into each caller's loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[QueuedWrite]] = {}
    for op in batch:
        by_loop.setdefault(op.loop, []).append(op)
    for loop, ops in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, ops)
        except RuntimeError:  # that loop is closed; nobody is waiting any more
            pass


def _resolve(ops: list[QueuedWrite]) -> None:
    for op in ops:
        if op.future.done():
            continue
        if op.error is not None:
            op.future.set_exception(op.error)
        else:
            op.future.set_result(op.result)
