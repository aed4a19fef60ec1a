"""list_workflows / count_workflows beyond equality filters: ``limit=``, ``page_size=``,
StartTime ranges, WorkflowType and ExecutionStatus together, the fields of the
listed ``WorkflowExecution`` items; describe() of a run started with ``start_delay``,
``memo``, ``static_summary`` / ``static_details`` and search attributes (execution_time,
close_time, parent and root ids).

Left out on purpose: ``ORDER BY`` (Temporal's dev server refuses it with INVALID_ARGUMENT;
Stalwart orders, as Temporal with Elasticsearch does: docs/visibility.md). The history of a run
in its start delay is ``start_delay_history``'s."""

from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client, RPCError
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from ._util import eventual_count, settle

RANK = SearchAttributeKey.for_int("CustomIntField")


@workflow.defn
class Item:
    @workflow.run
    async def run(self, wait: bool) -> str:
        if wait:
            await workflow.wait_condition(lambda: False)
        return "done"


WORKFLOWS = [Item]
ACTIVITIES: list[object] = []


async def _outcome(call: object) -> object:
    try:
        return ["ok", await call]  # type: ignore[misc]
    except RPCError as error:
        return ["RPCError", error.status.name]
    except Exception as error:  # the type is the observation
        return [type(error).__name__]


async def _ids(client: Client, query: str) -> list[str]:
    # Created and iterated in one call: Stalwart refuses a bad query when list_workflows is
    # called, temporalio when the iteration fetches the first page.
    return [w.id async for w in client.list_workflows(query)]


async def run(client: Client, task_queue: str) -> object:
    observed: dict[str, object] = {}
    handles = []
    for n in range(5):
        handle = await client.start_workflow(
            Item.run, n == 4, id=f"{task_queue}-{n}", task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(RANK, n)]))
        if n < 4:
            await handle.result()
        handles.append(handle)
    base = f"TaskQueue = '{task_queue}'"
    observed["all"] = await eventual_count(client, base, 5)
    observed["closed"] = await eventual_count(
        client, f"{base} AND ExecutionStatus = 'Completed'", 4)
    observed["closed_after_running"] = await eventual_count(
        client, f"{base} AND ExecutionStatus != 'Running' AND WorkflowType = 'Item'", 4)
    first_start = (await handles[0].describe()).start_time
    observed["start_range"] = await eventual_count(
        client, f"{base} AND StartTime >= '{first_start.isoformat()}'", 5)
    observed["start_before"] = await eventual_count(
        client, f"{base} AND StartTime < '{first_start.isoformat()}'", 0)
    observed["rank_range"] = await eventual_count(
        client, f"{base} AND CustomIntField BETWEEN 1 AND 3", 3)

    listed = [w async for w in client.list_workflows(base, page_size=2)]
    observed["paged_ids"] = sorted(w.id for w in listed)
    observed["limited"] = len([w async for w in client.list_workflows(base, limit=3)])
    observed["limited_paged"] = len([w async for w in client.list_workflows(
        base, limit=3, page_size=2)])
    observed["group_by_list"] = await _outcome(_ids(client, f"{base} GROUP BY ExecutionStatus"))
    observed["bad_query"] = await _outcome(_ids(client, f"{base} AND"))
    observed["unknown_attribute"] = await _outcome(client.count_workflows("NoSuchField = 'x'"))
    item = next(w for w in listed if w.id == handles[0].id)
    observed["listed_item"] = {
        "run_id": item.run_id == handles[0].result_run_id,
        "type": item.workflow_type, "status": item.status.name if item.status else None,
        "task_queue": item.task_queue == task_queue,
        "close_time": item.close_time is not None,
        "execution_time": item.execution_time == item.start_time,
        "history_length": item.history_length,
        "parent": [item.parent_id, item.parent_run_id],
        "rank": item.typed_search_attributes.get(RANK),
        "namespace": item.namespace,
    }

    delayed = await client.start_workflow(
        Item.run, True, id=f"{task_queue}-delayed", task_queue=task_queue,
        start_delay=timedelta(hours=1), memo={"owner": "ann", "n": 3},
        static_summary="a summary", static_details="some details")
    described = await delayed.describe()
    observed["delayed"] = {
        "status": described.status.name if described.status else None,
        "execution_time_delay": (described.execution_time - described.start_time)
        if described.execution_time else None,
        "close_time": described.close_time,
        "memo": await described.memo(),
        "summary": await described.static_summary(),
        "details": await described.static_details(),
        "parent": [described.parent_id, described.parent_run_id],
        "root": [described.root_id == delayed.id, described.root_run_id == delayed.result_run_id],
    }
    if isinstance(observed["delayed"]["execution_time_delay"], timedelta):  # type: ignore[index]
        observed["delayed"]["execution_time_delay"] = (  # type: ignore[index]
            observed["delayed"]["execution_time_delay"].total_seconds())  # type: ignore[index]
    await delayed.terminate("over")
    await settle(handles[4])  # a task still in flight would be failed by the terminate
    await handles[4].terminate("over")
    return observed
