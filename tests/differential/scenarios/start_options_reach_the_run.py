"""What a run is started with, as the run and ``describe()`` see it: a workflow's retry policy
(``info().retry_policy``, with the maximum interval filled in) from the client and from a
parent, and a child's memo, search attributes and static summary and details."""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import (
    RetryPolicy,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

KEYWORD = SearchAttributeKey.for_keyword("CustomKeywordField")


def _policy(policy: RetryPolicy | None) -> Any:
    if policy is None:
        return None
    return {"initial": policy.initial_interval.total_seconds(),
            "backoff": policy.backoff_coefficient,
            "maximum": policy.maximum_interval.total_seconds()
            if policy.maximum_interval else None,
            "attempts": policy.maximum_attempts,
            "non_retryable": list(policy.non_retryable_error_types or [])}


@workflow.defn
class StartedWith:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        info = workflow.info()
        return {"retry": _policy(info.retry_policy), "memo": workflow.memo(),
                "keyword": info.typed_search_attributes.get(KEYWORD)}


@workflow.defn
class StartsChild:
    @workflow.run
    async def run(self) -> dict[str, Any]:
        child_id = f"{workflow.info().workflow_id}-child"
        given = await workflow.execute_child_workflow(
            StartedWith.run, id=child_id,
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=3),
                                     maximum_attempts=4, non_retryable_error_types=["Fatal"]),
            memo={"from": "parent"},
            search_attributes=TypedSearchAttributes([SearchAttributePair(KEYWORD, "kid")]),
            static_summary="the child", static_details="started by a parent")
        plain = await workflow.execute_child_workflow(StartedWith.run, id=f"{child_id}-plain")
        return {"given": given, "plain": plain}


WORKFLOWS = [StartedWith, StartsChild]
ACTIVITIES: list[Any] = []


async def run(client: Client, task_queue: str) -> object:
    with_policy = await client.execute_workflow(
        StartedWith.run, id=f"{task_queue}-policy", task_queue=task_queue,
        retry_policy=RetryPolicy(maximum_attempts=2, backoff_coefficient=3.0,
                                 maximum_interval=timedelta(seconds=30)))
    children = await client.execute_workflow(StartsChild.run, id=f"{task_queue}-parent",
                                             task_queue=task_queue)
    child = await client.get_workflow_handle(f"{task_queue}-parent-child").describe()
    plain = await client.get_workflow_handle(f"{task_queue}-parent-child-plain").describe()
    return {
        "with_policy": with_policy, "children": children,
        "child_described": [await child.static_summary(), await child.static_details(),
                            child.typed_search_attributes.get(KEYWORD), await child.memo()],
        "plain_described": [await plain.static_summary(), await plain.static_details()],
    }
