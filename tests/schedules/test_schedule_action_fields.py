"""Every field of ``ScheduleActionStartWorkflow`` survives the store (``describe()`` gives back
what was created) and reaches the run the schedule starts."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from stalwart import workflow
from stalwart.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleSpec,
    ScheduleState,
)
from stalwart.common import (
    Priority,
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)
from stalwart.converter import DataConverter
from stalwart.exceptions import ApplicationError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

CONVERTER = DataConverter.default.payload_converter
CUSTOMER = SearchAttributeKey.for_keyword("CustomerId")
# Only 2020 matches: nothing falls due while the test runs; the test triggers the start.
PAST_HOURLY = "0 * * * * 2020"


@workflow.defn
class Reports:
    """Returns what its run was started with."""

    @workflow.run
    async def run(self, label: str) -> dict[str, Any]:
        info = workflow.info()
        policy = info.retry_policy
        return {
            "label": label, "memo": workflow.memo(),
            "customer": info.typed_search_attributes.get(CUSTOMER),
            "priority": info.priority.priority_key,
            "retry": None if policy is None else [
                policy.maximum_attempts, policy.initial_interval.total_seconds(),
                policy.maximum_interval.total_seconds() if policy.maximum_interval else None],
            "run_timeout": info.run_timeout.total_seconds() if info.run_timeout else None,
            "task_timeout": info.task_timeout.total_seconds() if info.task_timeout else None,
        }


def action(task_queue: str) -> ScheduleActionStartWorkflow:
    return ScheduleActionStartWorkflow(
        Reports.run, "from-schedule", id="reports", task_queue=task_queue,
        execution_timeout=timedelta(hours=2), run_timeout=timedelta(hours=1),
        task_timeout=timedelta(seconds=20),
        retry_policy=RetryPolicy(maximum_attempts=4, initial_interval=timedelta(seconds=2)),
        memo={"owner": "ops"},
        typed_search_attributes=TypedSearchAttributes([SearchAttributePair(CUSTOMER, "c-9")]),
        static_summary="nightly report", static_details="details of the report",
        headers={"tenant": CONVERTER.to_payload("acme")},
        priority=Priority(priority_key=2, fairness_key="acme", fairness_weight=1.5))


async def test_every_action_field_round_trips_and_reaches_the_started_run(
        client: Client, task_queue: str) -> None:
    created = action(task_queue)
    handle = await client.create_schedule("reports-schedule", Schedule(
        action=created, spec=ScheduleSpec(cron_expressions=[PAST_HOURLY]),
        state=ScheduleState()))

    read = (await handle.describe()).schedule.action
    assert isinstance(read, ScheduleActionStartWorkflow)
    assert (read.workflow, read.id, read.task_queue) == ("Reports", "reports", task_queue)
    assert [CONVERTER.from_payload(p) for p in read.args] == ["from-schedule"]
    assert (read.execution_timeout, read.run_timeout, read.task_timeout) == (
        timedelta(hours=2), timedelta(hours=1), timedelta(seconds=20))
    assert read.retry_policy == created.retry_policy
    assert {k: CONVERTER.from_payload(v) for k, v in (read.memo or {}).items()} == \
        {"owner": "ops"}
    assert read.typed_search_attributes.get(CUSTOMER) == "c-9"
    assert (read.static_summary, read.static_details) == (
        "nightly report", "details of the report")
    assert {k: CONVERTER.from_payload(v) for k, v in (read.headers or {}).items()} == \
        {"tenant": "acme"}
    assert read.priority == Priority(priority_key=2, fairness_key="acme", fairness_weight=1.5)

    async with Worker(client, task_queue=task_queue, workflows=[Reports]):
        await handle.trigger()

        async def started() -> list[str]:
            return [r.workflow_id for r in await client.store.list_executions(
                workflow_id_prefix="reports-")]

        ids = await eventually(started, what="the schedule's run")
        run = client.get_workflow_handle(ids[0])
        result = await run.result()
        described = await run.describe()
        first = (await run.fetch_history()).events[0].attributes
    assert result == {
        "label": "from-schedule", "memo": {"owner": "ops"}, "customer": "c-9", "priority": 2,
        # The maximum interval is filled in as Temporal's SDK sends it: 100 x the initial.
        "retry": [4, 2.0, 200.0], "run_timeout": 3600.0, "task_timeout": 20.0}
    assert await described.static_summary() == "nightly report"
    assert await described.static_details() == "details of the report"
    # The run's started event carries the action's headers (Temporal's JSON: base64 data).
    assert base64.b64decode(first["header"]["fields"]["tenant"]["data"]) == b'"acme"'


def test_action_defaults_and_checks() -> None:
    plain = ScheduleActionStartWorkflow("Reports", id="r", task_queue="q")
    assert plain.priority == Priority.default
    assert (plain.headers, plain.retry_policy, plain.memo) == (None, None, None)
    with pytest.raises(TypeError, match="priority must be a Priority"):
        ScheduleActionStartWorkflow("Reports", id="r", task_queue="q",
                                    priority=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="retry_policy must be a RetryPolicy"):
        ScheduleActionStartWorkflow("Reports", id="r", task_queue="q",
                                    retry_policy={"maximum_attempts": 1})  # type: ignore[arg-type]


@workflow.defn
class FailsFirst:
    """Fails on its first attempt, succeeds on the next."""

    @workflow.run
    async def run(self) -> int:
        attempt = workflow.info().attempt
        if attempt < 2:
            raise ApplicationError(f"attempt {attempt} fails")
        return attempt


async def test_a_scheduled_run_is_retried_by_the_actions_retry_policy(
        client: Client, task_queue: str) -> None:
    handle = await client.create_schedule("retried-schedule", Schedule(
        action=ScheduleActionStartWorkflow(
            FailsFirst.run, id="retried", task_queue=task_queue,
            retry_policy=RetryPolicy(maximum_attempts=3,
                                     initial_interval=timedelta(milliseconds=100))),
        spec=ScheduleSpec(cron_expressions=[PAST_HOURLY]), state=ScheduleState()))
    async with Worker(client, task_queue=task_queue, workflows=[FailsFirst]):
        await handle.trigger()

        async def started() -> list[str]:
            return [r.workflow_id for r in await client.store.list_executions(
                workflow_id_prefix="retried-")]

        ids = await eventually(started, what="the schedule's run")
        run = client.get_workflow_handle(ids[0])
        # The first attempt failed and was retried: the result is the second attempt's.
        assert await run.result() == 2
        runs = [r async for r in client.list_workflows(f"WorkflowId = '{ids[0]}'")]
    assert sorted(r.status.name for r in runs) == ["COMPLETED", "FAILED"]
