"""Client calls with temporalio's remaining options: a workflow's retry policy, eager start,
update-with-start's start options, updates bound to a chain, and paged listings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from stalwart import workflow
from stalwart.client import (
    Client,
    OutboundInterceptor,
    StartWorkflowInput,
    WithStartWorkflowOperation,
    WorkflowHandle,
)
from stalwart.client import Interceptor as ClientInterceptor
from stalwart.common import Priority, RetryPolicy, WorkflowIDConflictPolicy
from stalwart.exceptions import RPCError, RPCStatusCode, WorkflowNotFoundError
from stalwart.worker import Worker


@workflow.defn
class Policy:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self) -> dict[str, Any]:
        await workflow.wait_condition(lambda: self.done)
        policy = workflow.info().retry_policy
        return {"priority": workflow.info().priority.priority_key, "retry": None
                if policy is None else [policy.maximum_attempts,
                                        policy.initial_interval.total_seconds(),
                                        policy.maximum_interval.total_seconds()
                                        if policy.maximum_interval else None,
                                        list(policy.non_retryable_error_types or [])]}

    @workflow.update
    def finish(self) -> str:
        self.done = True
        return "finishing"


class StampsRetry(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        assert input.request_eager_start is None
        if input.retry_policy is None:
            input.retry_policy = RetryPolicy(maximum_attempts=9)
        return await self.next.start_workflow(input)


class Stamps(ClientInterceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return StampsRetry(next)


async def test_a_workflows_retry_policy_is_recorded_and_reported(
        client: Client, db_url: str, task_queue: str) -> None:
    stamped = await Client.connect(db_url, interceptors=[Stamps()])
    try:
        async with Worker(client, task_queue=task_queue, workflows=[Policy]):
            given = await client.start_workflow(
                Policy.run, id="given", task_queue=task_queue,
                retry_policy=RetryPolicy(maximum_attempts=3,
                                         initial_interval=timedelta(seconds=2),
                                         non_retryable_error_types=["Fatal"]))
            by_interceptor = await stamped.start_workflow(Policy.run, id="by-interceptor",
                                                          task_queue=task_queue)
            none = await client.start_workflow(Policy.run, id="none", task_queue=task_queue)
            results = []
            for handle in (given, by_interceptor, none):
                await handle.execute_update(Policy.finish)
                results.append((await handle.result())["retry"])
    finally:
        await stamped.close()
    # The maximum interval filled in as temporalio sends a policy: 100 x the initial.
    assert results == [[3, 2.0, 200.0, ["Fatal"]], [9, 1.0, 100.0, []], None]
    started = (await given.fetch_history()).events[0].attributes
    assert started["retryPolicy"]["maximumAttempts"] == 3


async def test_request_eager_start_false_keeps_the_first_task_off_this_process(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Policy]) as worker:
        eager_starts: list[str] = []
        original = worker._workflow_worker.start_with_first_task

        async def counting(request: Any, now: float) -> Any:
            eager_starts.append(request.workflow_id)
            return await original(request, now)

        worker._workflow_worker.start_with_first_task = counting  # type: ignore[method-assign]
        handles: list[WorkflowHandle[Any, Any]] = []
        for workflow_id, eager in (("default", None), ("asked", True), ("refused", False)):
            handles.append(await client.start_workflow(
                Policy.run, id=workflow_id, task_queue=task_queue,
                request_eager_start=eager))
        for handle in handles:
            await handle.execute_update(Policy.finish)
            await handle.result()
    assert eager_starts == ["default", "asked"]


async def test_update_with_start_takes_the_start_options(client: Client,
                                                         task_queue: str) -> None:
    operation: WithStartWorkflowOperation[Any] = WithStartWorkflowOperation(
        Policy.run, id="uws", task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        retry_policy=RetryPolicy(maximum_attempts=2), priority=Priority(priority_key=1),
        static_summary="started with an update", static_details="details")
    async with Worker(client, task_queue=task_queue, workflows=[Policy]):
        assert await client.execute_update_with_start_workflow(
            Policy.finish, start_workflow_operation=operation) == "finishing"
        handle = await operation.workflow_handle()
        result = await handle.result()
        described = await handle.describe()
    assert result == {"priority": 1, "retry": [2, 1.0, 100.0, []]}
    assert [await described.static_summary(), await described.static_details()] == [
        "started with an update", "details"]
    # Refused as Temporal's server refuses them; nothing starts.
    for refused, message in (({"cron_schedule": "* * * * *"}, "CronSchedule is not allowed."),
                             ({"start_delay": timedelta(seconds=5)},
                              "WorkflowStartDelay is not supported.")):
        refused_operation: WithStartWorkflowOperation[Any] = WithStartWorkflowOperation(
            Policy.run, id="refused", task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL, **refused)
        with pytest.raises(RPCError) as raised:
            await client.execute_update_with_start_workflow(
                Policy.finish, start_workflow_operation=refused_operation)
        assert (str(raised.value), raised.value.status) == (
            message, RPCStatusCode.INVALID_ARGUMENT)
        with pytest.raises(RPCError, match=message):
            await refused_operation.workflow_handle()
        assert await client.store.get_execution("refused", None) is None


async def test_an_update_through_an_old_chains_handle_is_refused(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Policy]):
        old = await client.start_workflow(Policy.run, id="reused", task_queue=task_queue)
        await old.execute_update(Policy.finish)
        await old.result()
        new = await client.start_workflow(Policy.run, id="reused", task_queue=task_queue)
        with pytest.raises(WorkflowNotFoundError, match="reused"):
            await old.start_update(Policy.finish)
        await new.execute_update(Policy.finish)
        await new.result()


@workflow.defn
class Quick:
    @workflow.run
    async def run(self, n: int) -> int:
        return n


async def test_listings_and_histories_page_as_temporalios(client: Client,
                                                          task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Quick]):
        for n in range(5):
            await client.execute_workflow(Quick.run, n, id=f"quick-{n}", task_queue=task_queue)
    listing = client.list_workflows("WorkflowType = 'Quick'", page_size=2)
    assert listing.current_page is None and listing.next_page_token is None
    await listing.fetch_next_page()
    assert listing.current_page is not None and len(listing.current_page) == 2
    assert listing.current_page_index == 0 and listing.next_page_token is not None
    first = [await listing.__anext__() for _ in range(2)]
    assert listing.current_page_index == 2
    resumed = client.list_workflows("WorkflowType = 'Quick'", page_size=2,
                                    next_page_token=listing.next_page_token)
    rest = [execution async for execution in resumed]
    ids = [e.id for e in first + rest]
    assert sorted(ids) == [f"quick-{n}" for n in range(5)] and resumed.next_page_token is None
    assert first[0].raw_info is not None and first[0].raw_info.workflow_id == first[0].id
    assert first[0].data_converter is client.data_converter
    assert [e.id async for e in client.list_workflows("WorkflowType = 'Quick'", limit=3,
                                                      page_size=2)] == ids[:3]

    handle = client.get_workflow_handle("quick-0")
    everything = [e.event_type for e in (await handle.fetch_history()).events]
    events = handle.fetch_history_events(page_size=4)
    await events.fetch_next_page()
    assert events.current_page is not None and len(events.current_page) == 4
    assert events.next_page_token is not None
    paged = [e.event_type async for e in events]
    assert paged == everything and events.next_page_token is None
    described = await handle.describe()
    assert described.raw_info is not None and described.raw_info.run_id == described.run_id
