"""Priority as workflows and activities see it: workflow.info().priority is the priority the
workflow was started with (a child without one reports its parent's); activity.info().priority
is the activity's own (unset when it was not given one, even under a prioritised workflow)."""

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import Priority


@activity.defn
async def own_priority() -> int | None:
    return activity.info().priority.priority_key


@workflow.defn
class PriorityChild:
    @workflow.run
    async def run(self) -> list[int | None]:
        unset = await workflow.execute_activity(own_priority,
                                                start_to_close_timeout=timedelta(seconds=10))
        return [workflow.info().priority.priority_key, unset]


@workflow.defn
class PriorityParent:
    @workflow.run
    async def run(self) -> list[Any]:
        child = await workflow.execute_child_workflow(
            PriorityChild.run, id=f"{workflow.info().workflow_id}-child")
        given = await workflow.execute_activity(own_priority,
                                                start_to_close_timeout=timedelta(seconds=10),
                                                priority=Priority(priority_key=1))
        return [workflow.info().priority.priority_key, given, child]


WORKFLOWS = [PriorityParent, PriorityChild]
ACTIVITIES = [own_priority]


async def run(client: Client, task_queue: str) -> object:
    plain = await client.execute_workflow(PriorityParent.run, id=f"{task_queue}-plain",
                                          task_queue=task_queue)
    prioritised = await client.execute_workflow(PriorityParent.run, id=f"{task_queue}-prio",
                                                task_queue=task_queue,
                                                priority=Priority(priority_key=2))
    return {"plain": plain, "prioritised": prioritised}
