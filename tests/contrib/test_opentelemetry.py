"""Tracing: one trace spans client start, workflow run and activity attempts."""

from __future__ import annotations

from datetime import timedelta

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.contrib.opentelemetry import TracingInterceptor
from stalwart.worker import Worker

ATTEMPTS: list[int] = []


@activity.defn
async def traced_step(text: str) -> str:
    ATTEMPTS.append(activity.info().attempt)
    if len(ATTEMPTS) == 1:
        raise RuntimeError("retry me")
    return text * 2


@workflow.defn
class TracedWorkflow:
    @workflow.run
    async def run(self, text: str) -> str:
        return await workflow.execute_activity(
            traced_step, text, start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=10)))


async def test_tracing_interceptor_links_client_workflow_and_activity_spans(
        db_url: str, task_queue: str) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    ATTEMPTS.clear()
    client = await Client.connect(db_url, interceptors=[TracingInterceptor(tracer)])
    try:
        async with Worker(client, task_queue=task_queue, workflows=[TracedWorkflow],
                          activities=[traced_step]):
            assert await client.execute_workflow(TracedWorkflow.run, "ab", id="traced",
                                                 task_queue=task_queue) == "abab"
    finally:
        await client.close()
    spans = {span.name: span for span in exporter.get_finished_spans()}
    names = [span.name for span in exporter.get_finished_spans()]
    assert names.count("RunActivity:traced_step") == 2
    assert {"StartWorkflow:TracedWorkflow", "RunWorkflow:TracedWorkflow",
            "StartActivity:traced_step"} <= set(spans)
    trace_ids = {span.context.trace_id for span in exporter.get_finished_spans()}
    assert len(trace_ids) == 1, names
    run_workflow = spans["RunWorkflow:TracedWorkflow"]
    assert run_workflow.parent.span_id == spans["StartWorkflow:TracedWorkflow"].context.span_id
    assert spans["StartActivity:traced_step"].parent.span_id == run_workflow.context.span_id
    assert spans["RunActivity:traced_step"].parent.span_id == \
        spans["StartActivity:traced_step"].context.span_id
