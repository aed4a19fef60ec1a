"""Failure log records carry temporalio's ``__temporal_error_identifier``, so logging filters
written for temporalio (say, one that raises workflow task failures to ERROR) work as is."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.common import RetryPolicy
from stalwart.exceptions import ActivityError
from stalwart.worker import Worker

from ._support import wait_for_event


@activity.defn
async def always_fails() -> None:
    raise RuntimeError("activity bug")


@workflow.defn
class CallsAFailingActivity:
    @workflow.run
    async def run(self) -> str:
        try:
            await workflow.execute_activity(always_fails,
                                            start_to_close_timeout=timedelta(seconds=10),
                                            retry_policy=RetryPolicy(maximum_attempts=1))
        except ActivityError:
            return "caught"
        return "not failed"


@workflow.defn
class BuggyWorkflow:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("workflow bug")


def _identified(caplog: pytest.LogCaptureFixture, identifier: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records
            if getattr(r, "__temporal_error_identifier", None) == identifier]


async def test_failure_records_carry_temporalios_identifiers(
        client: Client, task_queue: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="stalwart")
    async with Worker(client, task_queue=task_queue,
                      workflows=[CallsAFailingActivity, BuggyWorkflow],
                      activities=[always_fails]):
        assert await client.execute_workflow(CallsAFailingActivity.run, id="activity-bug",
                                             task_queue=task_queue) == "caught"
        buggy = await client.start_workflow(BuggyWorkflow.run, id="workflow-bug",
                                            task_queue=task_queue)
        await wait_for_event(buggy, "WorkflowTaskFailed")
        await buggy.terminate("done looking")
    activity_records = _identified(caplog, "ActivityFailure")
    assert activity_records and "activity bug" in activity_records[0].getMessage()
    task_records = _identified(caplog, "WorkflowTaskFailure")
    assert task_records and "workflow bug" in task_records[0].getMessage()
    details = task_records[0].temporal_workflow
    assert details["workflow_id"] == "workflow-bug" and details["task_queue"] == task_queue
