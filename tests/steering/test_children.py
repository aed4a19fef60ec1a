"""Child workflows: started and awaited, fanned out, failing, clashing ids, parent close
policies, parent info, and cancellation flowing from parent to child."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import (
    ApplicationError,
    ChildWorkflowError,
    WorkflowAlreadyStartedError,
)
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT, RESULT_TIMEOUT, wait_for_status

cleanups: list[str] = []


@activity.defn
async def record_cleanup(who: str) -> None:
    cleanups.append(who)


@workflow.defn
class Square:
    @workflow.run
    async def run(self, n: int) -> int:
        if n < 0:
            raise ApplicationError(f"cannot square {n}", type="NegativeInput",
                                   non_retryable=True)
        return n * n


@workflow.defn
class WhoIsMyParent:
    @workflow.run
    async def run(self) -> list[str]:
        parent = workflow.info().parent
        if parent is None:
            return []
        return [parent.workflow_id, parent.run_id]


@workflow.defn
class Lingering:
    """Runs until told to finish; records a cleanup when cancelled."""

    def __init__(self) -> None:
        self.finished = False

    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.wait_condition(lambda: self.finished)
        except asyncio.CancelledError:
            await workflow.execute_activity(record_cleanup, workflow.info().workflow_id,
                                            start_to_close_timeout=ACTIVITY_TIMEOUT)
            raise
        return "finished"

    @workflow.signal
    def finish(self) -> None:
        self.finished = True


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, mode: str) -> object:
        me = workflow.info().workflow_id
        if mode == "execute":
            return await workflow.execute_child_workflow(Square.run, 7, id=f"{me}-sq")
        if mode == "start":
            handle = await workflow.start_child_workflow(Square.run, 8, id=f"{me}-sq")
            return [handle.id, await handle]
        if mode == "fan-out":
            return list(await asyncio.gather(*[
                workflow.execute_child_workflow(Square.run, n, id=f"{me}-sq-{n}")
                for n in range(1, 5)]))
        if mode == "fail":
            try:
                await workflow.execute_child_workflow(Square.run, -2, id=f"{me}-sq")
            except ChildWorkflowError as error:
                cause = error.cause
                assert isinstance(cause, ApplicationError)
                return [type(error).__name__, error.workflow_id, cause.type, cause.message]
            return "no error"
        if mode == "duplicate":
            try:
                await workflow.start_child_workflow(Lingering.run, id="taken")
            except WorkflowAlreadyStartedError as error:
                return f"already started: {error}"
            return "started"
        if mode == "parent-info":
            handle = await workflow.start_child_workflow(WhoIsMyParent.run, id=f"{me}-kid")
            return [await handle, workflow.info().run_id]
        if mode == "await-lingering":
            return await workflow.execute_child_workflow(Lingering.run, id=f"{me}-kid")
        policy = workflow.ParentClosePolicy[mode]
        await workflow.start_child_workflow(Lingering.run, id=f"{me}-kid",
                                            parent_close_policy=policy)
        return "parent done"


@workflow.defn
class TimedParent:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_child_workflow(
                Lingering.run, id="slow-kid", execution_timeout=timedelta(seconds=0.3))
        except ChildWorkflowError as error:
            return type(error.cause).__name__
        return "no error"


def family_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue,
                  workflows=[Parent, Square, Lingering, WhoIsMyParent],
                  activities=[record_cleanup])


async def run_parent(client: Client, task_queue: str, mode: str, id: str = "p") -> object:
    return await asyncio.wait_for(
        client.execute_workflow(Parent.run, mode, id=id, task_queue=task_queue),
        RESULT_TIMEOUT)


async def test_child_execute_returns_result(client: Client, task_queue: str) -> None:
    async with family_worker(client, task_queue):
        assert await run_parent(client, task_queue, "execute") == 49
    events = (await client.get_workflow_handle("p").fetch_history()).events
    types = [str(e.event_type) for e in events]
    assert types.count("StartChildWorkflowExecutionInitiated") == 1
    assert "ChildWorkflowExecutionStarted" in types
    assert "ChildWorkflowExecutionCompleted" in types
    child = await client.get_workflow_handle("p-sq").describe()
    assert child.status == WorkflowExecutionStatus.COMPLETED


async def test_child_start_then_await_handle(client: Client, task_queue: str) -> None:
    async with family_worker(client, task_queue):
        assert await run_parent(client, task_queue, "start") == ["p-sq", 64]


async def test_child_fan_out_with_gather(client: Client, task_queue: str) -> None:
    async with family_worker(client, task_queue):
        assert await run_parent(client, task_queue, "fan-out") == [1, 4, 9, 16]
    for n in range(1, 5):
        description = await client.get_workflow_handle(f"p-sq-{n}").describe()
        assert description.status == WorkflowExecutionStatus.COMPLETED
        assert description.parent_id == "p"


async def test_child_failure_surfaces_as_child_workflow_error(client: Client,
                                                               task_queue: str) -> None:
    async with family_worker(client, task_queue):
        assert await run_parent(client, task_queue, "fail") == [
            "ChildWorkflowError", "p-sq", "NegativeInput", "cannot square -2"]


async def test_child_duplicate_id_is_refused(client: Client, task_queue: str) -> None:
    async with family_worker(client, task_queue):
        taken = await client.start_workflow(Lingering.run, id="taken", task_queue=task_queue)
        result = await run_parent(client, task_queue, "duplicate")
        assert isinstance(result, str) and result.startswith("already started: ")
        assert "taken" in result
        # The running workflow with that id was left alone.
        assert (await taken.describe()).status == WorkflowExecutionStatus.RUNNING
        await taken.signal(Lingering.finish)
        assert await asyncio.wait_for(taken.result(), RESULT_TIMEOUT) == "finished"


async def test_child_sees_parent_info(client: Client, task_queue: str) -> None:
    async with family_worker(client, task_queue):
        result = await run_parent(client, task_queue, "parent-info")
    assert isinstance(result, list)
    kid_saw, parent_run_id = result
    assert kid_saw == ["p", parent_run_id]


async def test_child_terminated_when_parent_completes_by_default(client: Client,
                                                                 task_queue: str) -> None:
    async with family_worker(client, task_queue):
        assert await run_parent(client, task_queue, "TERMINATE") == "parent done"
        child = client.get_workflow_handle("p-kid")
        await wait_for_status(child, WorkflowExecutionStatus.TERMINATED)
    events = (await child.fetch_history()).events
    assert events[-1].event_type == "WorkflowExecutionTerminated"
    assert "parent" in events[-1].attributes["reason"]
    assert "p-kid" not in cleanups  # terminated: no cleanup code ran


async def test_child_abandoned_keeps_running(client: Client, task_queue: str) -> None:
    async with family_worker(client, task_queue):
        assert await run_parent(client, task_queue, "ABANDON") == "parent done"
        child = client.get_workflow_handle("p-kid")
        assert (await child.describe()).status == WorkflowExecutionStatus.RUNNING
        await child.signal(Lingering.finish)
        assert await asyncio.wait_for(child.result(), RESULT_TIMEOUT) == "finished"


async def test_child_request_cancel_when_parent_completes(client: Client,
                                                          task_queue: str) -> None:
    cleanups.clear()
    async with family_worker(client, task_queue):
        assert await run_parent(client, task_queue, "REQUEST_CANCEL") == "parent done"
        child = client.get_workflow_handle("p-kid")
        await wait_for_status(child, WorkflowExecutionStatus.CANCELED)
    assert cleanups == ["p-kid"]
    types = [str(e.event_type) for e in (await child.fetch_history()).events]
    assert "WorkflowExecutionCancelRequested" in types


async def test_child_cancelled_with_its_parent(client: Client, task_queue: str) -> None:
    cleanups.clear()
    async with family_worker(client, task_queue):
        parent = await client.start_workflow(Parent.run, "await-lingering", id="p",
                                             task_queue=task_queue)
        child = client.get_workflow_handle("p-kid")
        await wait_for_status(child, WorkflowExecutionStatus.RUNNING)
        await parent.cancel()
        await wait_for_status(parent, WorkflowExecutionStatus.CANCELED,
                              timeout=RESULT_TIMEOUT)
        await wait_for_status(child, WorkflowExecutionStatus.CANCELED, timeout=RESULT_TIMEOUT)
    # The child saw the cancellation and cleaned up; it was not simply terminated.
    assert cleanups == ["p-kid"]


async def test_child_execution_timeout_fails_parent_await(client: Client,
                                                          task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TimedParent, Lingering],
                      activities=[record_cleanup]):
        result = await asyncio.wait_for(
            client.execute_workflow(TimedParent.run, id="tp", task_queue=task_queue),
            RESULT_TIMEOUT)
    assert result == "TimeoutError"
