"""Workflow timeouts where a run starts other than start_workflow: a cron run keeps the first
run's run and workflow task timeouts, a schedule passes its action's, update-with-start its
operation's. Compared: what each run's ``workflow.info()`` and started event report."""

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
    WithStartWorkflowOperation,
)
from temporalio.common import WorkflowIDConflictPolicy

from ._util import settle


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _timeouts() -> list[Any]:
    info = workflow.info()
    return [_seconds(info.execution_timeout), _seconds(info.run_timeout),
            _seconds(info.task_timeout)]


@workflow.defn
class CronReports:
    """The first cron run ends at once; the next waits until it is terminated."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    @workflow.run
    async def run(self) -> list[Any]:
        self.seen = _timeouts()
        if workflow.info().continued_run_id is not None:
            await workflow.wait_condition(lambda: False)
        return self.seen

    @workflow.query
    def timeouts(self) -> list[Any]:
        return self.seen


@workflow.defn
class Reports:
    @workflow.run
    async def run(self) -> list[Any]:
        return _timeouts()


@workflow.defn
class Updated:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self.done)

    @workflow.update
    def timeouts(self) -> list[Any]:
        self.done = True
        return _timeouts()


WORKFLOWS = [CronReports, Reports, Updated]
ACTIVITIES: list[object] = []

_TIMEOUTS = {"run_timeout": timedelta(minutes=30), "task_timeout": timedelta(seconds=7)}


async def _started(client: Client, workflow_id: str, run_id: str | None) -> list[Any]:
    events = (await client.get_workflow_handle(workflow_id, run_id=run_id)
              .fetch_history()).to_json_dict()["events"]
    attrs = events[0]["workflowExecutionStartedEventAttributes"]
    return [attrs.get("workflowExecutionTimeout"), attrs.get("workflowRunTimeout"),
            attrs.get("workflowTaskTimeout")]


async def _cron(client: Client, task_queue: str) -> dict[str, Any]:
    workflow_id = f"{task_queue}-cron"
    first = await client.start_workflow(CronReports.run, id=workflow_id, task_queue=task_queue,
                                        cron_schedule="@every 1s", **_TIMEOUTS)
    latest = client.get_workflow_handle(workflow_id)
    for _ in range(400):
        if (await latest.describe()).run_id != first.first_execution_run_id:
            break
        await asyncio.sleep(0.05)
    second_run = (await latest.describe()).run_id
    second = client.get_workflow_handle(workflow_id, run_id=second_run)
    await settle(second)
    out = {"first": await _started(client, workflow_id, first.first_execution_run_id),
           "second": await _started(client, workflow_id, second_run),
           "second-info": await second.query(CronReports.timeouts)}
    await second.terminate("seen enough")
    return out


async def _schedule(client: Client, task_queue: str) -> list[Any]:
    handle = await client.create_schedule(
        f"{task_queue}-schedule", Schedule(
            action=ScheduleActionStartWorkflow(
                Reports.run, id=f"{task_queue}-scheduled", task_queue=task_queue,
                execution_timeout=timedelta(hours=1), **_TIMEOUTS),
            spec=ScheduleSpec(), state=ScheduleState(paused=True)))
    await handle.trigger()
    workflow_id = None
    for _ in range(400):
        actions = (await handle.describe()).info.recent_actions
        if actions:
            workflow_id = actions[0].action.workflow_id
            break
        await asyncio.sleep(0.05)
    assert workflow_id is not None, "the schedule never started its workflow"
    result = await client.get_workflow_handle(workflow_id).result()
    started = await _started(client, workflow_id, None)
    await handle.delete()
    return [result, started]


async def _update_with_start(client: Client, task_queue: str) -> list[Any]:
    operation = WithStartWorkflowOperation(
        Updated.run, id=f"{task_queue}-updated", task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL, **_TIMEOUTS)
    seen = await client.execute_update_with_start_workflow(
        Updated.timeouts, start_workflow_operation=operation)
    handle = await operation.workflow_handle()
    await handle.result()
    return [seen, await _started(client, handle.id, None)]


async def run(client: Client, task_queue: str) -> object:
    return {"cron": await _cron(client, task_queue),
            "schedule": await _schedule(client, task_queue),
            "update_with_start": await _update_with_start(client, task_queue)}
