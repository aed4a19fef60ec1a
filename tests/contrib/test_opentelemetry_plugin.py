"""OpenTelemetryPlugin: spans made with the global tracer inside workflow code, handlers and
activities join the caller's trace, and workflow spans survive replay unchanged."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.contrib.opentelemetry import (
    OpenTelemetryInterceptor,
    OpenTelemetryPlugin,
    ReplaySafeTracerProvider,
    create_tracer_provider,
)
from stalwart.worker import Worker

EXPORTER = InMemorySpanExporter()


def _global_provider() -> ReplaySafeTracerProvider:
    # The global provider can be set once per process; share one across this module's tests.
    current = trace.get_tracer_provider()
    if not isinstance(current, ReplaySafeTracerProvider):
        provider = create_tracer_provider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
        current = trace.get_tracer_provider()
    assert isinstance(current, ReplaySafeTracerProvider)
    return current


@activity.defn
async def otel_step(text: str) -> str:
    with trace.get_tracer("app").start_as_current_span("activity-work"):
        return text.upper()


@workflow.defn
class OtelWorkflow:
    def __init__(self) -> None:
        self.go = False

    @workflow.run
    async def run(self, text: str) -> str:
        with trace.get_tracer("app").start_as_current_span("before-signal"):
            first = await workflow.execute_activity(
                otel_step, text, start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.go)
        with trace.get_tracer("app").start_as_current_span("after-signal"):
            return first + await workflow.execute_activity(
                otel_step, "!", start_to_close_timeout=timedelta(seconds=30))

    @workflow.signal
    def proceed(self) -> None:
        with trace.get_tracer("app").start_as_current_span("in-signal"):
            self.go = True


async def _wait_for(condition: object, what: str) -> None:
    for _ in range(600):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


async def test_plugin_spans_join_one_trace_and_survive_replay(
        db_url: str, task_queue: str) -> None:
    _global_provider()
    EXPORTER.clear()
    client = await Client.connect(db_url, plugins=[OpenTelemetryPlugin(add_temporal_spans=True)])
    try:
        with trace.get_tracer("test").start_as_current_span("caller"):
            async with Worker(client, task_queue=task_queue, workflows=[OtelWorkflow],
                              activities=[otel_step]):
                handle = await client.start_workflow(OtelWorkflow.run, "ab", id="otel-wf",
                                                     task_queue=task_queue)
                await _wait_for(lambda: any(s.name == "before-signal"
                                            for s in EXPORTER.get_finished_spans()),
                                "the first activity")
            # A fresh worker has no cached run: it replays the history before the signal.
            async with Worker(client, task_queue=task_queue, workflows=[OtelWorkflow],
                              activities=[otel_step]):
                await handle.signal(OtelWorkflow.proceed)
                assert await handle.result() == "AB!"
    finally:
        await client.close()
    spans = _by_name(EXPORTER.get_finished_spans())
    # Exported once each, although the second worker replayed the first part.
    assert len(spans["before-signal"]) == 1
    assert len(spans["after-signal"]) == 1
    assert len(spans["in-signal"]) == 1
    assert len(spans["activity-work"]) == 2
    # The run's span was open when the first worker evicted the run: not ended there, it is
    # ended once, by the worker that replayed and finished the run, with the same id.
    assert len(spans["RunWorkflow:OtelWorkflow"]) == 1
    assert len(spans["RunActivity:otel_step"]) == 2
    for name in ("StartWorkflow:OtelWorkflow", "SignalWorkflow:proceed",
                 "RunWorkflow:OtelWorkflow", "HandleSignal:proceed", "StartActivity:otel_step"):
        assert name in spans, sorted(spans)
    caller = spans["caller"][0]
    everything = [s for group in spans.values() for s in group]
    assert {s.context.trace_id for s in everything} == {caller.context.trace_id}, [
        (s.name, s.context.trace_id == caller.context.trace_id) for s in everything
        if s.context.trace_id != caller.context.trace_id]
    start = spans["StartWorkflow:OtelWorkflow"][0]
    assert start.parent is not None and start.parent.span_id == caller.context.span_id
    before = spans["before-signal"][0]
    run_workflows = {s.context.span_id for s in spans["RunWorkflow:OtelWorkflow"]}
    assert before.parent is not None and before.parent.span_id in run_workflows
    # The activity's own span hangs under the attempt, which hangs under the schedule.
    work_parents = {s.parent.span_id for s in spans["activity-work"] if s.parent}
    assert work_parents == {s.context.span_id for s in spans["RunActivity:otel_step"]}
    starts = {s.context.span_id for s in spans["StartActivity:otel_step"]}
    assert {s.parent.span_id for s in spans["RunActivity:otel_step"] if s.parent} <= starts
    signal_span = spans["in-signal"][0]
    handle_signal = spans["HandleSignal:proceed"][0]
    assert signal_span.parent is not None
    assert signal_span.parent.span_id == handle_signal.context.span_id


async def test_without_temporal_spans_only_user_spans_are_made(
        db_url: str, task_queue: str) -> None:
    _global_provider()
    EXPORTER.clear()
    client = await Client.connect(db_url, plugins=[OpenTelemetryPlugin()])
    try:
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            async with Worker(client, task_queue=task_queue, workflows=[OtelWorkflow],
                              activities=[otel_step]):
                handle = await client.start_workflow(OtelWorkflow.run, "x", id="otel-plain",
                                                     task_queue=task_queue)
                await handle.signal(OtelWorkflow.proceed)
                assert await handle.result() == "X!"
    finally:
        await client.close()
    spans = _by_name(EXPORTER.get_finished_spans())
    assert set(spans) == {"caller", "before-signal", "after-signal", "in-signal",
                          "activity-work"}
    caller_id = caller.get_span_context().span_id
    # With no Temporal spans in between, user spans hang directly under the caller's span.
    for name in ("before-signal", "in-signal"):
        parent = spans[name][0].parent
        assert parent is not None and parent.span_id == caller_id


def test_workflow_interception_needs_a_replay_safe_provider() -> None:
    _global_provider()
    interceptor = OpenTelemetryInterceptor()
    original = trace.get_tracer_provider()
    assert isinstance(original, ReplaySafeTracerProvider)
    # Any other provider is refused with the fix named.
    with pytest.raises(ValueError, match="create_tracer_provider"):
        from opentelemetry.sdk.trace import TracerProvider
        ReplaySafeTracerProvider(TracerProvider(), original.id_generator())
    assert interceptor.workflow_interceptor_class(None) is not None  # type: ignore[arg-type]
