"""temporalio's option objects and refusals: configs round-trip, tuners become concurrency
limits, an unanswered query is an RPCError, and cron_schedule is refused, not ignored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stalwart import workflow
from stalwart.client import (
    Client,
    CountWorkflowsInput,
    CreateScheduleInput,
    DeleteScheduleInput,
    DescribeScheduleInput,
    Interceptor,
    ListWorkflowsInput,
    OutboundInterceptor,
    PauseScheduleInput,
    RPCError,
    RPCStatusCode,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleSpec,
    WorkflowExecutionAsyncIterator,
    WorkflowExecutionCount,
    WorkflowQueryFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
    WorkflowUpdateStage,
)
from stalwart.worker import (
    FixedSizeSlotSupplier,
    ResourceBasedSlotConfig,
    ResourceBasedSlotSupplier,
    ResourceBasedTunerConfig,
    SignalChildWorkflowInput,
    UnsandboxedWorkflowRunner,
    Worker,
    WorkerTuner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from stalwart.worker import Interceptor as WorkerInterceptor


@workflow.defn
class Waits:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.query
    def ping(self) -> str:
        return "pong"


async def test_client_config_makes_an_equivalent_client(client: Client) -> None:
    config = client.config()
    other = Client(**config)
    assert other.store is client.store and other.namespace == client.namespace
    assert other.data_converter is client.data_converter


async def test_worker_config_and_tuner(client: Client, task_queue: str) -> None:
    tuner = WorkerTuner.create_fixed(workflow_slots=3, activity_slots=7)
    worker = Worker(client, task_queue=task_queue, workflows=[Waits], tuner=tuner,
                    workflow_runner=UnsandboxedWorkflowRunner(),
                    max_concurrent_workflow_task_polls=2)
    assert worker._workflow_worker.max_concurrent == 3
    assert worker._activity_worker.max_concurrent == 7
    config = worker.config()
    assert config["tuner"] is tuner and config["task_queue"] == task_queue
    assert config["max_concurrent_workflow_task_polls"] == 2  # type: ignore[typeddict-item]
    again = Worker(**config)
    assert again.task_queue == task_queue
    composite = WorkerTuner.create_composite(
        workflow_supplier=FixedSizeSlotSupplier(2),
        activity_supplier=ResourceBasedSlotSupplier(
            ResourceBasedSlotConfig(maximum_slots=9), ResourceBasedTunerConfig(0.8, 0.9)),
        local_activity_supplier=FixedSizeSlotSupplier(1))
    worker = Worker(client, task_queue=task_queue, workflows=[Waits], tuner=composite,
                    workflow_runner=UnsandboxedWorkflowRunner())
    assert worker._activity_worker.max_concurrent == 9
    with pytest.raises(ValueError, match="num_slots"):
        Worker(client, task_queue=task_queue, workflows=[Waits],
               tuner=WorkerTuner.create_composite(
                   workflow_supplier=FixedSizeSlotSupplier(0),
                   activity_supplier=FixedSizeSlotSupplier(1),
                   local_activity_supplier=FixedSizeSlotSupplier(1)))


async def test_unanswered_query_is_an_rpc_deadline_error(client: Client,
                                                         task_queue: str) -> None:
    handle = await client.start_workflow(Waits.run, id="nobody-polls", task_queue=task_queue)
    with pytest.raises(RPCError) as raised:
        await handle.query(Waits.ping, rpc_timeout=timedelta(milliseconds=200))
    assert raised.value.status == RPCStatusCode.DEADLINE_EXCEEDED
    assert isinstance(raised.value, WorkflowQueryFailedError)


class CountsCalls(Interceptor):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        calls = self.calls

        class Outbound(OutboundInterceptor):
            def list_workflows(self, input: ListWorkflowsInput
                               ) -> WorkflowExecutionAsyncIterator:
                calls.append(f"list {input.query}")
                return super().list_workflows(input)

            async def count_workflows(self, input: CountWorkflowsInput
                                      ) -> WorkflowExecutionCount:
                calls.append(f"count {input.query}")
                return await super().count_workflows(input)

        return Outbound(next)


async def test_list_and_count_go_through_client_interceptors(client: Client,
                                                             task_queue: str) -> None:
    interceptor = CountsCalls()
    intercepted = Client(client.store, interceptors=[interceptor])
    await intercepted.start_workflow(Waits.run, id="listed", task_queue=task_queue)
    query = "WorkflowId = 'listed'"
    assert [w.id async for w in intercepted.list_workflows(query)] == ["listed"]
    assert (await intercepted.count_workflows(query)).count == 1
    assert interceptor.calls == [f"list {query}", f"count {query}"]


async def test_update_wait_timeout_is_temporalios_error(client: Client,
                                                        task_queue: str) -> None:
    handle = await client.start_workflow(Waits.run, id="no-worker", task_queue=task_queue)
    # Admitted, never handled: no worker polls this queue.
    update = await handle.start_update("never", id="never",
                                       wait_for_stage=WorkflowUpdateStage.ADMITTED)
    with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
        await update.result(rpc_timeout=timedelta(milliseconds=100))
    with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
        await handle.get_update_handle("never").result(rpc_timeout=timedelta(milliseconds=100))
    # An id no update was sent with: Temporal's NOT_FOUND, at once (not a wait).
    with pytest.raises(RPCError, match='update "nobody-sent-this" not found') as raised:
        await handle.get_update_handle("nobody-sent-this").result()
    assert raised.value.status == RPCStatusCode.NOT_FOUND


class RecordsSchedules(Interceptor):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        calls = self.calls

        class Outbound(OutboundInterceptor):
            async def create_schedule(self, input: CreateScheduleInput) -> ScheduleHandle:
                calls.append(f"create {input.id}")
                return await super().create_schedule(input)

            async def pause_schedule(self, input: PauseScheduleInput) -> None:
                calls.append(f"pause {input.id} {input.note}")
                await super().pause_schedule(input)

            async def describe_schedule(self, input: DescribeScheduleInput
                                        ) -> ScheduleDescription:
                calls.append(f"describe {input.id}")
                return await super().describe_schedule(input)

            async def delete_schedule(self, input: DeleteScheduleInput) -> None:
                calls.append(f"delete {input.id}")
                await super().delete_schedule(input)

        return Outbound(next)


async def test_schedule_calls_go_through_client_interceptors(client: Client,
                                                             task_queue: str) -> None:
    interceptor = RecordsSchedules()
    intercepted = Client(client.store, interceptors=[interceptor])
    handle = await intercepted.create_schedule("nightly", Schedule(
        action=ScheduleActionStartWorkflow(Waits.run, id="nightly-run", task_queue=task_queue),
        spec=ScheduleSpec(cron_expressions=["0 3 * * *"])))
    await handle.pause(note="maintenance")
    assert (await handle.describe()).schedule.state.paused
    await handle.delete()
    assert interceptor.calls == ["create nightly", "pause nightly maintenance",
                                 "describe nightly", "delete nightly"]


@workflow.defn
class SignalledChild:
    def __init__(self) -> None:
        self.got: list[object] = []

    @workflow.run
    async def run(self) -> list[object]:
        await workflow.wait_condition(lambda: len(self.got) == 2)
        return self.got

    @workflow.signal
    def receive(self, value: object) -> None:
        self.got.append(value)


@workflow.defn
class SignalsChild:
    @workflow.run
    async def run(self) -> list[object]:
        child = await workflow.start_child_workflow(SignalledChild.run,
                                                    id=f"{workflow.info().workflow_id}-child")
        await child.signal(SignalledChild.receive, None)
        await child.signal(SignalledChild.receive, args=["x"])
        result: list[object] = await child
        return result


class RecordsChildSignals(WorkerInterceptor):
    seen: list[str] = []

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor] | None:
        seen = self.seen

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                class Outbound(WorkflowOutboundInterceptor):
                    async def signal_child_workflow(self, input: SignalChildWorkflowInput
                                                    ) -> None:
                        seen.append(f"{input.signal} -> {input.child_workflow_id}")
                        await super().signal_child_workflow(input)

                super().init(Outbound(outbound))

        return Inbound


async def test_child_signals_go_through_the_outbound_interceptor_and_carry_none(
        client: Client, task_queue: str) -> None:
    RecordsChildSignals.seen = []
    async with Worker(client, task_queue=task_queue, workflows=[SignalsChild, SignalledChild],
                      interceptors=[RecordsChildSignals()]):
        result = await client.execute_workflow(SignalsChild.run, id="parent",
                                               task_queue=task_queue)
    assert result == [None, "x"]
    assert RecordsChildSignals.seen.count("receive -> parent-child") == 2
