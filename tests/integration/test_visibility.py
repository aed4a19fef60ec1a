"""Search attributes, memo and list filters through the public API on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stalwart import workflow
from stalwart.client import Client, WorkflowExecutionStatus
from stalwart.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

CUSTOMER = SearchAttributeKey.for_keyword("CustomerId")
STAGE = SearchAttributeKey.for_keyword("Stage")
TOKENS = SearchAttributeKey.for_int("TokensUsed")
SCORE = SearchAttributeKey.for_float("Score")
URGENT = SearchAttributeKey.for_bool("Urgent")
DUE = SearchAttributeKey.for_datetime("DueAt")
TAGS = SearchAttributeKey.for_keyword_list("Tags")


@workflow.defn
class TaggedAgent:
    @workflow.run
    async def run(self, tokens: int) -> list[str]:
        before = workflow.info().typed_search_attributes.get(STAGE)
        workflow.upsert_search_attributes([STAGE.value_set("done"), TOKENS.value_set(tokens)])
        workflow.upsert_memo({"summary": f"used {tokens}"})
        after = workflow.info().typed_search_attributes.get(STAGE)
        return [str(before), str(after), workflow.memo_value("summary", type_hint=str)]


@workflow.defn
class WrongType:
    @workflow.run
    async def run(self) -> None:
        workflow.upsert_search_attributes([SearchAttributeKey.for_int("CustomerId").value_set(3)])


def attributes(customer: str, **extra: object) -> TypedSearchAttributes:
    pairs = [SearchAttributePair(CUSTOMER, customer)]
    pairs += [SearchAttributePair(key, value) for key, value in extra.items()]  # type: ignore[misc]
    return TypedSearchAttributes(pairs)


async def start_tagged(client: Client, task_queue: str, count: int) -> None:
    for i in range(count):
        await client.execute_workflow(
            TaggedAgent.run, i * 100, id=f"agent-{i}", task_queue=task_queue,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(CUSTOMER, f"c-{i % 2}"),
                SearchAttributePair(TAGS, ["llm", f"t{i}"]),
                SearchAttributePair(DUE, datetime(2030, 1, 1 + i, tzinfo=UTC)),
            ]), memo={"owner": "ops"})


async def ids(client: Client, query: str) -> list[str]:
    return [execution.id async for execution in client.list_workflows(query)]


async def test_search_attributes_set_at_start_and_upserted_are_visible(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        result = await client.execute_workflow(
            TaggedAgent.run, 250, id="sa-1", task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(CUSTOMER, "c-9"),
                                                     SearchAttributePair(STAGE, "new")]),
            memo={"owner": "ops"})
    assert result == ["new", "done", "used 250"]
    description = await client.get_workflow_handle("sa-1").describe()
    assert description.typed_search_attributes.get(CUSTOMER) == "c-9"
    assert description.typed_search_attributes.get(STAGE) == "done"
    assert description.typed_search_attributes.get(TOKENS) == 250
    assert description.search_attributes["TokensUsed"] == [250]
    assert await description.memo() == {"owner": "ops", "summary": "used 250"}
    history = await client.get_workflow_handle("sa-1").fetch_history()
    types = [event.event_type for event in history.events]
    assert "UpsertWorkflowSearchAttributes" in types and "WorkflowPropertiesModified" in types


async def test_list_workflows_filters_by_builtin_and_custom_fields(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        await start_tagged(client, task_queue, 5)
    assert await ids(client, "CustomerId = 'c-1' ORDER BY StartTime ASC") == ["agent-1",
                                                                              "agent-3"]
    assert sorted(await ids(client, "TokensUsed >= 200 AND TokensUsed < 400")) == [
        "agent-2", "agent-3"]
    assert sorted(await ids(client, "TokensUsed BETWEEN 100 AND 200")) == ["agent-1", "agent-2"]
    assert sorted(await ids(client, "Tags = 't3' OR WorkflowId = 'agent-0'")) == [
        "agent-0", "agent-3"]
    assert sorted(await ids(client, "CustomerId IN ('c-0') AND NOT Tags = 't0'")) == [
        "agent-2", "agent-4"]
    assert await ids(client, "DueAt > '2030-01-04T00:00:00Z'") == ["agent-4"]
    assert len(await ids(client, "WorkflowId STARTS_WITH 'agent-'")) == 5
    assert len(await ids(client, "ExecutionStatus = 'Completed' AND WorkflowType = "
                                 "'TaggedAgent' AND TaskQueue = '" + task_queue + "'")) == 5
    assert await ids(client, "ExecutionStatus = 'Running'") == []
    assert len(await ids(client, "CloseTime IS NOT NULL")) == 5
    assert (await client.count_workflows("CustomerId != 'c-1'")).count == 3
    started = [e async for e in client.list_workflows("ORDER BY StartTime DESC")]
    assert started[0].id == "agent-4"
    assert all(e.status == WorkflowExecutionStatus.COMPLETED for e in started)


async def test_list_workflows_limit_pages_and_map_histories(client: Client,
                                                            task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        await start_tagged(client, task_queue, 5)
    limited = [e.id async for e in client.list_workflows(limit=2)]
    assert len(limited) == 2
    paged = [e.id async for e in client.list_workflows(page_size=2)]
    assert sorted(paged) == [f"agent-{i}" for i in range(5)]
    histories = [h async for h in client.list_workflows("CustomerId = 'c-0'").map_histories()]
    assert len(histories) == 3
    assert all(h.events[0].event_type == "WorkflowExecutionStarted" for h in histories)


@pytest.mark.parametrize(("query", "message"), [
    ("CustomerId = ", "position 13"),
    ("Nope = 'x'", "unknown field 'Nope'"),
    ("StartTime > 'yesterday'", "ISO 8601"),
    ("ExecutionStatus = 'Sleeping'", "unknown ExecutionStatus"),
    ("WorkflowId = 'a' ORDER BY", "position 25"),
    ("WorkflowId == 'a'", "position 12"),
])
async def test_list_workflows_malformed_query_points_at_the_problem(
        client: Client, query: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        [e async for e in client.list_workflows(query)]


async def test_search_attribute_of_wrong_type_is_refused_with_the_name(
        client: Client, task_queue: str) -> None:
    with pytest.raises(TypeError, match="'TokensUsed' is Int"):
        await client.start_workflow(
            TaggedAgent.run, 1, id="bad-type", task_queue=task_queue,
            search_attributes=TypedSearchAttributes([SearchAttributePair(TOKENS, "lots")]))
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        await start_tagged(client, task_queue, 1)
    # CustomerId is now a Keyword in this store: using it as an Int is refused at start...
    with pytest.raises(TypeError, match="'CustomerId' is Keyword in this store"):
        await client.start_workflow(TaggedAgent.run, 1, id="bad-type-2", task_queue=task_queue,
                                    search_attributes={"CustomerId": [7]})


async def test_upsert_of_wrong_type_fails_the_workflow_task_with_a_clear_message(
        client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent, WrongType]):
        await start_tagged(client, task_queue, 1)
        handle = await client.start_workflow(WrongType.run, id="wrong", task_queue=task_queue)

        async def task_failed() -> str:
            events = (await handle.fetch_history()).events
            failed = [e for e in events if e.event_type == "WorkflowTaskFailed"]
            return failed[0].attributes["failure"]["message"] if failed else ""

        message = await eventually(task_failed, what="a WorkflowTaskFailed event")
    assert "'CustomerId' is Keyword in this store" in message
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING
    assert "CustomerId" not in description.search_attributes


async def test_dict_form_search_attributes_are_accepted(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        await client.execute_workflow(TaggedAgent.run, 5, id="dict-form", task_queue=task_queue,
                                      search_attributes={"CustomerId": ["c-dict"]})
    assert await ids(client, "CustomerId = 'c-dict'") == ["dict-form"]


async def test_upsert_outside_a_workflow_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not in workflow code"):
        workflow.upsert_search_attributes([STAGE.value_set("x")])


async def test_timestamps_in_filters_use_start_time(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        await start_tagged(client, task_queue, 2)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await ids(client, f"StartTime > '{later}'") == []
    assert len(await ids(client, f"StartTime < '{later}'")) == 2


@workflow.defn
class Idle:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)


async def test_start_delay_summary_and_details_are_described(client: Client,
                                                             task_queue: str) -> None:
    handle = await client.start_workflow(
        Idle.run, id="delayed", task_queue=task_queue, start_delay=timedelta(hours=1),
        static_summary="a summary", static_details="some details")
    async with Worker(client, task_queue=task_queue, workflows=[Idle]):
        described = await handle.describe()
        # The first workflow task waits for the delay: no worker has run it.
        assert described.execution_time - described.start_time == timedelta(hours=1)
        assert await described.static_summary() == "a summary"
        assert await described.static_details() == "some details"
        assert [described.root_id, described.root_run_id] == [handle.id, handle.result_run_id]
        assert (await handle.fetch_history()).events[-1].event_type != "WorkflowTaskStarted"
        await handle.terminate("over")
    plain = await (await client.start_workflow(Idle.run, id="plain", task_queue=task_queue)
                   ).describe()
    assert [await plain.static_summary(), await plain.static_details()] == [None, None]
    with pytest.raises(ValueError, match="cron_schedule and start_delay"):
        await client.start_workflow(Idle.run, id="both", task_queue=task_queue,
                                    cron_schedule="* * * * *", start_delay=timedelta(1))
    with pytest.raises(ValueError, match="start_delay must not be negative"):
        await client.start_workflow(Idle.run, id="negative", task_queue=task_queue,
                                    start_delay=timedelta(seconds=-1))


async def test_start_time_of_a_listed_run_matches_its_own_filter(client: Client,
                                                                 task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        await start_tagged(client, task_queue, 3)
    for execution in [e async for e in client.list_workflows("WorkflowType = 'TaggedAgent'")]:
        since = execution.start_time.isoformat()
        assert execution.id in await ids(client, f"StartTime >= '{since}'")
        assert execution.id not in await ids(client, f"StartTime < '{since}'")


async def test_list_query_errors_are_rpc_errors_and_group_by_is_ignored(
        client: Client, task_queue: str) -> None:
    from stalwart.client import RPCError, RPCStatusCode
    async with Worker(client, task_queue=task_queue, workflows=[TaggedAgent]):
        await start_tagged(client, task_queue, 2)
    assert sorted(await ids(client, "WorkflowType = 'TaggedAgent' GROUP BY ExecutionStatus")
                  ) == ["agent-0", "agent-1"]
    with pytest.raises(RPCError) as raised:
        await ids(client, "WorkflowType = 'TaggedAgent' AND")
    assert raised.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert isinstance(raised.value, ValueError)
