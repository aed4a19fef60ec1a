"""count_workflows with "GROUP BY ExecutionStatus": one group per status that has runs, its
value the status name; and fetch_history_events as an async iterator with a close-event
filter."""

from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowHistoryEventFilterType
from temporalio.exceptions import ApplicationError

from ._util import settle


@workflow.defn
class Outcome:
    @workflow.run
    async def run(self, kind: str) -> str:
        if kind == "fail":
            raise ApplicationError("failed on purpose", non_retryable=True)
        if kind == "wait":
            await workflow.wait_condition(lambda: False)
        return kind


WORKFLOWS = [Outcome]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    handles = []
    for n, kind in enumerate(["ok", "ok", "fail", "wait"]):
        handles.append(await client.start_workflow(Outcome.run, kind, id=f"{task_queue}-{n}",
                                                   task_queue=task_queue))
    for handle in handles[:3]:
        try:
            await handle.result()
        except Exception:
            pass
    query = f"TaskQueue = '{task_queue}' GROUP BY ExecutionStatus"
    groups: list[Any] = []
    while True:  # visibility catches up on its own time on Temporal
        counted = await client.count_workflows(query)
        groups = sorted([list(g.group_values), g.count] for g in counted.groups)
        if counted.count == 4 and groups == sorted(
                [[["Completed"], 2], [["Failed"], 1], [["Running"], 1]]):
            break
    observed: dict[str, object] = {"count": counted.count, "groups": groups}
    close_only = [e.event_type async for e in handles[0].fetch_history_events(
        event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT)]
    observed["close_events"] = len(close_only)
    observed["all_events"] = len([e async for e in handles[0].fetch_history_events()])
    await settle(handles[3])  # a task still in flight would be failed by the terminate
    await handles[3].terminate("done")
    return observed
