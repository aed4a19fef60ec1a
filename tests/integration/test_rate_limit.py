"""max_task_queue_activities_per_second: one token bucket per task queue, in the store, shared
by every worker of the queue."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Worker

RATE = 5.0
COUNT = 15


@activity.defn
async def rated_call(index: int) -> int:
    return index


@workflow.defn
class RatedFanOut:
    @workflow.run
    async def run(self, count: int) -> list[int]:
        return list(await asyncio.gather(*[
            workflow.execute_activity(rated_call, i, start_to_close_timeout=timedelta(seconds=30))
            for i in range(count)]))


async def test_rate_limit_is_shared_by_all_workers_of_the_queue(
        client: Client, db_url: str, task_queue: str) -> None:
    second_client = await Client.connect(db_url)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[RatedFanOut],
                          activities=[rated_call], max_task_queue_activities_per_second=RATE), \
                Worker(second_client, task_queue=task_queue, activities=[rated_call],
                       max_task_queue_activities_per_second=RATE):
            handle = await client.start_workflow(RatedFanOut.run, COUNT, id=f"rated-{task_queue}",
                                                 task_queue=task_queue)
            assert await handle.result() == list(range(COUNT))
        events = (await handle.fetch_history()).events
    finally:
        await second_client.close()
    starts = sorted(e.timestamp for e in events if e.event_type == "ActivityTaskStarted")
    assert len(starts) == COUNT
    # The bucket holds one second's worth (RATE tokens) and refills at RATE per second, so in
    # any window of one second at most 2 x RATE activities can start, whichever worker runs
    # them; and the last can start no earlier than (COUNT - RATE) / RATE seconds after the first.
    for first in starts:
        in_window = [s for s in starts if first <= s < first + 1.0]
        assert len(in_window) <= 2 * RATE, (first, in_window)
    assert starts[-1] - starts[0] >= (COUNT - RATE) / RATE - 0.2


async def test_rate_limit_must_be_positive(client: Client, task_queue: str) -> None:
    with pytest.raises(ValueError, match="max_task_queue_activities_per_second"):
        Worker(client, task_queue=task_queue, activities=[rated_call],
               max_task_queue_activities_per_second=0)
