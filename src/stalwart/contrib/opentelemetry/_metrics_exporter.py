"""Drains a ``stalwart.runtime.MetricBuffer`` into an OpenTelemetry meter provider."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import opentelemetry.metrics

from ...runtime import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    BufferedMetric,
    BufferedMetricUpdate,
    MetricBuffer,
)

logger = logging.getLogger(__name__)


@dataclass
class _Gauge:
    # OpenTelemetry reads observable gauges from its export thread while the drain loop
    # writes them: both sides take the lock.
    lock: threading.Lock = field(default_factory=threading.Lock)
    last: dict[int, tuple[Mapping[str, Any], int | float]] = field(default_factory=dict)

    def observe(self, _options: opentelemetry.metrics.CallbackOptions
                ) -> Iterable[opentelemetry.metrics.Observation]:
        with self.lock:
            return [opentelemetry.metrics.Observation(value, attributes=dict(attributes))
                    for attributes, value in self.last.values()]


@dataclass
class _Instrument:
    counter: opentelemetry.metrics.Counter | None = None
    histogram: opentelemetry.metrics.Histogram | None = None
    gauge: _Gauge | None = None


class MetricsExporter:
    """Exports the updates of a ``MetricBuffer`` to an OpenTelemetry ``MeterProvider``
    (mirrors temporalio's): counters as counters, histograms as histograms, gauges as
    observable gauges reporting the last value per attribute set.

        buffer = MetricBuffer(10_000)
        runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
        async with MetricsExporter(buffer, meter_provider):
            client = await Client.connect("sqlite:///app.db", runtime=runtime)
            ...
    """

    def __init__(self, buffer: MetricBuffer,
                 meter_provider: opentelemetry.metrics.MeterProvider | None = None, *,
                 meter_name: str = "temporalio", meter_version: str | None = None,
                 poll_interval: timedelta = timedelta(seconds=1),
                 on_error: Callable[[Exception], None] | None = None) -> None:
        if poll_interval <= timedelta(0):
            raise ValueError(f"MetricsExporter(poll_interval={poll_interval!r}) must be "
                             "positive, e.g. timedelta(seconds=1)")
        self._buffer = buffer
        self._meter = (meter_provider or opentelemetry.metrics.get_meter_provider()
                       ).get_meter(meter_name, meter_version)
        self._poll_interval = poll_interval
        self._on_error = on_error
        # Keyed by id: the buffer hands out one object per metric and per attribute set.
        self._instruments: dict[int, _Instrument] = {}
        self._started = False
        self._shutdown_event = asyncio.Event()
        self._run_complete_event = asyncio.Event()
        self._run_task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Drain and export every ``poll_interval`` until ``shutdown``; a last drain then."""
        if self._started:
            raise RuntimeError("MetricsExporter is already running")
        self._started = True
        self._run_complete_event.clear()
        try:
            while not self._shutdown_event.is_set():
                self._drain_once()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._shutdown_event.wait(),
                                           self._poll_interval.total_seconds())
            self._drain_once()
        finally:
            self._started = False
            # Cleared here, not on entry, so a shutdown asked for before run started holds.
            self._shutdown_event.clear()
            self._run_complete_event.set()

    async def shutdown(self) -> None:
        """Stop ``run`` (after its final drain) and wait for it."""
        self._shutdown_event.set()
        await self._run_complete_event.wait()

    async def __aenter__(self) -> MetricsExporter:
        self._run_task = asyncio.ensure_future(self.run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()
        if self._run_task is not None:
            await self._run_task

    def _drain_once(self) -> None:
        try:
            updates = self._buffer.retrieve_updates()
        except RuntimeError:
            raise  # a buffer of no runtime: a setup error, not a passing failure
        except Exception as err:
            self._handle_error(err)
            return
        for update in updates:
            try:
                self._apply(update)
            except Exception as err:
                self._handle_error(err)

    def _handle_error(self, err: Exception) -> None:
        logger.exception("Error exporting buffered metrics")
        if self._on_error is not None:
            try:
                self._on_error(err)
            except Exception:
                logger.exception("on_error handler failed")

    def _apply(self, update: BufferedMetricUpdate) -> None:
        instrument = self._instrument(update.metric)
        attributes = dict(update.attributes)
        if instrument.counter is not None:
            instrument.counter.add(update.value, attributes=attributes)
        elif instrument.histogram is not None:
            instrument.histogram.record(update.value, attributes=attributes)
        elif instrument.gauge is not None:
            with instrument.gauge.lock:
                instrument.gauge.last[id(update.attributes)] = (attributes, update.value)

    def _instrument(self, metric: BufferedMetric) -> _Instrument:
        instrument = self._instruments.get(id(metric))
        if instrument is not None:
            return instrument
        unit, description = metric.unit or "", metric.description or ""
        instrument = _Instrument()
        if metric.kind == BUFFERED_METRIC_KIND_COUNTER:
            instrument.counter = self._meter.create_counter(
                metric.name, unit=unit, description=description)
        elif metric.kind == BUFFERED_METRIC_KIND_HISTOGRAM:
            instrument.histogram = self._meter.create_histogram(
                metric.name, unit=unit, description=description)
        elif metric.kind == BUFFERED_METRIC_KIND_GAUGE:
            instrument.gauge = _Gauge()
            self._meter.create_observable_gauge(metric.name, callbacks=[instrument.gauge.observe],
                                                unit=unit, description=description)
        else:
            raise ValueError(f"Unrecognized buffered metric kind: {metric.kind}")
        self._instruments[id(metric)] = instrument
        return instrument
