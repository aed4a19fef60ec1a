"""count_workflows("... GROUP BY ExecutionStatus") and fetch_history_events' iterator."""

from __future__ import annotations

import pytest

from stalwart import workflow
from stalwart.client import (
    Client,
    WorkflowExecutionCountAggregationGroup,
    WorkflowHistoryEventAsyncIterator,
    WorkflowHistoryEventFilterType,
)
from stalwart.exceptions import WorkflowFailureError
from stalwart.worker import Worker


@workflow.defn
class Ends:
    @workflow.run
    async def run(self, fail: bool) -> str:
        if fail:
            raise ValueError("no")
        return "ok"


async def test_group_by_execution_status(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[Ends],
                      workflow_failure_exception_types=[ValueError]):
        for n, fail in enumerate([False, False, True]):
            handle = await client.start_workflow(Ends.run, fail, id=f"g-{n}",
                                                 task_queue=task_queue)
            try:
                await handle.result()
            except WorkflowFailureError:
                pass
    counted = await client.count_workflows(
        f"TaskQueue = '{task_queue}' group by ExecutionStatus")
    assert counted.count == 3
    assert sorted((g.group_values, g.count) for g in counted.groups) == [
        (["Completed"], 2), (["Failed"], 1)]
    assert all(isinstance(g, WorkflowExecutionCountAggregationGroup) for g in counted.groups)
    everything = await client.count_workflows("GROUP BY ExecutionStatus")
    assert everything.count == 3
    with pytest.raises(ValueError, match="GROUP BY takes only ExecutionStatus"):
        await client.count_workflows("GROUP BY WorkflowType")
    events = handle.fetch_history_events(
        event_filter_type=WorkflowHistoryEventFilterType.CLOSE_EVENT)
    assert isinstance(events, WorkflowHistoryEventAsyncIterator)
    assert [e.event_type async for e in events] == ["WorkflowExecutionFailed"]
