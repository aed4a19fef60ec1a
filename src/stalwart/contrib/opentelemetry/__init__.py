"""OpenTelemetry tracing for Stalwart (mirrors ``temporalio.contrib.opentelemetry``).

Two forms, as in temporalio:

- ``TracingInterceptor`` (pass it to ``Client.connect(interceptors=...)``): spans
  ``StartWorkflow:<type>`` on the client, ``RunWorkflow:<type>`` when a workflow starts
  running (not again on replay), ``StartActivity:<name>`` when workflow code schedules an
  activity, ``RunActivity:<name>`` around each attempt.
- ``OpenTelemetryPlugin`` (``Client.connect(plugins=[OpenTelemetryPlugin()])``) with
  ``opentelemetry.trace.set_tracer_provider(create_tracer_provider())``: the trace context
  travels with every call, so spans made with ``opentelemetry.trace.get_tracer()`` inside
  workflow code, handlers and activities join the caller's trace; workflow spans have
  deterministic ids and are exported once, not again on replay. ``add_temporal_spans=True``
  adds Temporal's spans for each call as well.

``MetricsExporter`` drains a ``stalwart.runtime.MetricBuffer`` (Stalwart's metrics and those of
``MetricMeter``s) into an OpenTelemetry meter provider.

``ReplaySafeLoggerProvider`` and ``ReplaySafeMeterProvider`` wrap OpenTelemetry providers so
that logs and metrics emitted from workflow code are not emitted again when it replays.

The trace context travels in the ``_tracer-data`` header from client to workflow to
activity. Requires ``opentelemetry-sdk`` (the ``opentelemetry`` extra).
"""

from ._interceptor import TracingInterceptor
from ._interceptor import _WorkflowInbound as TracingWorkflowInboundInterceptor
from ._metrics_exporter import MetricsExporter
from ._otel_interceptor import OpenTelemetryInterceptor
from ._plugin import OpenTelemetryPlugin
from ._replay_safe import ReplaySafeLoggerProvider, ReplaySafeMeterProvider
from ._tracer_provider import ReplaySafeTracerProvider, create_tracer_provider

__all__ = [
    "MetricsExporter",
    "OpenTelemetryInterceptor",
    "OpenTelemetryPlugin",
    "ReplaySafeLoggerProvider",
    "ReplaySafeMeterProvider",
    "ReplaySafeTracerProvider",
    "TracingInterceptor",
    "TracingWorkflowInboundInterceptor",
    "create_tracer_provider",
]
