"""The run's activities, timers and children on a time axis (an inline SVG, no JavaScript).

Each bar runs from when the step was scheduled (or the timer started, or the child was
initiated) to when it closed, or to now while it is open; an activity's bar is darker from its
last attempt's start, so waiting and running read apart. Bars that overlap in time are steps
that ran concurrently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._model.events import HistoryEvent

MAX_BARS = 300
WIDTH = 1000.0
LABEL_WIDTH = 220.0
ROW = 20.0
AXIS = 24.0

_ACTIVITY_CLOSE = {"ActivityTaskCompleted": "completed", "ActivityTaskFailed": "failed",
                   "ActivityTaskTimedOut": "timed_out", "ActivityTaskCanceled": "canceled"}
_TIMER_CLOSE = {"TimerFired": "fired", "TimerCanceled": "canceled"}
_CHILD_CLOSE = {"ChildWorkflowExecutionCompleted": "completed",
                "ChildWorkflowExecutionFailed": "failed",
                "ChildWorkflowExecutionCanceled": "canceled",
                "ChildWorkflowExecutionTimedOut": "timed_out",
                "ChildWorkflowExecutionTerminated": "terminated",
                "StartChildWorkflowExecutionFailed": "failed"}


@dataclass
class Bar:
    kind: str          # activity, timer, child
    label: str
    event_id: int
    start: float
    end: float | None  # None: still open
    state: str
    running_from: float | None = None
    # Layout, filled by ``layout``.
    x: float = 0.0
    width: float = 0.0
    run_x: float = 0.0
    y: float = 0.0


@dataclass
class Chart:
    bars: list[Bar]
    ticks: list[tuple[float, str]]
    height: float
    width: float
    label_width: float
    truncated: int


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def bars(events: list[HistoryEvent]) -> list[Bar]:
    """The bars in the order their steps began."""
    opened: dict[int, Bar] = {}
    out: list[Bar] = []
    for event in events:
        attrs, kind, at = event.attributes, event.event_type, float(event.timestamp)
        if kind == "ActivityTaskScheduled":
            name = (attrs.get("activityType") or {}).get("name", "activity")
            bar = Bar("activity", f"{name} #{attrs.get('activityId', '')}", event.event_id, at,
                      None, "scheduled")
        elif kind == "TimerStarted":
            bar = Bar("timer", f"timer #{attrs.get('timerId', '')}", event.event_id, at, None,
                      "waiting")
        elif kind == "StartChildWorkflowExecutionInitiated":
            bar = Bar("child", f"child {attrs.get('workflowId', '')}", event.event_id, at, None,
                      "starting")
        else:
            bar = None
        if bar is not None:
            opened[event.event_id] = bar
            out.append(bar)
            continue
        if kind == "ActivityTaskStarted":
            target = opened.get(_int(attrs.get("scheduledEventId")))
            if target is not None:
                target.running_from, target.state = at, "running"
        elif kind in _ACTIVITY_CLOSE:
            _close(opened.get(_int(attrs.get("scheduledEventId"))), at, _ACTIVITY_CLOSE[kind])
        elif kind in _TIMER_CLOSE:
            _close(opened.get(_int(attrs.get("startedEventId"))), at, _TIMER_CLOSE[kind])
        elif kind == "ChildWorkflowExecutionStarted":
            target = opened.get(_int(attrs.get("initiatedEventId")))
            if target is not None:
                target.running_from, target.state = at, "running"
        elif kind in _CHILD_CLOSE:
            _close(opened.get(_int(attrs.get("initiatedEventId"))), at, _CHILD_CLOSE[kind])
    return out


def _close(bar: Bar | None, at: float, state: str) -> None:
    if bar is not None:
        bar.end, bar.state = at, state


def layout(all_bars: list[Bar], start: float, now: float) -> Chart:
    """Positions on a ``WIDTH``-wide axis from the run's start to its last moment."""
    shown = all_bars[:MAX_BARS]
    end = max([now if b.end is None else b.end for b in shown] + [start + 0.001])
    span = end - start
    plot = WIDTH - LABEL_WIDTH

    def x_of(t: float) -> float:
        return LABEL_WIDTH + (t - start) / span * plot

    for row, bar in enumerate(shown):
        bar.x = x_of(bar.start)
        close = now if bar.end is None else bar.end
        bar.width = max(2.0, x_of(close) - bar.x)
        bar.run_x = x_of(bar.running_from) if bar.running_from is not None else bar.x + bar.width
        bar.y = AXIS + row * ROW
    ticks = [(LABEL_WIDTH + plot * i / 4, _offset(span * i / 4)) for i in range(5)]
    return Chart(shown, ticks, AXIS + len(shown) * ROW + 4, WIDTH, LABEL_WIDTH,
                 max(0, len(all_bars) - len(shown)))


def _offset(seconds: float) -> str:
    if seconds < 1:
        return f"+{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"+{seconds:.1f} s"
    if seconds < 7200:
        return f"+{seconds / 60:.1f} min"
    return f"+{seconds / 3600:.1f} h"


def chart(events: list[HistoryEvent], start: float, now: float) -> Chart | None:
    found = bars(events)
    return layout(found, start, now) if found else None
