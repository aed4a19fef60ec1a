"""``OpenTelemetryPlugin``: the interceptor as a plugin for clients and workers."""

from __future__ import annotations

from ...plugin import SimplePlugin
from ._otel_interceptor import OpenTelemetryInterceptor


class OpenTelemetryPlugin(SimplePlugin):
    """Adds an :class:`OpenTelemetryInterceptor` to the client (and so its workers) or to
    one worker. Set ``create_tracer_provider()`` as the global tracer provider first; then
    ``opentelemetry.trace.get_tracer(...)`` works inside workflow code too.

    Args:
        add_temporal_spans: Also add Temporal's spans (``StartWorkflow:<type>``,
            ``RunWorkflow:<type>``, ``StartActivity:<name>``, ``RunActivity:<name>``, ...).
    """

    def __init__(self, *, add_temporal_spans: bool = False) -> None:
        super().__init__("OpenTelemetryPlugin",
                         interceptors=[OpenTelemetryInterceptor(add_temporal_spans)])
