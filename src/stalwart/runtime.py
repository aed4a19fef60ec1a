"""Where clients and workers send their telemetry (mirrors ``temporalio.runtime``).

    runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(
        bind_address="127.0.0.1:9000")))
    client = await Client.connect("sqlite:///app.db", runtime=runtime)

Stalwart has no Core runtime (no thread pool, no native logger): a ``Runtime`` says only where
metrics go. Its metrics are kept per process (``stalwart.metrics.REGISTRY``):

- ``PrometheusConfig(bind_address=...)`` serves that registry on ``GET /metrics`` at the
  address, one server per address, started when a client connects or a worker starts with the
  runtime. The names are Stalwart's (``stalwart_workflows_closed_total``, ...): counters always
  carry ``_total`` and durations are histograms in seconds named ``..._seconds``, whatever
  ``counters_total_suffix``, ``unit_suffix`` and ``durations_as_seconds`` say;
  ``histogram_bucket_overrides`` is not applied (``prometheus_client`` fixes the buckets of the
  process-wide histograms when they are created) and a warning says so.
- ``MetricBuffer`` receives every metric update of the process, Stalwart's and those made
  through a ``MetricMeter``, from the moment its runtime is created; drain it with
  ``retrieve_updates()`` (``stalwart.contrib.opentelemetry.MetricsExporter`` does, into an
  OpenTelemetry meter provider). Buffered names drop the ``_total``/``_seconds`` suffixes;
  ``TelemetryConfig.metric_prefix`` replaces the ``stalwart_`` prefix and ``global_tags`` are
  added to every update's attributes.
- ``OpenTelemetryConfig(url=...)`` sends the same updates a buffer gets to an OpenTelemetry
  collector over OTLP (gRPC, or HTTP/protobuf with ``http=True``) every ``metric_periodicity``,
  with its ``headers``, temporality, ``durations_as_seconds`` and
  ``histogram_bucket_overrides``; the runtime's thread drains a private buffer into the
  OpenTelemetry SDK's exporter (extra ``stalwart[otlp]``).

``LoggingConfig``, ``LogForwardingConfig`` and ``TelemetryFilter`` are accepted: Stalwart logs
through Python's ``logging`` (loggers named ``stalwart.*``), so there are no Core logs to
filter or forward.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from enum import Enum
from typing import Any, ClassVar, Protocol

from . import _telemetry
from ._metric_meter import MetricAttributes, MetricMeter
from ._telemetry import (
    BUFFERED_METRIC_KIND_COUNTER,
    BUFFERED_METRIC_KIND_GAUGE,
    BUFFERED_METRIC_KIND_HISTOGRAM,
    BufferedMetricKind,
)

__all__ = [
    "BUFFERED_METRIC_KIND_COUNTER",
    "BUFFERED_METRIC_KIND_GAUGE",
    "BUFFERED_METRIC_KIND_HISTOGRAM",
    "BufferedMetric",
    "BufferedMetricKind",
    "BufferedMetricUpdate",
    "LogForwardingConfig",
    "LoggingConfig",
    "LoggingFormat",
    "MetricBuffer",
    "MetricBufferDurationFormat",
    "OpenTelemetryConfig",
    "OpenTelemetryMetricTemporality",
    "PrometheusConfig",
    "Runtime",
    "TelemetryConfig",
    "TelemetryFilter",
]

logger = logging.getLogger("stalwart.runtime")
# Updates waiting for the next OTLP export; at the default 1 s period far more than a busy
# process records in one (beyond it, updates are dropped with an error logged).
_OTLP_BUFFER_SIZE = 1_000_000


class _RuntimeRef:
    def __init__(self) -> None:
        self._default_runtime: Runtime | None = None
        self._prevent_default = False

    def default(self) -> Runtime:
        if self._default_runtime is None:
            if self._prevent_default:
                raise RuntimeError("Cannot create default Runtime after "
                                   "Runtime.prevent_default has been called; call "
                                   "Runtime.set_default(...) first")
            self._default_runtime = Runtime(telemetry=TelemetryConfig())
        return self._default_runtime

    def prevent_default(self) -> None:
        if self._default_runtime is not None:
            raise RuntimeError("Runtime.prevent_default called after default runtime has "
                               "been created or set")
        self._prevent_default = True

    def set_default(self, runtime: Runtime, *, error_if_already_set: bool = True) -> None:
        if self._default_runtime is not None and error_if_already_set:
            raise RuntimeError("Runtime default already set; pass error_if_already_set=False "
                               "to replace it")
        self._default_runtime = runtime


_runtime_ref = _RuntimeRef()


class Runtime:
    """Telemetry settings shared by the clients and workers created with it.

    ``Runtime.default()`` (used by clients connected without ``runtime=``) keeps metrics in
    the process registry and serves them nowhere; ``stalwart.metrics.start_http_server`` or
    a runtime with ``PrometheusConfig`` serves them.
    """

    @classmethod
    def default(cls) -> Runtime:
        """The default runtime, created on first use unless ``prevent_default`` was called."""
        return _runtime_ref.default()

    @classmethod
    def prevent_default(cls) -> None:
        """Make ``default()`` raise instead of creating a runtime (until ``set_default``)."""
        _runtime_ref.prevent_default()

    @staticmethod
    def set_default(runtime: Runtime, *, error_if_already_set: bool = True) -> None:
        """Make ``runtime`` the default for clients connected from now on."""
        _runtime_ref.set_default(runtime, error_if_already_set=error_if_already_set)

    def __init__(self, *, telemetry: TelemetryConfig,
                 worker_heartbeat_interval: timedelta | None = timedelta(seconds=60),
                 disable_environment_info: bool = False) -> None:
        """Check ``telemetry`` and attach its metric buffer, if any.

        ``worker_heartbeat_interval`` and ``disable_environment_info`` configure Temporal's
        worker heartbeats to the server; they are checked and otherwise ignored (Stalwart's
        workers heartbeat into the store on their own schedule).
        """
        if worker_heartbeat_interval is not None and worker_heartbeat_interval <= timedelta(0):
            raise ValueError(f"Runtime(worker_heartbeat_interval={worker_heartbeat_interval!r})"
                             " must be positive, or None to disable heartbeats")
        self._telemetry = telemetry
        metrics = telemetry.metrics
        self._otlp: Any = None
        if isinstance(metrics, OpenTelemetryConfig):
            self._otlp = _start_otlp(self, telemetry, metrics)
        elif isinstance(metrics, PrometheusConfig):
            _telemetry.parse_bind_address(metrics.bind_address)
            if metrics.histogram_bucket_overrides:
                logger.warning("PrometheusConfig.histogram_bucket_overrides is not applied: "
                               "Stalwart's histograms have fixed buckets")
        elif isinstance(metrics, MetricBuffer):
            metrics._attach(self, telemetry)
        elif metrics is not None:
            raise TypeError(f"TelemetryConfig(metrics={metrics!r}) must be a PrometheusConfig, "
                            "a MetricBuffer, an OpenTelemetryConfig or None")
        self._metric_meter = MetricMeter(dict(telemetry.global_tags))

    @property
    def metric_meter(self) -> MetricMeter:
        """A meter whose metrics go where this runtime's do (the process registry, and any
        metric buffer)."""
        return self._metric_meter

    @property
    def telemetry(self) -> TelemetryConfig:
        return self._telemetry

    async def _use(self) -> None:
        """Start what a client or worker using this runtime needs (the Prometheus server)."""
        if isinstance(self._telemetry.metrics, PrometheusConfig):
            await _telemetry.serve(self._telemetry.metrics.bind_address)


@dataclass
class TelemetryFilter:
    """Log levels for Core and for everything else (Stalwart has no Core; kept for
    compatibility)."""

    core_level: str
    other_level: str

    def formatted(self) -> str:
        """The filter as Core's filter string."""
        targets = ["temporalio_common", "temporalio_sdk_core", "temporalio_client",
                   "temporalio_sdk", "temporal_sdk_bridge"]
        return ",".join([self.other_level, *(f"{t}={self.core_level}" for t in targets)])


