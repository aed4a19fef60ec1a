"""list_workflows / count_workflows filters and describe(): memo, typed search attributes,
status names, workflow type and task queue as the client sees them. Needs the search
attribute CustomKeywordField (Keyword) registered on the server."""


from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from ._util import eventual_count, settle

CUSTOMER = SearchAttributeKey.for_keyword("CustomKeywordField")


@workflow.defn
class Listed:
    @workflow.run
    async def run(self, wait: bool) -> str:
        if wait:
            await workflow.wait_condition(lambda: False)
        return "done"


WORKFLOWS = [Listed]
ACTIVITIES: list[object] = []


async def run(client: Client, task_queue: str) -> object:
    attributes = TypedSearchAttributes([SearchAttributePair(CUSTOMER, f"{task_queue}-c1")])
    done = await client.start_workflow(Listed.run, False, id=f"{task_queue}-done",
                                       task_queue=task_queue, memo={"owner": "ann"},
                                       search_attributes=attributes)
    await done.result()
    running = await client.start_workflow(Listed.run, True, id=f"{task_queue}-running",
                                          task_queue=task_queue, search_attributes=attributes)
    base = f"TaskQueue = '{task_queue}'"
    observed: dict[str, object] = {
        "all": await eventual_count(client, base, 2),
        "completed": await eventual_count(
            client, f"{base} AND ExecutionStatus = 'Completed'", 1),
        "by_customer": await eventual_count(
            client, f"CustomKeywordField = '{task_queue}-c1'", 2),
        "by_type": await eventual_count(client, f"{base} AND WorkflowType = 'Listed'", 2),
    }
    listed = [w async for w in client.list_workflows(f"{base} AND ExecutionStatus = 'Running'")]
    observed["listed"] = [[w.id == running.id, w.status.name if w.status else None,
                           w.workflow_type, w.task_queue == task_queue] for w in listed]
    description = await done.describe()
    observed["describe"] = {
        "memo": await description.memo(),
        "memo_value": await description.memo_value("owner"),
        "customer": description.typed_search_attributes.get(CUSTOMER) == f"{task_queue}-c1",
        "status": description.status.name if description.status else None,
        "type": description.workflow_type,
        "history_length_positive": description.history_length > 0,
        "start_before_close": description.start_time <= description.close_time,
    }
    # A terminate that finds the first workflow task still in flight fails it on Temporal
    # (WorkflowTaskFailed before the close): wait until it has ended, on both servers.
    await settle(running)
    await running.terminate()
    return observed
