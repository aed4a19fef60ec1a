"""Interceptors given through a plugin, as temporalio code writes them: which client,
workflow and activity interceptor methods are called, in which order, with which inputs,
over a run with an activity (heartbeating), a local activity, a child, a signal, a query and
an update."""

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.client import Interceptor as ClientInterceptor
from temporalio.client import OutboundInterceptor as ClientOutbound
from temporalio.plugin import SimplePlugin
from temporalio.worker import (
    ActivityInboundInterceptor,
    ActivityOutboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    HandleQueryInput,
    HandleSignalInput,
    HandleUpdateInput,
    StartActivityInput,
    StartChildWorkflowInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)
from temporalio.worker import Interceptor as WorkerInterceptor

from ._util import settle, wait_for_events

CALLS: dict[str, list[Any]] = {"client": [], "workflow": [], "activity": []}


class _ClientOut(ClientOutbound):
    async def start_workflow(self, input: Any) -> Any:
        CALLS["client"].append(["start_workflow", input.workflow, list(input.args)])
        return await super().start_workflow(input)

    async def signal_workflow(self, input: Any) -> None:
        CALLS["client"].append(["signal_workflow", input.signal, list(input.args)])
        await super().signal_workflow(input)

    async def query_workflow(self, input: Any) -> Any:
        CALLS["client"].append(["query_workflow", input.query, list(input.args)])
        return await super().query_workflow(input)

    async def start_workflow_update(self, input: Any) -> Any:
        CALLS["client"].append(["start_workflow_update", input.update, list(input.args),
                                input.wait_for_stage.name])
        return await super().start_workflow_update(input)

    async def describe_workflow(self, input: Any) -> Any:
        CALLS["client"].append(["describe_workflow"])
        return await super().describe_workflow(input)


class _ActivityOut(ActivityOutboundInterceptor):
    def heartbeat(self, *details: Any) -> None:
        CALLS["activity"].append(["heartbeat", list(details)])
        super().heartbeat(*details)


class _ActivityIn(ActivityInboundInterceptor):
    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        CALLS["activity"].append(["init"])
        super().init(_ActivityOut(outbound))

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        CALLS["activity"].append(["execute_activity", input.fn.__name__, list(input.args),
                                  activity.info().is_local])
        return await super().execute_activity(input)


class _WorkflowOut(WorkflowOutboundInterceptor):
    def start_activity(self, input: StartActivityInput) -> Any:
        CALLS["workflow"].append(["start_activity", input.activity, list(input.args),
                                  input.start_to_close_timeout.total_seconds()
                                  if input.start_to_close_timeout else None])
        return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> Any:
        CALLS["workflow"].append(["start_local_activity", input.activity, list(input.args)])
        return super().start_local_activity(input)

    async def start_child_workflow(self, input: StartChildWorkflowInput) -> Any:
        CALLS["workflow"].append(["start_child_workflow", input.workflow, list(input.args),
                                  input.id.endswith("-child")])
        return await super().start_child_workflow(input)


class _WorkflowIn(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        CALLS["workflow"].append(["init"])
        super().init(_WorkflowOut(outbound))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        CALLS["workflow"].append(["execute_workflow", input.type.__name__, list(input.args)])
        return await super().execute_workflow(input)

    async def handle_signal(self, input: HandleSignalInput) -> None:
        CALLS["workflow"].append(["handle_signal", input.signal, list(input.args)])
        await super().handle_signal(input)

    async def handle_query(self, input: HandleQueryInput) -> Any:
        CALLS["workflow"].append(["handle_query", input.query, list(input.args)])
        return await super().handle_query(input)

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        CALLS["workflow"].append(["handle_update_validator", input.update, list(input.args)])
        super().handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        CALLS["workflow"].append(["handle_update_handler", input.update, list(input.args)])
        return await super().handle_update_handler(input)


class Recorder(ClientInterceptor, WorkerInterceptor):
    def intercept_client(self, next: ClientOutbound) -> ClientOutbound:
        return _ClientOut(next)

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityIn(next)

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor]:
        return _WorkflowIn


PLUGINS = [SimplePlugin("call-recorder", interceptors=[Recorder()])]


@activity.defn
async def shout(text: str) -> str:
    activity.heartbeat("working", 1)
    return text.upper()


@workflow.defn
class Child:
    @workflow.run
    async def run(self, n: int) -> int:
        return n * 2


@workflow.defn
class Watched:
    def __init__(self) -> None:
        self.notes: list[str] = []
        self.finish = False

    @workflow.signal
    def note(self, text: str) -> None:
        self.notes.append(text)

    @workflow.query
    def count(self) -> int:
        return len(self.notes)

    @workflow.update
    def stop(self, reason: str) -> str:
        self.finish = True
        return f"stopping: {reason}"

    @stop.validator
    def check_stop(self, reason: str) -> None:
        if not reason:
            raise ValueError("give a reason")

    @workflow.run
    async def run(self, name: str) -> list[Any]:
        loud = await workflow.execute_activity(shout, name,
                                               start_to_close_timeout=timedelta(seconds=10))
        local = await workflow.execute_local_activity(
            shout, "local", start_to_close_timeout=timedelta(seconds=10))
        doubled = await workflow.execute_child_workflow(
            Child.run, 21, id=f"{workflow.info().workflow_id}-child")
        await workflow.wait_condition(lambda: self.finish)
        return [loud, local, doubled, self.notes]


WORKFLOWS = [Watched, Child]
ACTIVITIES = [shout]


async def run(client: Client, task_queue: str) -> object:
    for calls in CALLS.values():
        calls.clear()
    handle = await client.start_workflow(Watched.run, "hey", id=f"{task_queue}-watched",
                                         task_queue=task_queue)
    # Until the child has finished and the run waits for the update: the signal must come
    # after the child's result on both servers.
    await wait_for_events(handle, "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED", 1)
    await settle(handle)
    await handle.signal(Watched.note, "first")
    await settle(handle)
    queried = await handle.query(Watched.count)
    answer = await handle.execute_update(Watched.stop, "done")
    result = await handle.result()
    await handle.describe()
    return {"result": result, "queried": queried, "answer": answer,
            "calls": {kind: list(calls) for kind, calls in CALLS.items()}}