class LoggingFormat(Enum):
    """Format of Core's console logs (accepted; Stalwart logs through ``logging``)."""

    COMPACT = "compact"
    PRETTY = "pretty"
    JSON = "json"


@dataclass
class LogForwardingConfig:
    """Forwarding of Core's logs to a Python logger (accepted; Stalwart's logs are Python
    logs already, on loggers named ``stalwart.*``)."""

    logger: logging.Logger
    append_target_to_name: bool = True
    prepend_target_on_message: bool = True
    overwrite_log_record_time: bool = True
    append_log_fields_to_message: bool = True


@dataclass(frozen=True)
class LoggingConfig:
    """Core's logging (accepted; see ``LogForwardingConfig``)."""

    filter: TelemetryFilter | str
    forwarding: LogForwardingConfig | None = None
    format: LoggingFormat | None = None

    default: ClassVar[LoggingConfig]


LoggingConfig.default = LoggingConfig(filter=TelemetryFilter(core_level="WARN",
                                                             other_level="ERROR"))


def _start_otlp(runtime: Runtime, telemetry: TelemetryConfig, config: OpenTelemetryConfig
                ) -> Any:
    """A private buffer for the runtime, drained to the collector by the OTLP pipeline."""
    try:
        from .contrib.opentelemetry._otlp import OtlpMetricsPipeline
    except ImportError as error:
        raise ImportError(f"OpenTelemetryConfig needs the package {error.name!r}: "
                          "pip install 'stalwart[otlp]'") from error
    buffer = MetricBuffer(_OTLP_BUFFER_SIZE, MetricBufferDurationFormat.SECONDS
                          if config.durations_as_seconds else
                          MetricBufferDurationFormat.MILLISECONDS)
    buffer._attach(runtime, telemetry)
    return OtlpMetricsPipeline(config, buffer)


