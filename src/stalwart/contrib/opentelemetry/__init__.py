"""OpenTelemetry tracing for Stalwart (mirrors ``temporalio.contrib.opentelemetry``).

    from stalwart.contrib.opentelemetry import TracingInterceptor
    client = await Client.connect(url, interceptors=[TracingInterceptor()])

Spans: ``StartWorkflow:<type>`` on the client, ``RunWorkflow:<type>`` when a workflow starts
running (not again on replay), ``StartActivity:<name>`` when workflow code schedules an
activity, ``RunActivity:<name>`` around each attempt. The trace context travels in the
``_tracer-data`` header from client to workflow to activity, so one trace shows the whole run.
Requires ``opentelemetry-api`` (the ``opentelemetry`` extra).
"""

from ._interceptor import TracingInterceptor

__all__ = ["TracingInterceptor"]
