"""A tracer provider that workflow code can use directly, replay after replay.

Inside a workflow, span and trace ids come from the run's deterministic randomness (so a
span begun before a worker restart keeps its id when the code replays), spans begun while
replaying take the workflow's clock as their start, and spans are ended, hence exported, only
when the code runs for the first time. Outside workflows it is an ordinary SDK provider.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import Token
from typing import Any

import opentelemetry.sdk.trace as trace_sdk
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    SpanLimits,
    SynchronousMultiSpanProcessor,
    sampling,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.trace import (
    INVALID_SPAN_ID,
    INVALID_TRACE_ID,
    Link,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
    TracerProvider,
    set_span_in_context,
)
from opentelemetry.util import types
from opentelemetry.util._decorator import _agnosticcontextmanager

from ... import workflow

_RANDOM_ATTR = "__stalwart_otel_id_random"


def _replaying() -> bool:
    return workflow.in_workflow() and workflow.unsafe.is_replaying()


@contextmanager
def _telemetry_io() -> Iterator[None]:
    """Span bookkeeping reads the wall clock; it is telemetry, not workflow state."""
    if workflow.in_workflow():
        with workflow.unsafe.sandbox_unrestricted():
            yield
    else:
        yield


def _workflow_random() -> random.Random | None:
    if not workflow.in_workflow():
        return None
    instance = workflow.instance()
    generator = getattr(instance, _RANDOM_ATTR, None)
    if generator is None:
        generator = workflow.new_random()
        setattr(instance, _RANDOM_ATTR, generator)
    return generator


class TemporalIdGenerator(IdGenerator):
    """Ids from the run's deterministic randomness inside workflows, else from ``id_generator``."""

    def __init__(self, id_generator: IdGenerator) -> None:
        self._id_generator = id_generator

    def generate_span_id(self) -> int:
        rng = _workflow_random()
        if rng is None:
            return self._id_generator.generate_span_id()
        span_id = rng.getrandbits(64)
        while span_id == INVALID_SPAN_ID:
            span_id = rng.getrandbits(64)
        return span_id

    def generate_trace_id(self) -> int:
        rng = _workflow_random()
        if rng is None:
            return self._id_generator.generate_trace_id()
        trace_id = rng.getrandbits(128)
        while trace_id == INVALID_TRACE_ID:
            trace_id = rng.getrandbits(128)
        return trace_id


class _ReplaySafeSpan(Span):
    def __init__(self, span: Span) -> None:
        self._span = span
        self._exception: BaseException | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._span, name)

    def end(self, end_time: int | None = None) -> None:
        if _replaying():
            return  # already exported when this code first ran
        if (workflow.in_workflow() and self._exception is not None
                and not workflow.is_failure_exception(self._exception)):
            # A task failure is retried from the top; ending here would export one span per try.
            return
        with _telemetry_io():
            self._span.end(end_time=end_time)

    def get_span_context(self) -> SpanContext:
        return self._span.get_span_context()

    def set_attributes(self, attributes: Mapping[str, types.AttributeValue]) -> None:
        self._span.set_attributes(attributes)

    def set_attribute(self, key: str, value: types.AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def add_event(self, name: str, attributes: types.Attributes = None,
                  timestamp: int | None = None) -> None:
        with _telemetry_io():
            self._span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        self._span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._span.set_status(status, description)

    def record_exception(self, exception: BaseException, attributes: types.Attributes = None,
                         timestamp: int | None = None, escaped: bool = False) -> None:
        self._exception = exception
        with _telemetry_io():
            self._span.record_exception(exception, attributes, timestamp, escaped)


class _ReplaySafeTracer(Tracer):
    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Context | None = None,
                   kind: SpanKind = SpanKind.INTERNAL, attributes: types.Attributes = None,
                   links: Sequence[Link] | None = None, start_time: int | None = None,
                   record_exception: bool = True, set_status_on_exception: bool = True,
                   ) -> Span:
        if _replaying():
            start_time = start_time or workflow.time_ns()
        with _telemetry_io():
            span = self._tracer.start_span(name, context, kind, attributes, links, start_time,
                                           record_exception, set_status_on_exception)
        return _ReplaySafeSpan(span)

    @_agnosticcontextmanager
    def start_as_current_span(self, name: str, context: Context | None = None,
                              kind: SpanKind = SpanKind.INTERNAL,
                              attributes: types.Attributes = None,
                              links: Sequence[Link] | None = None,
                              start_time: int | None = None, record_exception: bool = True,
                              set_status_on_exception: bool = True, end_on_exit: bool = True,
                              ) -> Iterator[Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time,
                               record_exception, set_status_on_exception)
        token = otel_context.attach(set_span_in_context(span))
        try:
            yield span
        except GeneratorExit:
            # The worker evicted the run (its coroutine is being closed): the span goes on
            # when the run is replayed, so it must not end (and be exported) here.
            end_on_exit = False
            raise
        except Exception as error:
            if record_exception:
                span.record_exception(error)
            if set_status_on_exception:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise
        finally:
            _detach(token)
            if end_on_exit:
                span.end()


def _detach(token: Token[Context]) -> None:
    """Undo an attach; a closed workflow coroutine may run this in another
    ``contextvars.Context``, where there is nothing to undo."""
    try:
        token.var.reset(token)
    except ValueError:
        pass


class ReplaySafeTracerProvider(TracerProvider):
    """Wraps an SDK ``TracerProvider`` whose id generator is a :class:`TemporalIdGenerator`;
    build one with :func:`create_tracer_provider`."""

    def __init__(self, tracer_provider: trace_sdk.TracerProvider,
                 id_generator: TemporalIdGenerator) -> None:
        if not isinstance(tracer_provider.id_generator, TemporalIdGenerator):
            raise ValueError(
                "ReplaySafeTracerProvider needs a TracerProvider whose id_generator is a "
                f"TemporalIdGenerator (got {type(tracer_provider.id_generator).__name__}); "
                "build it with create_tracer_provider()")
        self._tracer_provider = tracer_provider
        self._id_generator = id_generator

    def add_span_processor(self, span_processor: trace_sdk.SpanProcessor) -> None:
        self._tracer_provider.add_span_processor(span_processor)

    def shutdown(self) -> None:
        self._tracer_provider.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._tracer_provider.force_flush(timeout_millis)

    def get_tracer(self, instrumenting_module_name: str,
                   instrumenting_library_version: str | None = None,
                   schema_url: str | None = None,
                   attributes: types.Attributes | None = None) -> Tracer:
        return _ReplaySafeTracer(self._tracer_provider.get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes))

    def id_generator(self) -> TemporalIdGenerator:
        return self._id_generator


def create_tracer_provider(
    sampler: sampling.Sampler | None = None,
    resource: Resource | None = None,
    shutdown_on_exit: bool = True,
    active_span_processor: SynchronousMultiSpanProcessor | ConcurrentMultiSpanProcessor
    | None = None,
    id_generator: IdGenerator | None = None,
    span_limits: SpanLimits | None = None,
) -> ReplaySafeTracerProvider:
    """An SDK ``TracerProvider`` with deterministic ids in workflows, wrapped replay-safe.

    Set it as the global provider (``opentelemetry.trace.set_tracer_provider``) before
    starting workers that use :class:`OpenTelemetryPlugin`.
    """
    generator = TemporalIdGenerator(id_generator or RandomIdGenerator())
    provider = trace_sdk.TracerProvider(
        sampler=sampler, resource=resource, shutdown_on_exit=shutdown_on_exit,
        active_span_processor=active_span_processor, id_generator=generator,
        span_limits=span_limits)
    return ReplaySafeTracerProvider(provider, generator)
