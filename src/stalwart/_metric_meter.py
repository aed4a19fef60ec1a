"""temporalio's metric meter API over Stalwart's Prometheus registry.

``workflow.metric_meter()``, ``activity.metric_meter()`` and ``MetricMeter.default()`` give a
meter whose counters, histograms and gauges appear on ``stalwart.metrics``' ``/metrics`` page,
each series labelled with its attributes. Histograms use the registry's latency buckets
(``create_histogram_timedelta`` records milliseconds, as temporalio does by default).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from ._engine.metrics import METRICS, _labels

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

    def render(self) -> list[str]:
        prometheus_type = {"counter": "counter", "gauge": "gauge"}.get(self.kind, "histogram")
        lines = [f"# HELP {self.name} {self.description}",
                 f"# TYPE {self.name} {prometheus_type}"]
        with self.lock:
            for key, value in sorted(self.values.items()):
                names, values = [k for k, _ in key], [v for _, v in key]
                if prometheus_type != "histogram":
                    lines.append(f"{self.name}{_labels(names, values)} {value:g}")
                    continue
                counts, total = value
                for bound, count in zip(_BUCKETS, counts, strict=False):
                    le = 'le="' + format(bound, "g") + '"'
                    lines.append(f"{self.name}_bucket{_labels(names, values, le)} {count}")
                inf = 'le="+Inf"'
                lines.append(f"{self.name}_bucket{_labels(names, values, inf)} {counts[-1]}")
                lines.append(f"{self.name}_sum{_labels(names, values)} {total:g}")
                lines.append(f"{self.name}_count{_labels(names, values)} {counts[-1]}")
        return lines


class _Registry:
    def __init__(self) -> None:
        self.series: dict[str, _Series] = {}
        self.lock = threading.Lock()
        METRICS.add_gauge_source(self.render)

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

    def render(self) -> list[str]:
        lines: list[str] = []
        for series in list(self.series.values()):
            lines += series.render()
        return lines


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

    def _apply(self, additional: MetricAttributes | None, change: Callable[[Any], Any]
               ) -> None:
        if self._enabled():
            self._series.update({**self._attributes, **(additional or {})}, change)


class MetricCounter(MetricCommon):
    def add(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        if value < 0:
            raise ValueError(f"counter {self.name!r} can only grow, got add({value})")
        self._apply(additional_attributes, lambda old: (old or 0) + value)


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
        self._apply(additional_attributes, _observe(float(value)))


class MetricHistogramFloat(MetricCommon):
    def record(self, value: float, additional_attributes: MetricAttributes | None = None
               ) -> None:
        self._apply(additional_attributes, _observe(float(value)))


class MetricHistogramTimedelta(MetricCommon):
    def record(self, value: timedelta, additional_attributes: MetricAttributes | None = None
               ) -> None:
        self._apply(additional_attributes, _observe(value.total_seconds() * 1000))


class MetricGauge(MetricCommon):
    def set(self, value: int, additional_attributes: MetricAttributes | None = None) -> None:
        self._apply(additional_attributes, lambda old: value)


class MetricGaugeFloat(MetricCommon):
    def set(self, value: float, additional_attributes: MetricAttributes | None = None) -> None:
        self._apply(additional_attributes, lambda old: value)


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
