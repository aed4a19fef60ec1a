"""Workflow retries, as Temporal's server makes them, on every backend: a run of a workflow
started with a retry policy that fails (or that its run timeout ends) closes naming its retry,
a new run of the same workflow id with attempt + 1 whose first workflow task waits out the
policy's backoff; non-retryable failures, maximum_attempts and the execution timeout end the
chain, and a child's parent sees only the chain's outcome."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from stalwart import workflow
from stalwart.client import Client, WorkflowContinuedAsNewError, WorkflowExecutionStatus
from stalwart.common import RetryPolicy
from stalwart.exceptions import (
    ApplicationError,
    ChildWorkflowError,
    WorkflowFailureError,
)
from stalwart.worker import Worker


def _policy(**kwargs: Any) -> RetryPolicy:
    return RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=2.0,
                       maximum_interval=timedelta(milliseconds=150), **kwargs)


@workflow.defn
class Flaky:
    """Fails (as ``mode`` says) until attempt ``succeed_at``, which reports what it saw."""

    @workflow.run
    async def run(self, mode: str, succeed_at: int) -> dict[str, Any]:
        info = workflow.info()
        failure = workflow.get_last_failure()
        if info.attempt >= succeed_at:
            return {"attempt": info.attempt, "first_run_id": info.first_execution_run_id,
                    "continued_run_id": info.continued_run_id,
                    "last_failure": str(failure) if failure is not None else None}
        if mode == "fatal":
            raise ApplicationError(f"attempt {info.attempt}", type="Fatal")
        if mode == "hang":
            await workflow.wait_condition(lambda: False)
        raise ApplicationError(f"attempt {info.attempt} fails", type="Flaky")


@workflow.defn
class Continues:
    """Continues as new once; each run fails on its first attempt."""

    @workflow.run
    async def run(self, generation: int) -> list[Any]:
        info = workflow.info()
        if info.attempt < 2:
            raise ApplicationError(f"generation {generation} fails")
        if generation == 0:
            workflow.continue_as_new(1)
        policy = info.retry_policy
        return [generation, info.attempt, policy.maximum_attempts if policy else None]


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, succeed_at: int) -> Any:
        try:
            return await workflow.execute_child_workflow(
                Flaky.run, args=["fail", succeed_at],
                id=f"{workflow.info().workflow_id}-child",
                retry_policy=_policy(maximum_attempts=3))
        except ChildWorkflowError as error:
            return [str(error.cause), error.retry_state.name if error.retry_state else None]


async def _chain(client: Client, workflow_id: str, first_run_id: str
                 ) -> list[dict[str, Any]]:
    """Each run's started and closing events (Temporal's JSON), from the first run on."""
    runs = []
    run_id: str | None = first_run_id
    while run_id:
        events = (await client.get_workflow_handle(workflow_id, run_id=run_id)
                  .fetch_history()).to_json_dict()["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        closed = next(v for k, v in events[-1].items() if k.endswith("EventAttributes"))
        runs.append({"run_id": run_id, "started": started, "closed": closed,
                     "close": events[-1]["eventType"]})
        run_id = closed.get("newExecutionRunId")
    return runs


async def test_a_failed_run_is_retried_until_it_succeeds(client: Client,
                                                         task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        handle = await client.start_workflow(
            Flaky.run, args=["fail", 3], id="flaky", task_queue=task_queue,
            retry_policy=_policy(maximum_attempts=5))
        result = await handle.result()
        first = handle.result_run_id
        assert first is not None
        chain = await _chain(client, "flaky", first)
    assert result["attempt"] == 3
    assert result["first_run_id"] == first
    assert result["continued_run_id"] == chain[1]["run_id"]
    assert result["last_failure"] == "Flaky: attempt 2 fails"
    assert [run["close"] for run in chain] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED", "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED",
        "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"]
    assert [run["closed"].get("retryState") for run in chain] == [
        "RETRY_STATE_IN_PROGRESS", "RETRY_STATE_IN_PROGRESS", None]
    assert [run["started"]["attempt"] for run in chain] == [1, 2, 3]
    # initial_interval, then initial_interval * 2 capped at maximum_interval.
    assert [run["started"]["firstWorkflowTaskBackoff"] for run in chain] == [
        "0s", "0.100s", "0.150s"]
    for before, after in itertools.pairwise(chain):
        assert after["started"]["initiator"] == "CONTINUE_AS_NEW_INITIATOR_RETRY"
        assert after["started"]["continuedExecutionRunId"] == before["run_id"]
        assert after["started"]["originalExecutionRunId"] == after["run_id"]
        assert after["started"]["firstExecutionRunId"] == first
        assert after["started"]["continuedFailure"]["message"] == \
            before["closed"]["failure"]["message"]
        assert after["started"]["retryPolicy"]["maximumAttempts"] == 5
    # The first run alone, closed as failed, is carried on by its retry.
    try:
        await client.get_workflow_handle("flaky", run_id=first).result(follow_runs=False)
        raise AssertionError("the first run's result did not name its retry")
    except WorkflowContinuedAsNewError as error:
        assert error.new_execution_run_id == chain[1]["run_id"]
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
    assert description.run_id == chain[2]["run_id"]
    statuses = sorted([str(w.status) async for w in
                       client.list_workflows("WorkflowId = 'flaky'")])
    assert statuses == sorted([str(WorkflowExecutionStatus.COMPLETED),
                               str(WorkflowExecutionStatus.FAILED),
                               str(WorkflowExecutionStatus.FAILED)])


async def test_what_ends_the_chain(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        outcomes: dict[str, Any] = {}
        for name, mode, policy, execution_timeout in (
                ("fatal", "fatal", _policy(non_retryable_error_types=["Fatal"]), None),
                ("exhausted", "fail", _policy(maximum_attempts=2), None),
                # The first retry would start after the chain's execution timeout.
                ("expired", "fail", RetryPolicy(initial_interval=timedelta(seconds=30)),
                 timedelta(seconds=20))):
            handle = await client.start_workflow(
                Flaky.run, args=[mode, 9], id=name, task_queue=task_queue,
                retry_policy=policy, execution_timeout=execution_timeout)
            try:
                await handle.result()
                raise AssertionError(f"{name} did not fail")
            except WorkflowFailureError as error:
                assert handle.result_run_id is not None
                chain = await _chain(client, name, handle.result_run_id)
                outcomes[name] = [str(error.cause), len(chain),
                                  chain[-1]["closed"]["retryState"]]
    assert outcomes == {
        "fatal": ["Fatal: attempt 1", 1, "RETRY_STATE_NON_RETRYABLE_FAILURE"],
        "exhausted": ["Flaky: attempt 2 fails", 2, "RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED"],
        "expired": ["Flaky: attempt 1 fails", 1, "RETRY_STATE_TIMEOUT"]}


async def test_a_run_ended_by_its_run_timeout_is_retried(client: Client,
                                                         task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Flaky]):
        handle = await client.start_workflow(
            Flaky.run, args=["hang", 2], id="hangs", task_queue=task_queue,
            retry_policy=_policy(), run_timeout=timedelta(seconds=0.5))
        result = await handle.result()
        assert handle.result_run_id is not None
        chain = await _chain(client, "hangs", handle.result_run_id)
    assert result["attempt"] == 2
    assert result["last_failure"] == "workflow timeout"
    assert [run["close"] for run in chain] == [
        "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT", "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"]
    assert chain[0]["closed"]["retryState"] == "RETRY_STATE_IN_PROGRESS"
    assert chain[1]["started"]["workflowRunTimeout"] == "0.500s"
    assert chain[1]["started"]["continuedFailure"]["timeoutFailureInfo"] == {
        "timeoutType": "TIMEOUT_TYPE_START_TO_CLOSE"}


async def test_a_child_is_retried_and_its_parent_sees_the_outcome(client: Client,
                                                                  task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Flaky, Parent]):
        recovered = await client.execute_workflow(Parent.run, 2, id="recovers",
                                                  task_queue=task_queue)
        exhausted = await client.execute_workflow(Parent.run, 9, id="exhausted-child",
                                                  task_queue=task_queue)
    assert recovered["attempt"] == 2
    assert recovered["last_failure"] == "Flaky: attempt 1 fails"
    assert exhausted == ["Flaky: attempt 3 fails", "MAXIMUM_ATTEMPTS_REACHED"]


async def test_a_continued_run_keeps_the_policy_and_starts_its_attempts_afresh(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Continues]):
        handle = await client.start_workflow(
            Continues.run, 0, id="continues", task_queue=task_queue,
            retry_policy=_policy(maximum_attempts=2))
        result = await handle.result()
        assert handle.result_run_id is not None
        chain = await _chain(client, "continues", handle.result_run_id)
    # Generation 0 fails, is retried (attempt 2) and continues as new; generation 1 starts
    # at attempt 1 with the same policy, fails and is retried once more.
    assert result == [1, 2, 2]
    assert [(run["started"]["attempt"], run["close"].removeprefix("EVENT_TYPE_WORKFLOW_"))
            for run in chain] == [(1, "EXECUTION_FAILED"), (2, "EXECUTION_CONTINUED_AS_NEW"),
                                  (1, "EXECUTION_FAILED"), (2, "EXECUTION_COMPLETED")]
