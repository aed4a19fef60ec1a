"""What ``runtime.OpenTelemetryConfig`` does: the process's metrics to a collector over OTLP.

Temporal's Core exports its metrics itself; here the runtime feeds a private ``MetricBuffer``
and a thread of this module drains it into an OpenTelemetry SDK ``MeterProvider`` whose reader
sends one OTLP export per period (HTTP/protobuf or gRPC, as the config says). The SDK's own
exporters are used rather than a hand-written OTLP client: they carry the protocol, retries and
compression, and collectors are tested against them.
"""

from __future__ import annotations

import atexit
import logging
import math
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.metrics import (
    Counter,
    Histogram,
    MeterProvider,
    ObservableCounter,
    ObservableGauge,
    ObservableUpDownCounter,
    UpDownCounter,
)
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

from ._metrics_exporter import MetricsExporter

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter

    from ...runtime import MetricBuffer, OpenTelemetryConfig

logger = logging.getLogger("stalwart.runtime")

# Core's default when ``metric_periodicity`` is not set.
DEFAULT_PERIOD = timedelta(seconds=1)
_EXPORT_TIMEOUT_S = 10.0


class OtlpMetricsPipeline:
    """Drains ``buffer`` and exports what it held, every period, until ``close``."""

    def __init__(self, config: OpenTelemetryConfig, buffer: MetricBuffer) -> None:
        from ...runtime import OpenTelemetryMetricTemporality

        period = DEFAULT_PERIOD if config.metric_periodicity is None else config.metric_periodicity
        if period <= timedelta(0):
            raise ValueError(f"OpenTelemetryConfig(metric_periodicity={period!r}) must be "
                             "positive, e.g. timedelta(seconds=1)")
        temporality = (AggregationTemporality.DELTA
                       if config.metric_temporality == OpenTelemetryMetricTemporality.DELTA
                       else AggregationTemporality.CUMULATIVE)
        # Gauges have no delta form; everything else follows the configured temporality.
        preferred: dict[type, AggregationTemporality] = {
            kind: temporality for kind in (Counter, Histogram, ObservableCounter)}
        preferred |= {kind: AggregationTemporality.CUMULATIVE
                      for kind in (UpDownCounter, ObservableUpDownCounter, ObservableGauge)}
        # The reader never exports on its own schedule: this module's thread drains the buffer
        # first and then flushes, so one export holds everything recorded before it.
        self._reader = PeriodicExportingMetricReader(
            _exporter(config, preferred), export_interval_millis=math.inf,
            export_timeout_millis=_EXPORT_TIMEOUT_S * 1000)
        views = [View(instrument_name=name,
                      aggregation=ExplicitBucketHistogramAggregation(boundaries=list(bounds)))
                 for name, bounds in (config.histogram_bucket_overrides or {}).items()]
        self.provider = MeterProvider(metric_readers=[self._reader], views=views,
                                      shutdown_on_exit=False)
        self._buffer = buffer
        self._drainer = MetricsExporter(buffer, self.provider)
        self._period_s = period.total_seconds()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stalwart-otlp-metrics",
                                        daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def export_now(self) -> bool:
        """Drain the buffer and export; False when the collector did not take it in time."""
        self._drainer._drain_once()
        return bool(self.provider.force_flush(timeout_millis=_EXPORT_TIMEOUT_S * 1000))

    def close(self) -> None:
        """Export what is left, then stop the thread and the exporter."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=_EXPORT_TIMEOUT_S + self._period_s)
        self._buffer._detach()
        self.export_now()
        self.provider.shutdown(timeout_millis=_EXPORT_TIMEOUT_S * 1000)
        atexit.unregister(self.close)

    def _run(self) -> None:
        while not self._stop.wait(self._period_s):
            try:
                if not self.export_now():
                    logger.warning("OTLP metrics export did not finish within %.0f s",
                                   _EXPORT_TIMEOUT_S)
            except Exception:  # a collector's trouble must never stop the process's metrics
                logger.exception("OTLP metrics export failed")


def _exporter(config: OpenTelemetryConfig, preferred: dict[type, AggregationTemporality]
              ) -> MetricExporter:
    headers = dict(config.headers or {})
    try:
        if config.http:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
                OTLPMetricExporter as HttpExporter,
            )

            return HttpExporter(endpoint=config.url, headers=headers,
                                timeout=_EXPORT_TIMEOUT_S, preferred_temporality=preferred)
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
            OTLPMetricExporter as GrpcExporter,
        )
    except ImportError as error:
        transport = "HTTP" if config.http else "gRPC"
        raise ImportError(
            f"OpenTelemetryConfig(http={config.http}) exports over OTLP/{transport}, which "
            f"needs the package {error.name!r}: pip install 'stalwart[otlp]'") from error
    options: dict[str, Any] = {"insecure": config.url.startswith("http://")}
    return GrpcExporter(endpoint=config.url, headers=headers, timeout=_EXPORT_TIMEOUT_S,
                        preferred_temporality=preferred, **options)
