"""Headers a client interceptor sets on a signal reach the worker's signal interceptor (kept
in the WorkflowExecutionSignaled event's ``header``, as in Temporal)."""

from __future__ import annotations

from typing import Any

from stalwart import workflow
from stalwart.client import Client, OutboundInterceptor, SignalWorkflowInput
from stalwart.client import Interceptor as ClientInterceptor
from stalwart.converter import DataConverter
from stalwart.worker import (
    HandleSignalInput,
    Interceptor,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

SEEN: list[Any] = []
_pc = DataConverter.default.payload_converter


class _Outbound(OutboundInterceptor):
    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        input.headers = {**input.headers, "tenant": _pc.to_payload("acme")}
        await self.next.signal_workflow(input)


class _Inbound(WorkflowInboundInterceptor):
    async def handle_signal(self, input: HandleSignalInput) -> None:
        header = input.headers.get("tenant")
        SEEN.append(None if header is None else _pc.from_payload(header))
        await self.next.handle_signal(input)


class Both(ClientInterceptor, Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Outbound(next)

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return _Inbound


@workflow.defn
class WaitsForSignal:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.done)
        return "ok"

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def test_signal_headers_reach_the_workflow(db_url: str, task_queue: str) -> None:
    SEEN.clear()
    client = await Client.connect(db_url, interceptors=[Both()])
    try:
        async with Worker(client, task_queue=task_queue, workflows=[WaitsForSignal]):
            handle = await client.start_workflow(WaitsForSignal.run, id="sig-headers",
                                                 task_queue=task_queue)
            await handle.signal(WaitsForSignal.finish)
            assert await handle.result() == "ok"
        history = await handle.fetch_history()
    finally:
        await client.close()
    assert SEEN == ["acme"]
    signaled = [e for e in history.events if "signal" in str(e.event_type).lower()]
    assert "tenant" in signaled[0].attributes["header"]["fields"]  # Temporal's history form
