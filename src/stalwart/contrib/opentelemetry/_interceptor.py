"""The tracing interceptor: spans around client, workflow and activity calls."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from ... import activity, workflow
from ...client import Interceptor as ClientInterceptor
from ...client import OutboundInterceptor, StartWorkflowInput
from ...converter import DataConverter, Payload
from ...worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    StartActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

HEADER = "_tracer-data"
_converter = DataConverter.default.payload_converter


def _inject(headers: dict[str, Payload]) -> None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if carrier:
        headers[HEADER] = _converter.to_payload(carrier)


def _extract(headers: Mapping[str, Payload]) -> otel_context.Context | None:
    payload = headers.get(HEADER)
    if payload is None:
        return None
    carrier = _converter.from_payload(payload, dict)
    return propagate.extract(carrier)


class TracingInterceptor(ClientInterceptor, Interceptor):
    """Creates spans and propagates the trace context; pass it to ``Client.connect``."""

    def __init__(self, tracer: trace.Tracer | None = None) -> None:
        self.tracer = tracer or trace.get_tracer("stalwart")

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _ClientOutbound(next, self.tracer)

    def intercept_activity(self, next: ActivityInboundInterceptor
                           ) -> ActivityInboundInterceptor:
        return _ActivityInbound(next, self.tracer)

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        tracer = self.tracer

        class _Inbound(_WorkflowInbound):
            _tracer = tracer

        return _Inbound


class _ClientOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, tracer: trace.Tracer) -> None:
        super().__init__(next)
        self._tracer = tracer

    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        with self._tracer.start_as_current_span(
                f"StartWorkflow:{input.workflow}",
                attributes={"stalwart.workflow_id": input.id}):
            _inject(input.headers)
            return await self.next.start_workflow(input)


class _ActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, tracer: trace.Tracer) -> None:
        super().__init__(next)
        self._tracer = tracer

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        parent = _extract(input.headers)
        with self._tracer.start_as_current_span(
                f"RunActivity:{info.activity_type}", context=parent,
                attributes={"stalwart.workflow_id": info.workflow_id,
                            "stalwart.activity_id": info.activity_id,
                            "stalwart.attempt": info.attempt}):
            return await self.next.execute_activity(input)


class _WorkflowInbound(WorkflowInboundInterceptor):
    _tracer: trace.Tracer

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound, self))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        self.trace_context = _extract(input.headers)
        if not workflow.unsafe.is_replaying():
            # Spans read the wall clock; they are telemetry, not workflow state, and are
            # emitted only the first time the code runs.
            with workflow.unsafe.sandbox_unrestricted():
                info = workflow.info()
                span = self._tracer.start_span(
                    f"RunWorkflow:{info.workflow_type}", context=self.trace_context,
                    attributes={"stalwart.workflow_id": info.workflow_id,
                                "stalwart.run_id": info.run_id})
                span.end()
                self.trace_context = trace.set_span_in_context(span, self.trace_context)
        return await self.next.execute_workflow(input)


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, inbound: _WorkflowInbound) -> None:
        super().__init__(next)
        self._inbound = inbound

    def start_activity(self, input: StartActivityInput) -> Any:
        parent = getattr(self._inbound, "trace_context", None)
        if workflow.unsafe.is_replaying():
            token = otel_context.attach(parent) if parent is not None else None
            try:
                _inject(input.headers)
            finally:
                if token is not None:
                    otel_context.detach(token)
            return self.next.start_activity(input)
        with workflow.unsafe.sandbox_unrestricted():
            span = self._inbound._tracer.start_span(f"StartActivity:{input.activity}",
                                                    context=parent)
            token = otel_context.attach(trace.set_span_in_context(span, parent))
            try:
                _inject(input.headers)
            finally:
                otel_context.detach(token)
                span.end()
        return self.next.start_activity(input)
