"""In-process wakeups: a commit names the kinds of work it made ready; waiters on them wake.

Keys are ``(kind, key)`` pairs such as ``("workflow_task", queue)`` or ``("closed", run_id)``.
A subscription to ``(kind, "*")`` matches every key of that kind. ``("external", "")`` means
another process committed something we cannot see the details of: it wakes everyone.

A poller subscribes with its room (how many tasks it would claim now): a driver that tells
other processes about new work asks :meth:`Notifier.room` first and announces only the tasks
this process has no room for.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Key = tuple[str, str]
EXTERNAL: Key = ("external", "")
# The kinds of key that name a task queue's ready work, claimed by pollers.
WORK_KINDS = frozenset({"workflow_task", "activity_task"})
# A workflow task offered to one worker first (keyed by the worker's id): only its poller
# wakes. Not a work kind: announced to every process, whose pollers but that one ignore it.
AFFINE_TASK = "affine_task"
# Kinds whose waiters look on their own often enough that an unknown commit elsewhere
# (``EXTERNAL``) need not wake them: a sweeper reads the next due time at least every 0.5 s,
# and the process that commits a due time wakes its own sweeper.
LOOK_ANYWAY_KINDS = frozenset({"deadline"})
# How often a waiter with no timeout looks again on its own where another process's wake-up
# can be lost (``Driver.loses_wakeups``: it crashed between its commit and telling the
# others); as often as the pollers' own fallback, ``IDLE_POLL_FALLBACK_SECONDS``.
LOOK_AGAIN_SECONDS = 5.0


class Subscription:
    def __init__(self, notifier: Notifier, keys: frozenset[Key],
                 loop: asyncio.AbstractEventLoop, room: Callable[[], int] | None) -> None:
        self.keys = keys
        self.loop = loop
        self.room = room
        self.event = asyncio.Event()
        # What commits of this process handed with their wake-ups (``Tx.hand``), by key.
        self.handed: dict[Key, Any] = {}
        self._notifier = notifier

    async def wait(self, timeout: float | None) -> bool:
        """Wait for a matching commit (or the timeout); True if woken by a commit."""
        if not self.event.is_set():
            try:
                await asyncio.wait_for(self.event.wait(), timeout)
            except TimeoutError:
                return False
        self.event.clear()
        return True

    def close(self) -> None:
        self._notifier._remove(self)


class Notifier:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[Key, set[Subscription]] = {}
        self._all: set[Subscription] = set()

    def subscribe(self, keys: Iterable[Key],
                  room: Callable[[], int] | None = None) -> Subscription:
        sub = Subscription(self, frozenset(keys), asyncio.get_running_loop(), room)
        with self._lock:
            self._all.add(sub)
            for key in sub.keys:
                self._by_key.setdefault(key, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        with self._lock:
            self._all.discard(sub)
            for key in sub.keys:
                subs = self._by_key.get(key)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_key[key]

    def listens(self, key: Key) -> bool:
        """Whether anyone here waits for exactly ``key`` (callable from any thread)."""
        with self._lock:
            return key in self._by_key

    def room(self, key: Key) -> int:
        """How many tasks of ``key`` this process's pollers would claim now (callable from any
        thread: a reading of counters the pollers' loop changes, so an estimate, which the
        pollers correct by handing on what they cannot take; see ``Store.hand_on``)."""
        with self._lock:
            subs = self._by_key.get(key, set()) | self._by_key.get((key[0], "*"), set())
        return sum(max(0, sub.room()) for sub in subs if sub.room is not None)

    def publish(self, keys: Iterable[Key], handed: Mapping[Key, Any] | None = None) -> None:
        """Wake matching subscribers, giving those of a key in ``handed`` its value first;
        callable from any thread."""
        targets: set[Subscription] = set()
        with self._lock:
            for key in keys:
                if key == EXTERNAL:
                    targets |= {sub for sub in self._all
                                if any(kind not in LOOK_ANYWAY_KINDS for kind, _ in sub.keys)}
                    break
                targets |= self._by_key.get(key, set())
                targets |= self._by_key.get((key[0], "*"), set())
            if handed:
                for key, value in handed.items():
                    # Set before the wake-up is scheduled: the waiter finds it once woken.
                    for sub in self._by_key.get(key, ()):
                        sub.handed[key] = value
        by_loop: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
        for sub in targets:
            by_loop.setdefault(sub.loop, []).append(sub)
        for loop, subs in by_loop.items():
            try:
                if _in_loop_thread(loop):
                    _set_all(subs)
                else:
                    loop.call_soon_threadsafe(_set_all, subs)
            except RuntimeError:
                pass


def _in_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _set_all(subs: list[Subscription]) -> None:
    for sub in subs:
        sub.event.set()
