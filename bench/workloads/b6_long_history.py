"""B6: one workflow with a long chain of sequential activities, then a replay of its history."""

from __future__ import annotations

import time
from typing import Any

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import Replayer, Worker

from .._common import ACTIVITY_TIMEOUT, Config, ms, new_id, rounded

NAME = "B6_long_history"


@activity.defn(name="b6_echo")
async def echo(value: int) -> int:
    return value


@workflow.defn(name="B6LongChain")
class LongChain:
    @workflow.run
    async def run(self, length: int) -> int:
        total = 0
        for i in range(length):
            total += await workflow.execute_activity(echo, i,
                                                     start_to_close_timeout=ACTIVITY_TIMEOUT)
        return total


async def run(config: Config) -> dict[str, Any]:
    length = 100 if config.short else 1000
    client = await Client.connect(config.db_url("b6"))
    queue = new_id("b6")
    workflow_id = new_id("b6")
    try:
        async with Worker(client, task_queue=queue, workflows=[LongChain], activities=[echo]):
            started = time.perf_counter()
            result = await client.execute_workflow(LongChain.run, length, id=workflow_id,
                                                   task_queue=queue)
            total = time.perf_counter() - started
        if result != length * (length - 1) // 2:
            raise RuntimeError(f"B6 workflow returned {result!r}")
        fetch_started = time.perf_counter()
        history = await client.get_workflow_handle(workflow_id).fetch_history()
        fetch = time.perf_counter() - fetch_started
        replayer = Replayer(workflows=[LongChain])
        replay_started = time.perf_counter()
        await replayer.replay_workflow(history)
        replay = time.perf_counter() - replay_started
    finally:
        await client.close()
    return {"activities": length, "total_s": rounded(total),
            "ms_per_activity": ms(total / length), "history_events": len(history.events),
            "fetch_history_ms": ms(fetch), "replay_ms": ms(replay)}
