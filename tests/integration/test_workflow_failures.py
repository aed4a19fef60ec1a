"""How workflow code fails: an ApplicationError fails the run; any other exception is a bug that
fails the workflow task (recorded, retried) and leaves the run open, as in Temporal."""

from __future__ import annotations

import pytest

from stalwart import workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.exceptions import ApplicationError, WorkflowFailureError
from stalwart.worker import Worker

from ._support import event_types, wait_for_event


@workflow.defn
class RejectsWorkflow:
    @workflow.run
    async def run(self, reason: str) -> None:
        raise ApplicationError(f"rejected: {reason}", {"code": 7}, type="Rejected",
                               non_retryable=True)


@workflow.defn
class BuggyWorkflow:
    @workflow.run
    async def run(self) -> str:
        settings: dict[str, str] = {}
        return settings["missing-key"]


@workflow.defn
class HealthyWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return f"healthy {name}"


_FLAKY_ATTEMPTS: list[int] = []


@workflow.defn
class FlakyFirstTask:
    """Fails its first workflow task once (a bug that goes away), then completes."""

    @workflow.run
    async def run(self) -> int:
        _FLAKY_ATTEMPTS.append(workflow.info().attempt)
        if len(_FLAKY_ATTEMPTS) == 1:
            raise RuntimeError("flaky bug")
        return len(_FLAKY_ATTEMPTS)


class OutOfStockError(Exception):
    pass


@workflow.defn(failure_exception_types=[OutOfStockError])
class DeclaredFailureWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise OutOfStockError("no more tea")


async def test_workflow_application_error_fails_the_run(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[RejectsWorkflow]):
        handle = await client.start_workflow(RejectsWorkflow.run, "bad input", id="rejects",
                                             task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    cause = raised.value.cause
    assert isinstance(cause, ApplicationError)
    assert cause.message == "rejected: bad input"
    assert cause.type == "Rejected"
    assert cause.non_retryable
    assert list(cause.details) == [{"code": 7}]
    assert (await handle.describe()).status == WorkflowExecutionStatus.FAILED
    assert (await event_types(handle))[-1] == "WorkflowExecutionFailed"


async def test_workflow_bug_fails_the_task_and_keeps_the_run_open(
        client: Client, task_queue: str, caplog: pytest.LogCaptureFixture) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[BuggyWorkflow, HealthyWorkflow]):
        handle = await client.start_workflow(BuggyWorkflow.run, id="buggy",
                                             task_queue=task_queue)
        await wait_for_event(handle, "WorkflowTaskFailed")
        # The same worker keeps serving other workflows.
        assert await client.execute_workflow(HealthyWorkflow.run, "after the bug",
                                             id="healthy", task_queue=task_queue) \
            == "healthy after the bug"
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
    history = await handle.fetch_history()
    failed = [e for e in history.events if e.event_type == "WorkflowTaskFailed"]
    # Recorded once per failure streak, however often the task is retried.
    assert len(failed) == 1
    # Recorded as temporalio records it: the code's own error, with its stack trace.
    failure = failed[0].workflow_task_failed_event_attributes.failure
    assert failure.message == "'missing-key'"
    assert failure.application_failure_info.type == "KeyError"
    assert 'settings["missing-key"]' in failure.stack_trace
    # The worker's log says what happened and how to fail the workflow instead.
    logged = [r.getMessage() for r in caplog.records if "workflow task failed" in r.getMessage()]
    assert logged and "KeyError" in logged[0] and "ApplicationError" in logged[0]
    assert "WorkflowExecutionFailed" not in [e.event_type for e in history.events]


async def test_failed_first_task_run_at_start_is_recorded_when_its_retry_succeeds(
        client: Client, task_queue: str) -> None:
    # The worker runs the first task inside the start; its failure is in the history (as on
    # Temporal) even though the retry succeeds.
    _FLAKY_ATTEMPTS.clear()
    async with Worker(client, task_queue=task_queue, workflows=[FlakyFirstTask]):
        handle = await client.start_workflow(FlakyFirstTask.run, id="flaky-first",
                                             task_queue=task_queue)
        assert await handle.result() == 2
    assert await event_types(handle) == [
        "WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskFailed", "WorkflowTaskScheduled", "WorkflowTaskStarted",
        "WorkflowTaskCompleted", "WorkflowExecutionCompleted"]
    assert _FLAKY_ATTEMPTS == [1, 1]  # the run's attempt, not the task's, as in Temporal


async def test_workflow_declared_failure_exception_type_fails_the_run(client: Client,
                                                                      task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[DeclaredFailureWorkflow]):
        handle = await client.start_workflow(DeclaredFailureWorkflow.run, id="declared",
                                             task_queue=task_queue)
        with pytest.raises(WorkflowFailureError) as raised:
            await handle.result()
    assert isinstance(raised.value.cause, ApplicationError)
    assert raised.value.cause.type == "OutOfStockError"
    assert "no more tea" in str(raised.value.cause)
