"""workflow.info() fields across continue-as-new and for a child; wait_condition with a
timeout; workflow.wait; memo reading and upsert; patched; child workflow outcomes."""

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError, ChildWorkflowError


@workflow.defn
class Child:
    @workflow.run
    async def run(self, fail: bool) -> dict:
        info = workflow.info()
        if fail:
            raise ApplicationError("child broke", non_retryable=True)
        return {"parent_id_set": info.parent is not None,
                "parent_matches": info.parent.workflow_id if info.parent else None}


@workflow.defn
class Inspects:
    @workflow.run
    async def run(self, generation: int) -> dict:
        info = workflow.info()
        if generation == 0:
            workflow.continue_as_new(1)
        observed: dict = {
            "attempt": info.attempt,
            "continued": info.continued_run_id is not None,
            "first_is_not_run": info.first_execution_run_id != info.run_id,
            "namespace": info.namespace,
            "workflow_type": info.workflow_type,
            "cron": info.cron_schedule,
            "parent": info.parent,
            "retry_policy": info.retry_policy,
            "memo": dict(workflow.memo()),
            "patched": workflow.patched("p1"),
        }
        workflow.upsert_memo({"stage": "two", "owner": None})
        observed["memo_after"] = dict(workflow.memo())
        try:
            await workflow.wait_condition(lambda: False, timeout=0.2)
            observed["wait_condition"] = "met"
        except TimeoutError as error:
            observed["wait_condition"] = type(error).__name__
        done, pending = await workflow.wait(
            [asyncio.ensure_future(workflow.sleep(0.1)),
             asyncio.ensure_future(workflow.sleep(5))],
            return_when=asyncio.FIRST_COMPLETED)
        observed["wait"] = [len(done), len(pending)]
        for task in pending:
            task.cancel()
        observed["child"] = await workflow.execute_child_workflow(
            Child.run, False, id=f"{info.workflow_id}-child")
        try:
            await workflow.execute_child_workflow(Child.run, True,
                                                  id=f"{info.workflow_id}-child-fails")
        except ChildWorkflowError as error:
            observed["child_error"] = [error.message, type(error.cause).__name__,
                                       str(error.cause),
                                       error.retry_state.name if error.retry_state else None]
        return observed


WORKFLOWS = [Inspects, Child]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    result = await client.execute_workflow(
        Inspects.run, 0, id=f"{task_queue}-wf", task_queue=task_queue,
        memo={"stage": "one", "owner": "ann"}, execution_timeout=timedelta(minutes=5))
    result["child"]["parent_matches"] = result["child"]["parent_matches"] == f"{task_queue}-wf"
    return result
