"""``OpenTelemetryInterceptor``: carries the caller's trace context into workflows and
activities, so spans made there with ``opentelemetry.trace.get_tracer()`` join the caller's
trace; with ``add_temporal_spans`` it also adds one span per client call, workflow run,
handler and activity attempt (Temporal's span names).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import Token
from typing import Any, NoReturn

import opentelemetry.context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode

from ... import activity, workflow
from ...client import Interceptor as ClientInterceptor
from ...client import (
    OutboundInterceptor,
    QueryWorkflowInput,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    StartWorkflowUpdateWithStartInput,
)
from ...converter import DataConverter, Payload
from ...exceptions import ApplicationError, ApplicationErrorCategory
from ...worker import (
    ActivityInboundInterceptor,
    ContinueAsNewInput,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleQueryInput,
    HandleSignalInput,
    HandleUpdateInput,
    Interceptor,
    SignalChildWorkflowInput,
    SignalExternalWorkflowInput,
    StartActivityInput,
    StartChildWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from ._tracer_provider import ReplaySafeTracerProvider

HEADER = "_tracer-data"
_converter = DataConverter.default.payload_converter
_TRACER_NAME = "stalwart.contrib.opentelemetry"


def _with_context(headers: Mapping[str, Payload]) -> dict[str, Payload]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    out = dict(headers)
    if carrier:
        out[HEADER] = _converter.to_payload(carrier)
    return out


def _context_of(headers: Mapping[str, Payload]) -> Context:
    payload = headers.get(HEADER)
    if payload is None:
        return Context()
    return propagate.extract(_converter.from_payload(payload, dict))


@contextmanager
def _attached(context: Context) -> Iterator[None]:
    token: Token[Context] = opentelemetry.context.attach(context)
    try:
        yield
    finally:
        # A workflow coroutine may resume in another contextvars.Context; resetting a token
        # from another one raises, and there is nothing to undo there.
        if opentelemetry.context.get_current() is context:
            try:
                token.var.reset(token)
            except ValueError:
                pass


@contextmanager
def _maybe_span(enabled: bool, name: str, attributes: Mapping[str, Any], kind: SpanKind,
                context: Context | None = None) -> Iterator[None]:
    if not enabled:
        yield
        return
    tracer = trace.get_tracer(_TRACER_NAME)
    with tracer.start_as_current_span(name, context=context, attributes=dict(attributes),
                                      kind=kind, set_status_on_exception=False) as span:
        try:
            yield
        except Exception as error:
            benign = (isinstance(error, ApplicationError)
                      and error.category == ApplicationErrorCategory.BENIGN)
            if not benign:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise


class OpenTelemetryInterceptor(ClientInterceptor, Interceptor):
    """Propagates OpenTelemetry context through client calls, workflows and activities.

    Pass it to ``Client.connect(interceptors=...)`` (client and workers) or to a ``Worker``
    only. Workflows need the global tracer provider to be a :class:`ReplaySafeTracerProvider`
    (see :func:`create_tracer_provider`), so that their spans survive replay unchanged.
    """

    def __init__(self, add_temporal_spans: bool = False) -> None:
        self._add_temporal_spans = add_temporal_spans

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _ClientOutbound(next, self._add_temporal_spans)

    def intercept_activity(self, next: ActivityInboundInterceptor
                           ) -> ActivityInboundInterceptor:
        return _ActivityInbound(next, self._add_temporal_spans)

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        provider = trace.get_tracer_provider()
        if not isinstance(provider, ReplaySafeTracerProvider):
            raise ValueError(
                "OpenTelemetryInterceptor needs the global tracer provider to be a "
                f"ReplaySafeTracerProvider, got {type(provider).__name__}; call "
                "opentelemetry.trace.set_tracer_provider(create_tracer_provider()) first")
        add = self._add_temporal_spans

        class _Inbound(_WorkflowInbound):
            _add_temporal_spans = add

        return _Inbound


class _ClientOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, add_temporal_spans: bool) -> None:
        super().__init__(next)
        self._add = add_temporal_spans

    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        prefix = "SignalWithStartWorkflow" if input.start_signal else "StartWorkflow"
        with _maybe_span(self._add, f"{prefix}:{input.workflow}",
                         {"temporalWorkflowID": input.id}, SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return await self.next.start_workflow(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        with _maybe_span(self._add, f"QueryWorkflow:{input.query}",
                         {"temporalWorkflowID": input.id}, SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return await self.next.query_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        with _maybe_span(self._add, f"SignalWorkflow:{input.signal}",
                         {"temporalWorkflowID": input.id}, SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            await self.next.signal_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        with _maybe_span(self._add, f"StartWorkflowUpdate:{input.update}",
                         {"temporalWorkflowID": input.id}, SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return await self.next.start_workflow_update(input)

    async def start_update_with_start_workflow(
            self, input: StartWorkflowUpdateWithStartInput) -> Any:
        start, update = input.start_workflow_input, input.update_workflow_input
        attributes = {"temporalWorkflowID": start.id}
        if update.update_id is not None:
            attributes["temporalUpdateID"] = update.update_id
        with _maybe_span(self._add, f"StartUpdateWithStartWorkflow:{start.workflow}",
                         attributes, SpanKind.CLIENT):
            start.headers = _with_context(start.headers)
            update.headers = _with_context(update.headers)
            return await self.next.start_update_with_start_workflow(input)


class _ActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, add_temporal_spans: bool) -> None:
        super().__init__(next)
        self._add = add_temporal_spans

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        with _attached(_context_of(input.headers)):
            info = activity.info()
            with _maybe_span(self._add, f"RunActivity:{info.activity_type}",
                             {"temporalWorkflowID": info.workflow_id or "",
                              "temporalRunID": info.workflow_run_id or "",
                              "temporalActivityID": info.activity_id}, SpanKind.SERVER):
                return await self.next.execute_activity(input)


def _workflow_attributes() -> dict[str, Any]:
    info = workflow.info()
    return {"temporalWorkflowID": info.workflow_id, "temporalRunID": info.run_id}


class _WorkflowInbound(WorkflowInboundInterceptor):
    _add_temporal_spans: bool = False

    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound, self._add_temporal_spans))

    @contextmanager
    def _top_level(self, headers: Mapping[str, Payload], name: str) -> Iterator[None]:
        with _attached(_context_of(headers)), _maybe_span(
                self._add_temporal_spans, name, _workflow_attributes(), SpanKind.SERVER):
            yield

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        with self._top_level(input.headers, f"RunWorkflow:{workflow.info().workflow_type}"):
            return await self.next.execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        with self._top_level(input.headers, f"HandleSignal:{input.signal}"):
            await self.next.handle_signal(input)

    async def handle_query(self, input: HandleQueryInput) -> Any:
        with self._top_level(input.headers, f"HandleQuery:{input.query}"):
            return await self.next.handle_query(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        with self._top_level(input.headers, f"ValidateUpdate:{input.update}"):
            self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        with self._top_level(input.headers, f"HandleUpdate:{input.update}"):
            return await self.next.handle_update_handler(input)


class _WorkflowOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, add_temporal_spans: bool) -> None:
        super().__init__(next)
        self._add = add_temporal_spans

    def _span(self, name: str, kind: SpanKind) -> Any:
        return _maybe_span(self._add, name, _workflow_attributes(), kind)

    def continue_as_new(self, input: ContinueAsNewInput) -> NoReturn:
        input.headers = _with_context(input.headers)
        self.next.continue_as_new(input)

    async def signal_child_workflow(self, input: SignalChildWorkflowInput) -> None:
        with self._span(f"SignalChildWorkflow:{input.signal}", SpanKind.SERVER):
            input.headers = _with_context(input.headers)
            await self.next.signal_child_workflow(input)

    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        with self._span(f"SignalExternalWorkflow:{input.signal}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            await self.next.signal_external_workflow(input)

    def start_activity(self, input: StartActivityInput) -> Any:
        with self._span(f"StartActivity:{input.activity}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return self.next.start_activity(input)

    def start_local_activity(self, input: StartActivityInput) -> Any:
        with self._span(f"StartActivity:{input.activity}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return self.next.start_local_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:
        with self._span(f"StartChildWorkflow:{input.workflow}", SpanKind.CLIENT):
            input.headers = _with_context(input.headers)
            return await self.next.start_child_workflow(input)
