"""Temporal's history length of runs, for the pages and API answers that show a count.

The store counts its compact rows; Temporal counts its own events (workflow task triples,
``ActivityTaskStarted``, markers...), which is what ``fetch_history()`` shows and what users
compare with. Counting means following a run's stored rows, so the count is kept per run and
only the rows added since the last look are read: a closed run is read once, a running one by
its new rows.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from .._model.temporal_history import TemporalLength
from .._store.base import ExecutionStatus


@dataclass
class _Seen:
    stored: int               # the stored rows followed so far
    counter: TemporalLength


class TemporalLengths:
    """Remembers, for up to ``max_runs`` runs, how far their stored rows have been counted."""

    def __init__(self, store: Any, max_runs: int = 4096) -> None:
        self._store = store
        self._max_runs = max_runs
        self._runs: OrderedDict[str, _Seen] = OrderedDict()

    async def of(self, run_id: str, status: ExecutionStatus, stored_length: int) -> int:
        """The run's length in Temporal's events: its stored rows (``stored_length`` of them)
        and, while it runs, the inputs no workflow task has taken yet."""
        seen = self._runs.pop(run_id, None)
        if seen is None or seen.stored > stored_length:
            seen = _Seen(0, TemporalLength())
        if seen.stored < stored_length:
            rows = await self._store.get_history(run_id, seen.stored)
            seen.counter.feed_stored(rows)
            seen.stored = rows[-1].event_id if rows else seen.stored
        self._runs[run_id] = seen
        while len(self._runs) > self._max_runs:
            self._runs.popitem(last=False)
        counter = seen.counter
        running = status == ExecutionStatus.RUNNING
        if running:
            inbox = await self._store.get_inbox(run_id)
            if inbox:
                # A copy: inputs are counted again next time, once a task has taken them.
                counter = copy.copy(counter)
                for event in inbox:
                    counter.feed_input(event.as_history_event())
        return counter.shown(running=running)