class OpenTelemetryMetricTemporality(Enum):
    CUMULATIVE = 1
    DELTA = 2


@dataclass(frozen=True)
class OpenTelemetryConfig:
    """Export the process's metrics to an OpenTelemetry collector over OTLP, every
    ``metric_periodicity`` (default 1 s): gRPC at ``url`` (``"http://localhost:4317"``), or
    HTTP/protobuf with ``http=True`` (``"http://localhost:4318/v1/metrics"``). Needs
    ``pip install 'stalwart[otlp]'``."""

    url: str
    headers: Mapping[str, str] | None = None
    metric_periodicity: timedelta | None = None
    metric_temporality: OpenTelemetryMetricTemporality = (
        OpenTelemetryMetricTemporality.CUMULATIVE)
    durations_as_seconds: bool = False
    http: bool = False
    histogram_bucket_overrides: Mapping[str, Sequence[float]] | None = None


@dataclass(frozen=True)
class PrometheusConfig:
    """Serve the process's metrics on ``http://<bind_address>/metrics``.

    Only ``bind_address`` changes anything: see the module docstring for the naming options.
    """

    bind_address: str
    counters_total_suffix: bool = False
    unit_suffix: bool = False
    durations_as_seconds: bool = False
    histogram_bucket_overrides: Mapping[str, Sequence[float]] | None = None


class MetricBufferDurationFormat(Enum):
    MILLISECONDS = 1
    """Durations are millisecond integers."""
    SECONDS = 2
    """Durations are second floats."""


class MetricBuffer:
    """Collects metric updates for ``retrieve_updates()`` to drain.

    Set it as ``TelemetryConfig(metrics=...)``; from the creation of that runtime on, every
    metric update in the process is appended. When ``buffer_size`` updates are waiting, later
    ones are dropped (and an error is logged) until the buffer is drained.
    """

    def __init__(self, buffer_size: int, duration_format: MetricBufferDurationFormat = (
            MetricBufferDurationFormat.MILLISECONDS)) -> None:
        if buffer_size <= 0:
            raise ValueError(f"MetricBuffer(buffer_size={buffer_size!r}) must be positive; "
                             "a value in the tens of thousands is reasonable")
        self._buffer_size = buffer_size
        self._durations_as_seconds = duration_format == MetricBufferDurationFormat.SECONDS
        self._runtime: Runtime | None = None
        self._sink: _telemetry.BufferSink | None = None

    def _attach(self, runtime: Runtime, telemetry: TelemetryConfig) -> None:
        from ._engine import metrics as engine_metrics

        if self._sink is not None:
            raise ValueError("this MetricBuffer already belongs to a Runtime; create one "
                             "buffer per runtime")
        self._runtime = runtime
        self._sink = _telemetry.BufferSink(self._buffer_size, self._durations_as_seconds,
                                           telemetry.global_tags, telemetry.metric_prefix)
        engine_metrics.sinks.add(self._sink)

    def _detach(self) -> None:
        """Stop receiving updates (the runtime's OTLP pipeline closing)."""
        from ._engine import metrics as engine_metrics

        if self._sink is not None:
            engine_metrics.sinks.discard(self._sink)

    def retrieve_updates(self) -> Sequence[BufferedMetricUpdate]:
        """Drain the buffer: every update since the last call, oldest first."""
        if self._sink is None:
            raise RuntimeError("Attempting to retrieve updates before runtime created")
        return self._sink.drain()


@dataclass(frozen=True)
class TelemetryConfig:
    """Telemetry of a runtime: where metrics go (see the module docstring)."""

    logging: LoggingConfig | None = LoggingConfig.default
    metrics: OpenTelemetryConfig | PrometheusConfig | MetricBuffer | None = None
    global_tags: Mapping[str, str] = field(default_factory=dict)
    """Attributes added to every buffered update and to ``Runtime.metric_meter``'s metrics."""
    attach_service_name: bool = True
    """Accepted; Stalwart's metrics carry no service name."""
    metric_prefix: str | None = None
    """Replaces ``stalwart_`` in buffered metric names."""


class BufferedMetric(Protocol):
    """A metric of buffered updates: the same object for every update of that metric."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str | None: ...

    @property
    def unit(self) -> str | None: ...

    @property
    def kind(self) -> BufferedMetricKind: ...


class BufferedMetricUpdate(Protocol):
    """One update: a counter's delta, a gauge's value or a histogram's observation."""

    @property
    def metric(self) -> BufferedMetric: ...

    @property
    def value(self) -> int | float: ...

    @property
    def attributes(self) -> MetricAttributes: ...


async def _use_runtime(runtime: Runtime | None) -> Runtime:
    """The runtime a client connected with ``runtime=`` uses, its servers started."""
    if runtime is not None and not isinstance(runtime, Runtime):
        raise TypeError(f"runtime={runtime!r} must be a stalwart.runtime.Runtime")
    chosen = runtime or Runtime.default()
    await chosen._use()
    return chosen
