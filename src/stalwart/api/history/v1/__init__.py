"""``temporalio.api.history.v1``'s ``HistoryEvent`` and ``History`` as code reading a
history uses them. ``WorkflowHandle.fetch_history()`` and ``fetch_history_events()`` hand out
these events: ``event.event_type`` equals ``EventType.EVENT_TYPE_...``, ``event.event_time``
is a ``Timestamp`` and ``event.<type>_event_attributes`` reads the attributes as Temporal's
message. They are read-only views; Stalwart has no gRPC API to send them to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...._history_events import Duration, HistoryEvent, ProtoMessage, Timestamp, public_events

__all__ = ["Duration", "History", "HistoryEvent", "ProtoMessage", "Timestamp"]


class History:
    """A list of events, as Temporal's ``History`` message holds them."""

    def __init__(self, events: Iterable[Any] = ()) -> None:
        self.events = public_events(events)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.events == other.events

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({len(self.events)} events)"
