"""A workflow started with a retry policy is retried as Temporal's server retries it: a run
that fails closes with WorkflowExecutionFailed naming the next run (retry state in progress),
and that run starts under the same workflow id with attempt + 1, the failure as its last
failure and its first workflow task delayed by the policy's backoff (initial interval times
the coefficient to the attempt, capped at the maximum interval). A failure of a non-retryable
type or flagged non-retryable ends the chain, as does the last of maximum_attempts; a run
timed out by its run timeout is retried too. result() follows the chain to its end; a child
with a retry policy is retried the same way and its parent sees only the final outcome. A
run's run timeout counts from its first workflow task (after the backoff). The next run of a
continue-as-new keeps the policy (its attempts start afresh), as does a cron workflow's next
run; a failed cron run is retried before the schedule goes on."""

import asyncio
import base64
import json
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, ChildWorkflowError

POLICY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=1.5,
                     maximum_interval=timedelta(seconds=1.2), maximum_attempts=4,
                     non_retryable_error_types=["Fatal"])


@workflow.defn
class Flaky:
    @workflow.run
    async def run(self, mode: str, succeed_at: int) -> dict[str, Any]:
        info = workflow.info()
        failure = workflow.get_last_failure()
        seen = {"attempt": info.attempt, "continued": info.continued_run_id is not None,
                "first_is_self": info.first_execution_run_id == info.run_id,
                "last_failure": [type(failure).__name__, str(failure)] if failure else None,
                "has_last_result": workflow.has_last_completion_result(),
                "retry_policy": [info.retry_policy.maximum_attempts,
                                 info.retry_policy.non_retryable_error_types]
                if info.retry_policy else None}
        if info.attempt >= succeed_at:
            return seen
        if mode == "fatal_type":
            raise ApplicationError(f"attempt {info.attempt}: fatal", type="Fatal")
        if mode == "fatal_flag":
            raise ApplicationError(f"attempt {info.attempt}: flagged", non_retryable=True)
        if mode == "hang":
            await workflow.wait_condition(lambda: False)
        raise ApplicationError(f"attempt {info.attempt} fails", {"attempt": info.attempt},
                               type="Flaky")


@workflow.defn
class Continues:
    """Continues as new once; the continued run fails on its first attempt."""

    @workflow.run
    async def run(self, generation: int) -> list[Any]:
        info = workflow.info()
        if generation == 0:
            workflow.continue_as_new(1)
        if info.attempt < 2:
            raise ApplicationError(f"generation {generation} attempt {info.attempt} fails")
        return [generation, info.attempt]


@workflow.defn
class CronFlaky:
    """A cron run that fails on its first attempt and succeeds on its retry."""

    @workflow.run
    async def run(self) -> int:
        if workflow.info().attempt < 2:
            raise ApplicationError("cron run fails")
        return workflow.info().attempt


@workflow.defn
class Parent:
    @workflow.run
    async def run(self, succeed_at: int) -> Any:
        try:
            return await workflow.execute_child_workflow(
                Flaky.run, args=["fail", succeed_at], id=f"{workflow.info().workflow_id}-child",
                retry_policy=POLICY)
        except ChildWorkflowError as error:
            return ["ChildWorkflowError", str(error.cause), error.retry_state.name
                    if error.retry_state is not None else None]


WORKFLOWS = [Flaky, Continues, CronFlaky, Parent]
ACTIVITIES: list[object] = []

# What each run's started and closing events say about the chain; run ids as the run's
# place in the chain ("run0", ...), durations as Temporal's JSON writes them.
_STARTED_KEYS = ("attempt", "initiator", "firstWorkflowTaskBackoff", "continuedFailure",
                 "workflowRunTimeout", "workflowExecutionTimeout", "retryPolicy")
_CLOSED_KEYS = ("retryState", "failure", "result")


def _chain_view(value: Any, run_ids: list[str]) -> Any:
    if isinstance(value, dict) and set(value) == {"metadata", "data"}:
        # A payload as the value it holds (the converters' JSON texts may differ in key order).
        return json.loads(base64.b64decode(value["data"]))
    if isinstance(value, dict):
        # A failure's source names the SDK or server that made it, which differs.
        return {k: _chain_view(v, run_ids) for k, v in value.items()
                if k not in ("stackTrace", "encodingDecoded", "source")}
    if isinstance(value, list):
        return [_chain_view(v, run_ids) for v in value]
    if isinstance(value, str) and value in run_ids:
        return f"run{run_ids.index(value)}"
    return value


