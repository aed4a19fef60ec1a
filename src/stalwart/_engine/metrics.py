"""Process-wide Prometheus metrics for workers and clients, kept by ``prometheus_client``.

Counters and histograms are updated on the worker's event loop (``prometheus_client`` metrics
are thread-safe and cheap). Two gauges are read at scrape time: each worker's cache size
(synchronous sources) and the task-queue backlog, which needs the store and so is read
asynchronously by ``stalwart.metrics.render`` before the registry is collected; the collector
then reports that last reading.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client import Counter as _Counter
from prometheus_client import Histogram as _Histogram
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 300.0)

# One gauge reading: label values and the value.
Sample = tuple[Sequence[str], float]


class MetricSink(Protocol):
    """Receives every metric update as it happens (``stalwart.runtime.MetricBuffer``).

    ``kind`` is ``counter``, ``histogram`` or ``gauge``; ``name`` has no ``_total`` or
    ``_seconds`` suffix; a ``duration`` value is in seconds.
    """

    def record(self, kind: str, name: str, description: str, unit: str | None, value: float,
               attributes: Mapping[str, str], duration: bool) -> None: ...


# Weak: a buffer nobody can drain any more stops receiving updates when it is collected.
# A plain dict of weak references (by id) rather than a WeakSet: every counter and histogram
# update asks whether there is any sink, and a WeakSet answers that with a Python-level
# ``__len__`` call, a dict without one.
sinks: dict[int, weakref.ref[MetricSink]] = {}


def add_sink(sink: MetricSink) -> None:
    key = id(sink)

    def drop(ref: weakref.ref[MetricSink]) -> None:
        if sinks.get(key) is ref:  # not a later sink that was given the same id
            del sinks[key]

    sinks[key] = weakref.ref(sink, drop)


def remove_sink(sink: MetricSink) -> None:
    ref = sinks.get(id(sink))
    if ref is not None and ref() is sink:
        del sinks[id(sink)]


def emit(kind: str, name: str, description: str, unit: str | None, value: float,
         attributes: Mapping[str, str], duration: bool = False) -> None:
    for ref in list(sinks.values()):
        sink = ref()
        if sink is not None:
            sink.record(kind, name, description, unit, value, attributes, duration)


class Counter:
    """A labelled counter (the call sites name label values positionally)."""

    def __init__(self, registry: CollectorRegistry, name: str, help: str,
                 labels: Sequence[str]) -> None:
        self.name, self.labels, self.help = name, tuple(labels), help
        self._registry = registry
        self._metric = _Counter(name, help, self.labels, registry=registry)
        # The bound child per label values: ``labels()`` validates, stringifies and takes a
        # lock on every call, and it hands back the same child each time (nothing removes
        # children), so it is asked once per label set.
        self._children: dict[tuple[str, ...], Any] = {}

    def inc(self, *label_values: str, amount: float = 1.0) -> None:
        child = self._children.get(label_values)
        if child is None:
            child = self._children[label_values] = self._metric.labels(*label_values)
        child.inc(amount)
        if sinks:
            emit("counter", self.name.removesuffix("_total"), self.help, None, amount,
                 dict(zip(self.labels, label_values, strict=True)))

    def value(self, *label_values: str) -> float:
        sample = self._registry.get_sample_value(self.name, dict(zip(self.labels, label_values,
                                                                     strict=True)))
        return sample or 0.0


class Histogram:
    def __init__(self, registry: CollectorRegistry, name: str, help: str, labels: Sequence[str],
                 buckets: Sequence[float] = _LATENCY_BUCKETS) -> None:
        self.name, self.labels, self.help = name, tuple(labels), help
        self._registry = registry
        self._metric = _Histogram(name, help, self.labels, buckets=tuple(buckets),
                                  registry=registry)
        self._children: dict[tuple[str, ...], Any] = {}  # as Counter's

    def observe(self, value: float, *label_values: str) -> None:
        child = self._children.get(label_values)
        if child is None:
            child = self._children[label_values] = self._metric.labels(*label_values)
        child.observe(value)
        if sinks:  # every built-in histogram measures seconds
            emit("histogram", self.name.removesuffix("_seconds"), self.help, None, value,
                 dict(zip(self.labels, label_values, strict=True)), duration=True)

    def count(self, *label_values: str) -> int:
        sample = self._registry.get_sample_value(
            f"{self.name}_count", dict(zip(self.labels, label_values, strict=True)))
        return int(sample or 0)


class GaugeSource:
    """A gauge whose readings come from a callable at collection time."""

    def __init__(self, name: str, help: str, labels: Sequence[str],
                 read: Callable[[], Sequence[Sample]]) -> None:
        self.name, self.help, self.labels, self.read = name, help, tuple(labels), read


class _ScrapeTimeGauges(Collector):
    def __init__(self) -> None:
        self.sources: list[GaugeSource] = []
        self.backlog: list[Sample] = []

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for source in list(self.sources):
            family = families.get(source.name)
            if family is None:
                family = families[source.name] = GaugeMetricFamily(
                    source.name, source.help, labels=source.labels)
            for values, value in source.read():
                family.add_metric(list(values), value)
        yield from families.values()
        if self.backlog:
            family = GaugeMetricFamily(
                "stalwart_task_queue_backlog",
                "Tasks ready to run and not yet claimed, by task queue and kind.",
                labels=["task_queue", "kind"])
            for values, value in self.backlog:
                family.add_metric(list(values), value)
            yield family

    def describe(self) -> Iterator[Metric]:
        return iter(())  # families depend on what runs; nothing to check at registration


class Registry:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.workflows_started = Counter(
            r, "stalwart_workflows_started_total",
            "Workflows started by clients of this process.", ["workflow_type"])
        self.workflows_closed = Counter(
            r, "stalwart_workflows_closed_total",
            "Workflow runs closed by workers of this process, by final status.",
            ["workflow_type", "status"])
        self.workflow_tasks = Counter(
            r, "stalwart_workflow_tasks_total", "Workflow tasks processed, by outcome.",
            ["workflow_type", "outcome"])
        self.replays = Counter(
            r, "stalwart_workflow_replays_total",
            "Workflow instances rebuilt from history (cache misses).", ["workflow_type"])
        self.activities = Counter(
            r, "stalwart_activity_executions_total",
            "Activity attempts, by outcome: completed, failed (for good), retry, cancelled.",
            ["activity_type", "outcome"])
        self.schedule_to_start = Histogram(
            r, "stalwart_activity_schedule_to_start_seconds",
            "Time an activity attempt waited between being scheduled and starting.",
            ["activity_type"])
        self.execution = Histogram(
            r, "stalwart_activity_execution_seconds", "Run time of activity attempts.",
            ["activity_type"])
        self.workflow_task_latency = Histogram(
            r, "stalwart_workflow_task_seconds",
            "Time from claiming a workflow task to committing it.", ["workflow_type"])
        self.llm_tokens = Counter(
            r, "stalwart_llm_tokens_total",
            "Model tokens used by LLM activities of this process, by kind: input (cached "
            "ones included), output, cached_input.", ["workflow_type", "model", "kind"])
        self.llm_cost = Counter(
            r, "stalwart_llm_cost_usd_total",
            "Estimated USD cost of model calls made by LLM activities of this process.",
            ["workflow_type", "model"])
        self.llm_calls = Counter(
            r, "stalwart_llm_calls_total",
            "Model calls made by LLM activities of this process; 'unpriced' ones have no "
            "known price and add nothing to the cost.", ["workflow_type", "model", "priced"])
        self.gauges = _ScrapeTimeGauges()
        r.register(self.gauges)

    def add_gauge_source(self, source: GaugeSource) -> None:
        self.gauges.sources.append(source)

    def remove_gauge_source(self, source: GaugeSource) -> None:
        if source in self.gauges.sources:
            self.gauges.sources.remove(source)


METRICS = Registry()

# Async callables returning {(kind, task_queue): ready task count}; one per running worker.
backlog_sources: list[Callable[[], Awaitable[dict[tuple[str, str], int]]]] = []
