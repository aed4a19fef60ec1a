"""Temporal's history length of runs, for every place that shows a count: the client's
``list_workflows()`` items, the CLI's lists, the server's pages, API answers and metrics.

The store counts its compact rows; Temporal counts its own events (workflow task triples,
``ActivityTaskStarted``, markers...), which is what ``fetch_history()`` shows and what users
compare with. Counting follows a run's stored rows without expanding them into Temporal's
events, and the count is kept per run so that only the rows added since the last look are
read: a closed run is read once (and then remembered as a number), a running one by its new
rows.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._model.temporal_history import TemporalLength
from ._store.base import ExecutionStatus


@dataclass
class _Seen:
    stored: int               # the stored rows followed so far
    counter: TemporalLength


class TemporalLengths:
    """Remembers how far runs' stored rows have been counted: the counters of up to
    ``max_runs`` runs (running ones go on growing) and the final counts of up to
    ``max_closed`` closed runs (a closed run's rows never change)."""

    def __init__(self, store: Any, max_runs: int = 4096, max_closed: int = 65_536,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock  # engine time: whether a delayed first task is due yet
        self._max_runs = max_runs
        self._max_closed = max_closed
        self._runs: OrderedDict[str, _Seen] = OrderedDict()
        self._closed: OrderedDict[str, tuple[int, int]] = OrderedDict()  # stored, count

    async def of(self, run_id: str, status: ExecutionStatus, stored_length: int) -> int:
        """The run's length in Temporal's events: its stored rows (``stored_length`` of them)
        and, while it runs, the inputs no workflow task has taken yet."""
        running = status == ExecutionStatus.RUNNING
        if not running:
            known = self._closed.get(run_id)
            if known is not None and known[0] == stored_length:
                self._closed.move_to_end(run_id)
                return known[1]
        seen = self._runs.pop(run_id, None)
        if seen is None or seen.stored > stored_length:
            seen = _Seen(0, TemporalLength())
        if seen.stored < stored_length:
            rows = await self._store.get_history(run_id, seen.stored)
            seen.counter.feed_stored(rows)
            seen.stored = rows[-1].event_id if rows else seen.stored
        if not running:
            count = seen.counter.shown(running=False)
            self._closed[run_id] = (seen.stored, count)
            while len(self._closed) > self._max_closed:
                self._closed.popitem(last=False)
            return count
        self._runs[run_id] = seen
        while len(self._runs) > self._max_runs:
            self._runs.popitem(last=False)
        counter = seen.counter
        inbox = await self._store.get_inbox(run_id)
        if inbox:
            # A copy: inputs are counted again next time, once a task has taken them.
            counter = copy.copy(counter)
            for event in inbox:
                counter.feed_input(event.as_history_event())
        return counter.shown(running=True, now=self._clock())