async def _chain(client: Client, workflow_id: str, run_id: str | None
                 ) -> list[dict[str, Any]]:
    """Each run of the chain from its first (``run_id``), following the closing events'
    next run."""
    runs: list[tuple[dict[str, Any], dict[str, Any], str]] = []
    run_ids: list[str] = []
    while run_id:
        run_ids.append(run_id)
        events = (await client.get_workflow_handle(workflow_id, run_id=run_id)
                  .fetch_history()).to_json_dict()["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        last = events[-1]
        closed = next(v for k, v in last.items() if k.endswith("EventAttributes"))
        runs.append((started, closed, last["eventType"].removeprefix("EVENT_TYPE_")))
        run_id = closed.get("newExecutionRunId")
    view = []
    for started, closed, close_type in runs:
        view.append(_chain_view({
            "started": {k: started.get(k) for k in _STARTED_KEYS},
            "chain": [started.get("continuedExecutionRunId"),
                      started.get("originalExecutionRunId"),
                      started.get("firstExecutionRunId")],
            "closed": [close_type, {k: closed.get(k) for k in _CLOSED_KEYS},
                       closed.get("newExecutionRunId")]}, run_ids))
    return view


async def _outcome(handle: Any) -> Any:
    try:
        return await handle.result()
    except WorkflowFailureError as error:
        cause = error.cause
        return ["WorkflowFailureError", type(cause).__name__, str(cause),
                getattr(cause, "type", None), error.retry_state.name
                if getattr(error, "retry_state", None) is not None else None]


async def _listed(client: Client, workflow_id: str) -> list[Any]:
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return sorted(((w.status.name if w.status else None) for w in runs), key=str)


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, Any] = {}
    cases = {"fails_twice": ("fail", 3, None), "fatal_type": ("fatal_type", 9, None),
             "fatal_flag": ("fatal_flag", 9, None), "exhausted": ("fail", 9, None),
             "run_timeout": ("hang", 2, timedelta(seconds=1))}
    for name, (mode, succeed_at, run_timeout) in cases.items():
        workflow_id = f"{task_queue}-{name}"
        handle = await client.start_workflow(
            Flaky.run, args=[mode, succeed_at], id=workflow_id, task_queue=task_queue,
            retry_policy=POLICY, run_timeout=run_timeout)
        case: dict[str, Any] = {"result": await _outcome(handle)}
        first = client.get_workflow_handle(workflow_id, run_id=handle.result_run_id)
        try:
            await first.result(follow_runs=False)
            case["first_alone"] = "completed"
        except WorkflowFailureError as error:
            case["first_alone"] = ["WorkflowFailureError", type(error.cause).__name__]
        except Exception as error:  # what the first run alone reports
            case["first_alone"] = [type(error).__name__]
        description = await handle.describe()
        case["describe"] = [description.status.name if description.status else None,
                            description.run_id != handle.result_run_id]
        case["first_described"] = (await first.describe()).status.name
        case["listed"] = await _listed(client, workflow_id)
        case["chain"] = await _chain(client, workflow_id, handle.result_run_id)
        observed[name] = case

    # A retry whose backoff outlasts the run timeout: the run timeout counts from the run's
    # first workflow task.
    late = await client.start_workflow(
        Flaky.run, args=["fail", 2], id=f"{task_queue}-backoff_beyond_run_timeout",
        task_queue=task_queue, run_timeout=timedelta(seconds=1),
        retry_policy=RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=2))
    observed["backoff_beyond_run_timeout"] = {
        "result": await _outcome(late),
        "chain": await _chain(client, late.id, late.result_run_id)}

    # A continue-as-new keeps the retry policy; the continued run's attempts start at 1.
    continued = await client.start_workflow(
        Continues.run, 0, id=f"{task_queue}-continued", task_queue=task_queue,
        retry_policy=POLICY)
    observed["continued"] = {"result": await _outcome(continued), "chain": [
        [run["started"]["attempt"], run["started"].get("initiator"),
         (run["started"]["retryPolicy"] or {}).get("maximumAttempts"),
         run["closed"][0], run["closed"][1]["retryState"]]
        for run in await _chain(client, continued.id, continued.result_run_id)]}

    # A cron run that fails is retried first; the retry's completion starts the next cron run
    # (attempt 1 again), which keeps the policy.
    cron = await client.start_workflow(
        CronFlaky.run, id=f"{task_queue}-cron", task_queue=task_queue,
        cron_schedule="@every 2s", retry_policy=POLICY)
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{cron.id}'")]
    while len(runs) < 3:  # a pause between reads leaves the CPU to the workers
        await asyncio.sleep(0.05)
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{cron.id}'")]
    await cron.terminate()
    chain = []
    for run in sorted(runs, key=lambda w: w.start_time)[:3]:
        events = (await client.get_workflow_handle(cron.id, run_id=run.run_id)
                  .fetch_history()).to_json_dict()["events"]
        started = events[0]["workflowExecutionStartedEventAttributes"]
        chain.append([started.get("attempt"), started.get("initiator"),
                      (started.get("retryPolicy") or {}).get("maximumAttempts")])
    observed["cron"] = chain

    for name, succeed_at in (("child_recovers", 2), ("child_exhausted", 9)):
        parent = await client.start_workflow(Parent.run, succeed_at,
                                             id=f"{task_queue}-{name}", task_queue=task_queue)
        result = await parent.result()
        events = (await parent.fetch_history()).to_json_dict()["events"]
        child = next(e["childWorkflowExecutionStartedEventAttributes"]["workflowExecution"]
                     for e in events if "childWorkflowExecutionStartedEventAttributes" in e)
        observed[name] = {"result": result, "parent_events": [
                              e["eventType"].removeprefix("EVENT_TYPE_") for e in events],
                          "chain": await _chain(client, child["workflowId"], child["runId"])}
    return observed
