"""workflow.Info.root (None at the top, the top workflow for a child),
Info.original_execution_run_id, Info.raw_memo, ChildWorkflowHandle.first_execution_run_id,
workflow.unsafe.is_read_only / is_replaying_history_events / is_imports_passed_through (in the
run, a query and an update validator), LoggerAdapter.base_logger, Event Groups (scope, the
event_groups= option, bad ids and foreign groups refused), and a dynamic workflow whose
@workflow.dynamic_config makes ValueError fail it."""

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RawValue

from ._util import settle


@activity.defn
async def echo(value: str) -> str:
    return value


def _unsafe_flags() -> dict[str, bool]:
    return {"read_only": workflow.unsafe.is_read_only(),
            "replaying_history": workflow.unsafe.is_replaying_history_events(),
            "passed_through": workflow.unsafe.is_imports_passed_through()}


@workflow.defn
class Child:
    def __init__(self) -> None:
        self.go = False

    @workflow.signal
    def proceed(self) -> None:
        self.go = True

    @workflow.run
    async def run(self, parent_id: str) -> dict[str, Any]:
        # Released by the client once the parent recorded the start and settled, so where the
        # completion lands does not depend on timing.
        await workflow.wait_condition(lambda: self.go)
        info = workflow.info()
        root = info.root
        return {"root_is_parent": root is not None and root.workflow_id == parent_id,
                "root_run_id_set": bool(root and root.run_id),
                "run_id": info.run_id}


@workflow.defn
class Surface:
    def __init__(self) -> None:
        self.validated: list[dict[str, bool]] = []
        self.poked = False

    @workflow.run
    async def run(self) -> dict[str, Any]:
        info = workflow.info()
        child = await workflow.start_child_workflow(
            Child.run, info.workflow_id, id=f"{info.workflow_id}-child")
        child_result = await child
        # The client queries and updates here, before any timer runs (see _util.settle).
        # (The handler, not the validator, releases it: replay skips validators.)
        await workflow.wait_condition(lambda: self.poked)
        with workflow.unsafe.imports_passed_through():
            inside = workflow.unsafe.is_imports_passed_through()
        group = workflow.create_event_group("tools", label="Tool calls")
        with group.scope():
            await workflow.sleep(0.01)
            echoed = await workflow.execute_activity(
                echo, "hi", start_to_close_timeout=timedelta(seconds=10),
                event_groups=[workflow.create_event_group("single")])
        refused = []
        for bad in (lambda: workflow.create_event_group(""),
                    lambda: workflow.create_event_group("x", label="")):
            try:
                bad()
            except ValueError as error:
                refused.append(str(error))
        try:
            await workflow.sleep(0.01, event_groups=["not a group"])  # type: ignore[list-item]
        except TypeError as error:
            refused.append(type(error).__name__)
        memo = {key: workflow.payload_converter().from_payload(value)
                for key, value in info.raw_memo.items()}
        return {
            "root": info.root,
            "original_is_run": info.original_execution_run_id == info.run_id,
            "memo": memo,
            "child": {**child_result, "run_id": None,
                      "first_run_matches": child.first_execution_run_id == child_result["run_id"]},
            "in_run": _unsafe_flags(),
            "passed_through_inside": inside,
            "in_validator": self.validated,
            "echoed": echoed,
            "refused": refused,
            "base_logger_is_logger": workflow.logger.base_logger.name != "",
        }

    @workflow.query
    def flags(self) -> dict[str, bool]:
        return _unsafe_flags()

    @workflow.update
    async def poke(self) -> str:
        self.poked = True
        return "poked"

    @poke.validator
    def check_poke(self) -> None:
        self.validated.append(_unsafe_flags())


@workflow.defn(dynamic=True)
class Dynamic:
    @workflow.dynamic_config
    def config(self) -> workflow.DynamicWorkflowConfig:
        return workflow.DynamicWorkflowConfig(failure_exception_types=[ValueError])

    @workflow.run
    async def run(self, args: Sequence[RawValue]) -> str:
        raise ValueError(f"{workflow.info().workflow_type} refuses")


WORKFLOWS = [Surface, Child, Dynamic]
ACTIVITIES = [echo]


async def _recorded(handle: Any, event_type: str) -> None:
    for _ in range(600):
        events = (await handle.fetch_history()).to_json_dict()["events"]
        if any(e["eventType"] == event_type for e in events):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the parent never recorded {event_type}")


async def run(client: Client, task_queue: str) -> object:
    handle = await client.start_workflow(Surface.run, id=f"{task_queue}-wf",
                                         task_queue=task_queue, memo={"owner": "ana"})
    await _recorded(handle, "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED")
    await settle(handle)
    await client.get_workflow_handle(f"{task_queue}-wf-child").signal(Child.proceed)
    await _recorded(handle, "EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED")
    await settle(handle)
    query_flags = await handle.query(Surface.flags)
    await handle.execute_update(Surface.poke)
    result = await handle.result()
    try:
        await client.execute_workflow("Anything", id=f"{task_queue}-dyn", task_queue=task_queue,
                                      execution_timeout=timedelta(seconds=30))
        dynamic = "completed"
    except WorkflowFailureError as error:
        cause = error.cause
        dynamic = f"{type(cause).__name__}: {cause}"
    return {"result": result, "query": query_flags, "dynamic": dynamic}
