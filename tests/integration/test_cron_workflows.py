"""Temporal cron workflows: ``start_workflow(..., cron_schedule=...)`` runs a chain of runs
under one workflow id, each starting at the schedule's next time."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass

import pytest

from stalwart import activity, workflow
from stalwart.client import (
    Client,
    WorkflowContinuedAsNewError,
    WorkflowExecutionStatus,
    WorkflowHistory,
)
from stalwart.exceptions import (
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    WorkflowFailureError,
)
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT

# Every second: the fastest grammar Temporal's cron accepts, so the test waits little.
EVERY_SECOND = "@every 1s"


@dataclass
class Seen:
    run_id: str
    continued_run_id: str | None
    cron_schedule: str
    last_result: int | None
    has_last_result: bool
    last_failure: str | None


_seen: dict[str, list[Seen]] = {}
_enough: dict[str, asyncio.Event] = {}


@activity.defn
async def record_run(seen: Seen) -> None:
    workflow_id = activity.info().workflow_id
    runs = _seen.setdefault(workflow_id, [])
    runs.append(seen)
    if len(runs) >= 4:
        _enough[workflow_id].set()


@workflow.defn
class CronCounter:
    """Counts its runs through the last completion result; the second run fails once."""

    @workflow.run
    async def run(self) -> int:
        info = workflow.info()
        last = workflow.get_last_completion_result(int)
        failure = workflow.get_last_failure()
        await workflow.execute_activity(record_run, Seen(
            run_id=info.run_id, continued_run_id=info.continued_run_id,
            cron_schedule=info.cron_schedule or "", last_result=last,
            has_last_result=workflow.has_last_completion_result(),
            last_failure=str(failure) if failure is not None else None),
            start_to_close_timeout=ACTIVITY_TIMEOUT)
        count = (last or 0) + 1
        if count == 2 and failure is None:
            raise ApplicationError("second run fails", non_retryable=True)
        if count >= 3:
            # The fourth run (count 3) waits to be cancelled: the chain ends with it.
            await workflow.wait_condition(lambda: False)
        return count


async def test_cron_chain_carries_results_and_failures_until_cancelled(
        client: Client, task_queue: str) -> None:
    workflow_id = f"cron-{uuid.uuid4().hex[:8]}"
    _enough[workflow_id] = asyncio.Event()
    async with Worker(client, task_queue=task_queue, workflows=[CronCounter],
                      activities=[record_run]):
        handle = await client.start_workflow(CronCounter.run, id=workflow_id,
                                             task_queue=task_queue,
                                             cron_schedule=EVERY_SECOND)
        first = await handle.fetch_history()
        started = first.events[0].attributes
        # As Temporal's history shows it (and a Temporal tool reads it back).
        assert started["cronSchedule"] == EVERY_SECOND
        assert started["initiator"] == "CONTINUE_AS_NEW_INITIATOR_CRON_SCHEDULE"
        assert 0 < float(started["firstWorkflowTaskBackoff"].removesuffix("s")) <= 1.0
        reread = WorkflowHistory.from_json(workflow_id, first.to_json())
        assert reread.events[0].attributes["cronSchedule"] == EVERY_SECOND
        result = asyncio.ensure_future(handle.result())
        await asyncio.wait_for(_enough[workflow_id].wait(), 30)
        runs = _seen[workflow_id]
        # Run 1 completes with 1; run 2 fails; run 3 sees that failure and still run 1's
        # result; run 3 completes with 2 and run 4 sees it.
        assert [(s.last_result, s.has_last_result, s.last_failure) for s in runs[:4]] == [
            (None, False, None), (1, True, None), (1, True, "second run fails"),
            (2, True, None)]
        assert all(s.cron_schedule == EVERY_SECOND for s in runs)
        assert [s.continued_run_id for s in runs[1:4]] == [s.run_id for s in runs[:3]]
        assert runs[0].run_id == handle.result_run_id
        assert not result.done()

        closed = [client.get_workflow_handle(workflow_id, run_id=s.run_id) for s in runs[:3]]
        statuses = [(await h.describe()).status for h in closed]
        assert statuses == [WorkflowExecutionStatus.COMPLETED, WorkflowExecutionStatus.FAILED,
                            WorkflowExecutionStatus.COMPLETED]
        for h, nxt in zip(closed, runs[1:4], strict=True):
            last_event = (await h.fetch_history()).events[-1]
            assert last_event.attributes["newExecutionRunId"] == nxt.run_id
        # As Temporal reports it, a closed cron run continued as new to a caller of
        # result() that does not follow runs.
        with pytest.raises(WorkflowContinuedAsNewError) as continued:
            await closed[0].result(follow_runs=False)
        assert continued.value.new_execution_run_id == runs[1].run_id

        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await result
        assert isinstance(failure.value.cause, CancelledError)
        description = await handle.describe()
        assert description.run_id == runs[3].run_id
        assert description.status == WorkflowExecutionStatus.CANCELED


@workflow.defn
class CronWaitsForever:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def test_terminate_ends_the_chain_and_timeout_bounds_it(
        client: Client, task_queue: str) -> None:
    from datetime import UTC, datetime, timedelta
    async with Worker(client, task_queue=task_queue, workflows=[CronWaitsForever]):
        handle = await client.start_workflow(CronWaitsForever.run, id=f"cron-{uuid.uuid4()}",
                                             task_queue=task_queue, cron_schedule="0 0 1 1 *")
        described = await handle.describe()
        # Temporal's execution time: the start plus the wait for the schedule's first time.
        assert described.execution_time is not None and described.start_time is not None
        new_year = datetime(described.start_time.year + 1, 1, 1, tzinfo=UTC)
        assert abs(described.execution_time - new_year) < timedelta(milliseconds=1)
        await handle.terminate("enough")
        assert (await handle.describe()).status == WorkflowExecutionStatus.TERMINATED
        history = await handle.fetch_history()
        # Closed before its first task was due: no workflow task was ever scheduled.
        assert [e.event_type for e in history.events] == [
            "WorkflowExecutionStarted", "WorkflowExecutionTerminated"]
        # The first run waits for next New Year; the chain's execution timeout ends it first.
        timed = await client.start_workflow(
            CronWaitsForever.run, id=f"cron-{uuid.uuid4()}", task_queue=task_queue,
            cron_schedule="0 0 1 1 *", execution_timeout=timedelta(seconds=1))
        with pytest.raises(WorkflowFailureError):
            await timed.result()
        assert (await timed.describe()).status == WorkflowExecutionStatus.TIMED_OUT


async def test_bad_cron_schedule_is_refused(client: Client, task_queue: str) -> None:
    with pytest.raises(ValueError, match="cron_schedule='61 \\* \\* \\* \\*'"):
        await client.start_workflow(CronWaitsForever.run, id="bad-cron", task_queue=task_queue,
                                    cron_schedule="61 * * * *")


@workflow.defn
class StartsCronChild:
    @workflow.run
    async def run(self, child_id: str, schedule: str) -> list[str]:
        try:
            child = await workflow.start_child_workflow(CronCounter.run, id=child_id,
                                                        cron_schedule=schedule)
        except ValueError as error:
            return ["refused", str(error)]
        try:
            await child
        except ChildWorkflowError as error:
            return ["ended", type(error.cause).__name__]
        return ["completed"]


async def test_cron_child_runs_as_a_chain_until_it_ends(client: Client,
                                                        task_queue: str) -> None:
    parent_id, child_id = f"p-{uuid.uuid4()}", f"c-{uuid.uuid4()}"
    _enough[child_id] = asyncio.Event()
    async with Worker(client, task_queue=task_queue,
                      workflows=[StartsCronChild, CronCounter], activities=[record_run]):
        parent = await client.start_workflow(StartsCronChild.run, args=[child_id, EVERY_SECOND],
                                             id=parent_id, task_queue=task_queue)
        await asyncio.wait_for(_enough[child_id].wait(), 60)
        # Runs closing (one failed, two completed) did not resolve the parent's handle.
        assert (await parent.describe()).status == WorkflowExecutionStatus.RUNNING
        await client.get_workflow_handle(child_id).terminate("enough")
        assert await parent.result() == ["ended", "TerminatedError"]
    runs = _seen[child_id]
    assert [r.last_result for r in runs[:4]] == [None, 1, 1, 2]  # run 2 failed
    assert {r.cron_schedule for r in runs} == {EVERY_SECOND}
    for earlier, later in itertools.pairwise(runs):
        assert later.continued_run_id == earlier.run_id
    first = await client.get_workflow_handle(child_id, run_id=runs[0].run_id).describe()
    assert first.parent_id == parent_id


async def test_bad_cron_child_schedule_is_refused_in_workflow_code(client: Client,
                                                                   task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue,
                      workflows=[StartsCronChild, CronCounter], activities=[record_run]):
        outcome = await client.execute_workflow(
            StartsCronChild.run, args=["c-bad", "61 * * * *"], id=f"p-{uuid.uuid4()}",
            task_queue=task_queue)
    assert outcome[0] == "refused" and "cron_schedule='61 * * * *'" in outcome[1]
