"""temporalio's metric meter API over Stalwart's Prometheus registry.

``workflow.metric_meter()``, ``activity.metric_meter()`` and ``MetricMeter.default()`` give a
meter whose counters, histograms and gauges appear on ``stalwart.metrics``' ``/metrics`` page,
each series labelled with its attributes. Histograms use the registry's latency buckets
(``create_histogram_timedelta`` records milliseconds, as temporalio does by default).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from ._engine import metrics as _engine_metrics
from ._engine.metrics import METRICS

MetricAttributes = Mapping[str, str | int | float | bool]
_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_BUCKETS = (1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
SelfType = TypeVar("SelfType", bound="MetricCommon")


class _Series:
    """The values of one user metric, by attribute set; rendered into ``/metrics``."""

    def __init__(self, kind: str, name: str, description: str | None) -> None:
        self.kind, self.description = kind, description or name
        self.name = _NAME.sub("_", name)
        self.values: dict[tuple[tuple[str, str], ...], Any] = {}
        self.lock = threading.Lock()

    def update(self, attributes: MetricAttributes, change: Callable[[Any], Any]) -> None:
        key = tuple(sorted((str(k), str(v)) for k, v in attributes.items()))
        with self.lock:
            self.values[key] = change(self.values.get(key))

    def family(self) -> Metric:
        """The series as a ``prometheus_client`` family (points may differ in labels)."""
        prometheus_type = {"counter": "counter", "gauge": "gauge"}.get(self.kind, "histogram")
        base = self.name.removesuffix("_total") if prometheus_type == "counter" else self.name
        family = Metric(base, self.description, prometheus_type)
        with self.lock:
            items = sorted(self.values.items())
        for key, value in items:
            labels = dict(key)
            if prometheus_type != "histogram":
                # Counters keep the name they were given (the classic text format allows it).
                family.add_sample(self.name, labels, value)
            else:
                counts, total = value
                for bound, count in zip(_BUCKETS, counts, strict=False):
                    family.add_sample(f"{base}_bucket", {**labels, "le": format(bound, "g")},
                                      count)
                family.add_sample(f"{base}_bucket", {**labels, "le": "+Inf"}, counts[-1])
                family.add_sample(f"{base}_sum", labels, total)
                family.add_sample(f"{base}_count", labels, counts[-1])
        return family


class _Registry(Collector):
    def __init__(self) -> None:
        self.series: dict[str, _Series] = {}
        self.lock = threading.Lock()
        METRICS.registry.register(self)

    def get(self, kind: str, name: str, description: str | None) -> _Series:
        if not name:
            raise ValueError("a metric needs a name")
        with self.lock:
            series = self.series.get(name)
            if series is None:
                series = self.series[name] = _Series(kind, name, description)
            elif series.kind != kind:
                raise ValueError(f"metric {name!r} already exists as a {series.kind}, not a "
                                 f"{kind}")
            return series

    def collect(self) -> Iterator[Metric]:
        for series in list(self.series.values()):
            yield series.family()

    def describe(self) -> Iterator[Metric]:
        return iter(())  # the series are created as user code asks for them


_REGISTRY = _Registry()


class MetricCommon:
    """What every metric has: name, description, unit, and fixed attributes."""

    def __init__(self, series: _Series, name: str, description: str | None,
                 unit: str | None, attributes: MetricAttributes,
                 enabled: Callable[[], bool]) -> None:
        self._series, self._name = series, name
        self._description, self._unit = description, unit
        self._attributes = dict(attributes)
        self._enabled = enabled

    @property
    def name(self) -> str:
        return self._name

    @property
    def description(self) -> str | None:
        return self._description

    @property
    def unit(self) -> str | None:
        return self._unit

    def with_additional_attributes(self: SelfType, additional_attributes: MetricAttributes
                                   ) -> SelfType:
        copy = type(self).__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy._attributes = {**self._attributes, **additional_attributes}
        return copy

    def _apply(self, additional: MetricAttributes | None, change: Callable[[Any], Any],
               value: float, duration: bool = False) -> None:
        if self._enabled():
            attributes = {**self._attributes, **(additional or {})}
            self._series.update(attributes, change)
            if _engine_metrics.sinks:
                kind = {"counter": "counter", "gauge": "gauge"}.get(self._series.kind,
                                                                    "histogram")
                _engine_metrics.emit(kind, self._name, self._description or "", self._unit,
                                     value, {k: str(v) for k, v in attributes.items()},
                                     duration)


class MetricCounter(MetricCommon):
    def add(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        if value < 0:
            raise ValueError(f"counter {self.name!r} can only grow, got add({value})")
        self._apply(additional_attributes, lambda old: (old or 0) + value, value)


def _observe(value: float) -> Callable[[Any], Any]:
    def change(old: Any) -> Any:
        counts, total = old or ([0] * (len(_BUCKETS) + 1), 0.0)
        counts = [c + (1 if value <= bound else 0) for c, bound in zip(counts, _BUCKETS,
                                                                          strict=False)]
        counts.append((old[0][-1] if old else 0) + 1)
        return counts, total + value
    return change


class MetricHistogram(MetricCommon):
    def record(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        self._apply(additional_attributes, _observe(float(value)), value)


class MetricHistogramFloat(MetricCommon):
    def record(self, value: float, additional_attributes: MetricAttributes | None = None
               ) -> None:
        self._apply(additional_attributes, _observe(float(value)), value)


class MetricHistogramTimedelta(MetricCommon):
    def record(self, value: timedelta, additional_attributes: MetricAttributes | None = None
               ) -> None:
        self._apply(additional_attributes, _observe(value.total_seconds() * 1000),
                    value.total_seconds(), duration=True)


class MetricGauge(MetricCommon):
    def set(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        self._apply(additional_attributes, lambda old: value, value)


class MetricGaugeFloat(MetricCommon):
    def set(self, value: float, additional_attributes: MetricAttributes | None = None) -> None:
        self._apply(additional_attributes, lambda old: value, value)


MetricType = TypeVar("MetricType", bound=MetricCommon)


class MetricMeter:
    """Creates metrics that appear on Stalwart's Prometheus ``/metrics`` page.

    ``MetricMeter.noop`` records nothing; workflow code gets a meter that records nothing
    while replaying, so a metric counts what happened once.
    """

    noop: ClassVar[MetricMeter]

    def __init__(self, attributes: MetricAttributes | None = None,
                 enabled: Callable[[], bool] = lambda: True) -> None:
        self._attributes = dict(attributes or {})
        self._enabled = enabled

    @staticmethod
    def default() -> MetricMeter:
        return MetricMeter()

    def _create(self, cls: type[MetricType], kind: str, name: str, description: str | None,
                unit: str | None) -> MetricType:
        return cls(_REGISTRY.get(kind, name, description), name, description, unit,
                   self._attributes, self._enabled)

    def create_counter(self, name: str, description: str | None = None,
                       unit: str | None = None) -> MetricCounter:
        return self._create(MetricCounter, "counter", name, description, unit)

    def create_histogram(self, name: str, description: str | None = None,
                         unit: str | None = None) -> MetricHistogram:
        return self._create(MetricHistogram, "histogram", name, description, unit)

    def create_histogram_float(self, name: str, description: str | None = None,
                               unit: str | None = None) -> MetricHistogramFloat:
        return self._create(MetricHistogramFloat, "histogram", name, description, unit)

    def create_histogram_timedelta(self, name: str, description: str | None = None,
                                   unit: str | None = None) -> MetricHistogramTimedelta:
        return self._create(MetricHistogramTimedelta, "histogram", name, description, unit)

    def create_gauge(self, name: str, description: str | None = None,
                     unit: str | None = None) -> MetricGauge:
        return self._create(MetricGauge, "gauge", name, description, unit)

    def create_gauge_float(self, name: str, description: str | None = None,
                           unit: str | None = None) -> MetricGaugeFloat:
        return self._create(MetricGaugeFloat, "gauge", name, description, unit)

    def with_additional_attributes(self, additional_attributes: MetricAttributes
                                   ) -> MetricMeter:
        return MetricMeter({**self._attributes, **additional_attributes}, self._enabled)


MetricMeter.noop = MetricMeter(enabled=lambda: False)
