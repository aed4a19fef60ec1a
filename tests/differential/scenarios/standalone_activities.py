"""Activities started from a client, not a workflow (``Client.start_activity``): a result, a
retried one, a failure, id conflict and reuse policies, cancel and terminate of a running
one, what describe reports, and what list and count filters find."""

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.client import ActivityFailureError, Client
from temporalio.common import ActivityIDConflictPolicy, ActivityIDReusePolicy, RetryPolicy
from temporalio.exceptions import ActivityAlreadyStartedError, ApplicationError

# Set by the activity once it runs (the worker runs in run()'s process and event loop).
activity_running = asyncio.Event()

FAST = RetryPolicy(initial_interval=timedelta(milliseconds=50), backoff_coefficient=1.0)
TIMEOUT = timedelta(seconds=30)


@activity.defn
async def greet(name: str) -> str:
    info = activity.info()
    return (f"hello {name}, attempt {info.attempt}, in workflow {info.in_workflow}, "
            f"namespace {info.namespace}, workflow namespace {info.workflow_namespace}")


@activity.defn
async def flaky() -> int:
    if activity.info().attempt < 3:
        raise RuntimeError(f"attempt {activity.info().attempt} failed")
    return activity.info().attempt


@activity.defn
async def broken() -> None:
    raise ApplicationError("no stock", type="Broken", non_retryable=True)


@activity.defn
async def crawl() -> str:
    activity_running.set()
    for _ in range(600):
        activity.heartbeat()
        await asyncio.sleep(0.05)
    return "crawled"


ACTIVITIES = [greet, flaky, broken, crawl]


def _error(error: BaseException) -> str:
    cause = getattr(error, "cause", None)
    inner = f"{type(cause).__name__}:{getattr(cause, 'type', '')}:{getattr(cause, 'message', '')}"
    return f"{type(error).__name__}({inner if cause else ''})"


async def run(client: Client, task_queue: str) -> object:
    out: dict[str, object] = {}
    options = {"task_queue": task_queue, "start_to_close_timeout": TIMEOUT}
    out["greet"] = await client.execute_activity(greet, "ada", id=f"{task_queue}-greet",
                                                 **options)
    flaky_handle = await client.start_activity(flaky, id=f"{task_queue}-flaky",
                                               retry_policy=FAST, **options)
    out["flaky"] = await flaky_handle.result()
    described = await flaky_handle.describe()
    out["flaky_described"] = [described.status.name, described.attempt,
                              described.activity_type]
    try:
        await client.execute_activity(broken, id=f"{task_queue}-broken", **options)
    except ActivityFailureError as error:
        out["broken"] = _error(error)
    first = await client.start_activity(crawl, id=f"{task_queue}-crawl",
                                        heartbeat_timeout=timedelta(seconds=5), **options)
    try:
        await client.start_activity(crawl, id=f"{task_queue}-crawl", **options)
    except ActivityAlreadyStartedError as error:
        out["duplicate"] = [type(error).__name__, error.activity_id == f"{task_queue}-crawl"]
    same = await client.start_activity(
        crawl, id=f"{task_queue}-crawl",
        id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING, **options)
    out["use_existing_same_run"] = same.run_id == first.run_id
    await asyncio.wait_for(activity_running.wait(), 20)
    await first.cancel(reason="not needed")
    try:
        await first.result()
    except ActivityFailureError as error:
        out["cancelled"] = _error(error)
    out["cancelled_status"] = (await first.describe()).status.name
    try:
        await client.start_activity(
            greet, "again", id=f"{task_queue}-greet",
            id_reuse_policy=ActivityIDReusePolicy.REJECT_DUPLICATE, **options)
    except ActivityAlreadyStartedError as error:
        out["reject_duplicate"] = type(error).__name__
    activity_running.clear()
    doomed = await client.start_activity(crawl, id=f"{task_queue}-doomed", **options)
    await asyncio.wait_for(activity_running.wait(), 20)
    await doomed.terminate(reason="enough")
    try:
        await doomed.result()
    except ActivityFailureError as error:
        out["terminated"] = _error(error)
    out["terminated_status"] = (await doomed.describe()).status.name
    # Visibility: Temporal's is eventually consistent, so wait (bounded) until it has all five
    # closed activities of this run before comparing what the filters find.
    mine = f"TaskQueue = '{task_queue}'"
    for _ in range(200):
        if (await client.count_activities(f"{mine} AND ExecutionStatus != 'Running'")
                ).count == 5:
            break
        await asyncio.sleep(0.05)
    grouped = await client.count_activities(f"{mine} GROUP BY ExecutionStatus")
    out["count_by_status"] = sorted((list(g.group_values), g.count) for g in grouped.groups)
    out["greet_ids"] = [a.activity_id async for a in client.list_activities(
        f"{mine} AND ActivityType = 'greet'")]
    out["failed_count"] = (await client.count_activities(
        f"{mine} AND ExecutionStatus = 'Failed'")).count
    out["workflow_field_count"] = (await client.count_activities(
        f"{mine} AND WorkflowId = 'x'")).count
    return out
