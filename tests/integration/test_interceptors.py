"""Interceptors: a tracing-style chain sees every call, and headers flow client → workflow →
activity (the way OpenTelemetry propagation plugs in)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stalwart import activity, workflow
from stalwart.client import (
    Client,
    OutboundInterceptor,
    StartWorkflowInput,
)
from stalwart.client import (
    Interceptor as ClientInterceptor,
)
from stalwart.common import RetryPolicy
from stalwart.converter import DataConverter
from stalwart.worker import (
    ActivityInboundInterceptor,
    ContinueAsNewInput,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleSignalInput,
    Interceptor,
    StartActivityInput,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

CONVERTER = DataConverter.default.payload_converter
CALLS: list[str] = []
SEEN_HEADERS: dict[str, Any] = {}


def trace_id(headers: Any) -> str | None:
    payload = headers.get("trace-id")
    return CONVERTER.from_payload(payload) if payload is not None else None


class TracingClientOutbound(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        CALLS.append(f"client.start_workflow {input.workflow}")
        input.headers["trace-id"] = CONVERTER.to_payload("trace-123")
        return await self.next.start_workflow(input)


class TracingWorkflowOutbound(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        if not workflow.unsafe.is_replaying():
            CALLS.append(f"workflow.start_activity {input.activity}")
        input.headers["trace-id"] = CONVERTER.to_payload(SEEN_HEADERS["workflow"])
        return self.next.start_activity(input)


class TracingWorkflowInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(TracingWorkflowOutbound(outbound))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        SEEN_HEADERS["workflow"] = trace_id(input.headers)
        if not workflow.unsafe.is_replaying():
            CALLS.append(f"workflow.execute {input.type.__name__}")
        return await self.next.execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        CALLS.append(f"workflow.signal {input.signal}")
        await self.next.handle_signal(input)


class TracingActivityInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        SEEN_HEADERS["activity"] = trace_id(input.headers)
        CALLS.append(f"activity.execute {activity.info().activity_type}")
        return await self.next.execute_activity(input)


class Tracing(ClientInterceptor, Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return TracingClientOutbound(next)

    def intercept_activity(self, next: ActivityInboundInterceptor
                           ) -> ActivityInboundInterceptor:
        return TracingActivityInbound(next)

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return TracingWorkflowInbound


@activity.defn
def shout(text: str) -> str:
    return text.upper()


@workflow.defn
class Traced:
    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self, text: str) -> str:
        await workflow.wait_condition(lambda: self.go)
        return await workflow.execute_activity(shout, text,
                                               start_to_close_timeout=timedelta(seconds=5))


async def test_interceptors_see_calls_and_carry_headers_to_the_activity(
        db_url: str, task_queue: str) -> None:
    CALLS.clear()
    SEEN_HEADERS.clear()
    client = await Client.connect(db_url, interceptors=[Tracing()])
    try:
        async with Worker(client, task_queue=task_queue, workflows=[Traced],
                          activities=[shout]):
            handle = await client.start_workflow(Traced.run, "hi", id="traced",
                                                 task_queue=task_queue)
            await handle.signal(Traced.proceed)
            assert await handle.result() == "HI"
    finally:
        await client.close()
    assert SEEN_HEADERS == {"workflow": "trace-123", "activity": "trace-123"}
    assert CALLS == ["client.start_workflow Traced", "workflow.execute Traced",
                     "workflow.signal proceed", "workflow.start_activity shout",
                     "activity.execute shout"]
    history = await _history(db_url)
    started = history[0].attributes
    assert "trace-id" in started["header"]["fields"]


async def _history(db_url: str) -> Any:
    client = await Client.connect(db_url)
    try:
        return (await client.get_workflow_handle("traced").fetch_history()).events
    finally:
        await client.close()


continue_inputs: list[dict[str, Any]] = []


class ContinueOutbound(WorkflowOutboundInterceptor):
    def continue_as_new(self, input: ContinueAsNewInput) -> Any:
        continue_inputs.append({
            "workflow": input.workflow, "args": list(input.args),
            "arg_types": input.arg_types, "run_timeout": input.run_timeout,
            "task_timeout": input.task_timeout, "memo": dict(input.memo or {}),
            "backoff": input.backoff_start_interval,
            "retry_attempts": input.retry_policy.maximum_attempts if input.retry_policy
            else None})
        # What an interceptor changes is what the next run gets.
        input.memo = {**(input.memo or {}), "stamped": "by interceptor"}
        return self.next.continue_as_new(input)


class ContinueInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(ContinueOutbound(outbound))


class ContinueWatcher(Interceptor):
    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return ContinueInbound


@workflow.defn
class Continues:
    @workflow.run
    async def run(self, runs_left: int) -> dict[str, Any]:
        if runs_left:
            workflow.continue_as_new(
                runs_left - 1, workflow=Continues.run, memo={"note": "carried"},
                run_timeout=timedelta(minutes=2), task_timeout=timedelta(seconds=20),
                backoff_start_interval=timedelta(milliseconds=10),
                retry_policy=RetryPolicy(maximum_attempts=3))
        info = workflow.info()
        return {"note": workflow.memo_value("note"), "stamped": workflow.memo_value("stamped"),
                "run_timeout": info.run_timeout.total_seconds() if info.run_timeout else None}


async def test_continue_as_new_input_carries_temporalios_fields_and_is_honoured(
        db_url: str, task_queue: str) -> None:
    continue_inputs.clear()
    client = await Client.connect(db_url)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[Continues],
                          interceptors=[ContinueWatcher()]):
            result = await client.execute_workflow(Continues.run, 1, id="continues",
                                                   task_queue=task_queue)
            history = await client.get_workflow_handle("continues").fetch_history()
    finally:
        await client.close()
    assert result == {"note": "carried", "stamped": "by interceptor",
                      "run_timeout": 120.0}
    assert continue_inputs == [{
        "workflow": "Continues", "args": [0], "arg_types": [int],
        "run_timeout": timedelta(minutes=2), "task_timeout": timedelta(seconds=20),
        "memo": {"note": "carried"}, "backoff": timedelta(milliseconds=10),
        "retry_attempts": 3}]
    started = history.events[0].attributes
    assert started["workflowRunTimeout"] == "120s"
    assert started["workflowTaskTimeout"] == "20s"
    # The next run's first workflow task waited backoff_start_interval.
    assert started["firstWorkflowTaskBackoff"] == "0.010s"
