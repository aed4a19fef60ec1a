"""Process-wide Prometheus metrics for workers and clients (text exposition, no dependency).

Counters and histograms are updated on the worker's event loop (cheap dict increments); the
``/metrics`` endpoint renders them, plus gauges read at scrape time (cache size, task-queue
backlog from the store).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence

LabelValues = tuple[str, ...]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 300.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    def __init__(self, name: str, help: str, labels: Sequence[str]) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self._values: dict[LabelValues, float] = defaultdict(float)
        self._lock = threading.Lock()

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[label_values] += amount

    def value(self, *label_values: str) -> float:
        return self._values.get(label_values, 0.0)

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        with self._lock:
            for values, amount in sorted(self._values.items()):
                lines.append(f"{self.name}{_labels(self.labels, values)} {amount:g}")
        return lines


class Histogram:
    def __init__(self, name: str, help: str, labels: Sequence[str],
                 buckets: Sequence[float] = _LATENCY_BUCKETS) -> None:
        self.name, self.help, self.labels = name, help, tuple(labels)
        self.buckets = tuple(buckets)
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = defaultdict(float)
        self._lock = threading.Lock()

    def observe(self, value: float, *label_values: str) -> None:
        with self._lock:
            counts = self._counts.setdefault(label_values, [0] * (len(self.buckets) + 1))
            for index, bound in enumerate(self.buckets):
                if value <= bound:
                    counts[index] += 1
            counts[-1] += 1
            self._sums[label_values] += value

    def count(self, *label_values: str) -> int:
        counts = self._counts.get(label_values)
        return counts[-1] if counts else 0

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            for values, counts in sorted(self._counts.items()):
                for bound, count in zip(self.buckets, counts, strict=False):
                    labels = _labels(self.labels, values, 'le="' + format(bound, "g") + '"')
                    lines.append(f"{self.name}_bucket{labels} {count}")
                labels = _labels(self.labels, values, 'le="+Inf"')
                lines.append(f"{self.name}_bucket{labels} {counts[-1]}")
                lines.append(f"{self.name}_sum{_labels(self.labels, values)} "
                             f"{self._sums[values]:g}")
                lines.append(f"{self.name}_count{_labels(self.labels, values)} {counts[-1]}")
        return lines


class Registry:
    def __init__(self) -> None:
        self.workflows_started = Counter(
            "stalwart_workflows_started_total", "Workflows started by clients of this process.",
            ["workflow_type"])
        self.workflows_closed = Counter(
            "stalwart_workflows_closed_total",
            "Workflow runs closed by workers of this process, by final status.",
            ["workflow_type", "status"])
        self.workflow_tasks = Counter(
            "stalwart_workflow_tasks_total", "Workflow tasks processed, by outcome.",
            ["workflow_type", "outcome"])
        self.replays = Counter(
            "stalwart_workflow_replays_total",
            "Workflow instances rebuilt from history (cache misses).", ["workflow_type"])
        self.activities = Counter(
            "stalwart_activity_executions_total",
            "Activity attempts, by outcome: completed, failed (for good), retry, cancelled.",
            ["activity_type", "outcome"])
        self.schedule_to_start = Histogram(
            "stalwart_activity_schedule_to_start_seconds",
            "Time an activity attempt waited between being scheduled and starting.",
            ["activity_type"])
        self.execution = Histogram(
            "stalwart_activity_execution_seconds", "Run time of activity attempts.",
            ["activity_type"])
        self.workflow_task_latency = Histogram(
            "stalwart_workflow_task_seconds",
            "Time from claiming a workflow task to committing it.", ["workflow_type"])
        self._gauges: list[Callable[[], list[str]]] = []

    def add_gauge_source(self, source: Callable[[], list[str]]) -> None:
        self._gauges.append(source)

    def remove_gauge_source(self, source: Callable[[], list[str]]) -> None:
        if source in self._gauges:
            self._gauges.remove(source)

    def render(self, extra: Sequence[str] = ()) -> str:
        lines: list[str] = []
        for metric in (self.workflows_started, self.workflows_closed, self.workflow_tasks,
                       self.replays, self.activities, self.schedule_to_start, self.execution,
                       self.workflow_task_latency):
            lines += metric.render()
        for source in list(self._gauges):
            lines += source()
        lines += extra
        return "\n".join(lines) + "\n"


METRICS = Registry()

# Async callables returning {(kind, task_queue): ready task count}; one per running worker.
backlog_sources: list[Callable[[], Awaitable[dict[tuple[str, str], int]]]] = []


def gauge_lines(name: str, help: str, labels: Sequence[str],
                samples: Sequence[tuple[Sequence[str], float]]) -> list[str]:
    lines = [f"# HELP {name} {help}", f"# TYPE {name} gauge"]
    lines += [f"{name}{_labels(labels, values)} {value:g}" for values, value in samples]
    return lines
