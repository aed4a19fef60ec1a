"""Activities run by a real worker: async and thread-pool functions, by function or by name,
several at once, with typed arguments and results decoded by type hints."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from pydantic import BaseModel

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.exceptions import ApplicationError
from stalwart.worker import Worker

from ._support import ACTIVITY_TIMEOUT

# -- activities --------------------------------------------------------------------------------


@activity.defn
async def async_greet(name: str) -> str:
    return f"hello {name} from {threading.current_thread().name}"


@activity.defn
def sync_greet(name: str) -> str:
    return f"hello {name} from {threading.current_thread().name}"


@activity.defn(name="shout")
async def shout_impl(text: str) -> str:
    return text.upper()


@activity.defn
async def add(a: int, b: int, c: int) -> int:
    return a + b + c


_gather_running: list[int] = []
_gather_peak: list[int] = [0]


@activity.defn
async def overlapping_square(n: int) -> int:
    # Proves the activities overlap: each waits (bounded) until all three run at once. Async
    # activities share the worker's loop, so the bookkeeping needs no lock.
    _gather_running.append(n)
    _gather_peak[0] = max(_gather_peak[0], len(_gather_running))
    for _ in range(500):
        if _gather_peak[0] >= 3:
            break
        await asyncio.sleep(0.01)
    _gather_running.remove(n)
    return n * n


def _expect_type(value: object, expected: type) -> None:
    # Fails at once (no retries, no stuck workflow task) so a decoding bug fails the test fast.
    if not isinstance(value, expected):
        raise ApplicationError(f"expected {expected.__name__}, got {type(value).__name__}",
                               non_retryable=True)


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Order:
    item: str
    quantity: int
    color: Color
    placed_at: datetime


class Receipt(BaseModel):
    item: str
    total_quantity: int
    color: Color
    placed_at: datetime


@activity.defn
async def make_receipt(order: Order, extra: int) -> Receipt:
    # Arguments arrive as the hinted types, not as dicts and strings.
    _expect_type(order, Order)
    _expect_type(order.color, Color)
    _expect_type(order.placed_at, datetime)
    return Receipt(item=order.item, total_quantity=order.quantity + extra,
                   color=order.color, placed_at=order.placed_at)


@activity.defn
async def swap_color(color: Color) -> Color:
    _expect_type(color, Color)
    return Color.BLUE if color is Color.RED else Color.RED


@activity.defn
async def next_day(moment: datetime) -> datetime:
    _expect_type(moment, datetime)
    return moment.replace(day=moment.day + 1)


# -- workflows ---------------------------------------------------------------------------------


@workflow.defn
class AsyncActivityWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(async_greet, name,
                                               start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn
class SyncActivityWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(sync_greet, name,
                                               start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn
class ByNameWorkflow:
    @workflow.run
    async def run(self, text: str) -> list[str]:
        value = await workflow.execute_activity("shout", text, result_type=str,
                                                start_to_close_timeout=ACTIVITY_TIMEOUT)
        return [type(value).__name__, value]


@workflow.defn
class ArgsListWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(add, args=[1, 20, 300],
                                               start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn
class GatherWorkflow:
    @workflow.run
    async def run(self) -> list[int]:
        return list(await asyncio.gather(*(
            workflow.execute_activity(overlapping_square, n,
                                      start_to_close_timeout=ACTIVITY_TIMEOUT)
            for n in (2, 3, 4))))


@workflow.defn
class TypedWorkflow:
    @workflow.run
    async def run(self, order: Order) -> Receipt:
        receipt = await workflow.execute_activity(make_receipt, args=[order, 5],
                                                  start_to_close_timeout=ACTIVITY_TIMEOUT)
        # The result decodes to the activity's hinted return type inside the workflow.
        _expect_type(receipt, Receipt)
        return receipt


@workflow.defn
class EnumAndDatetimeWorkflow:
    @workflow.run
    async def run(self, color: Color, moment: datetime) -> list[str]:
        swapped = await workflow.execute_activity(swap_color, color,
                                                  start_to_close_timeout=ACTIVITY_TIMEOUT)
        later = await workflow.execute_activity(next_day, moment,
                                                start_to_close_timeout=ACTIVITY_TIMEOUT)
        return [type(swapped).__name__, swapped.value, type(later).__name__, later.isoformat()]


# -- tests -------------------------------------------------------------------------------------


async def test_activity_async_runs_on_the_worker_event_loop(client: Client,
                                                           task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[AsyncActivityWorkflow],
                      activities=[async_greet]):
        result = await client.execute_workflow(AsyncActivityWorkflow.run, "ada",
                                               id="async-activity", task_queue=task_queue)
    assert result == f"hello ada from {threading.current_thread().name}"


async def test_activity_plain_function_runs_on_the_thread_pool(client: Client,
                                                              task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[SyncActivityWorkflow],
                      activities=[sync_greet]):
        result = await client.execute_workflow(SyncActivityWorkflow.run, "ada",
                                               id="sync-activity", task_queue=task_queue)
    assert result.startswith("hello ada from stalwart-activity")


async def test_activity_by_name_with_result_type(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ByNameWorkflow],
                      activities=[shout_impl]):
        result = await client.execute_workflow(ByNameWorkflow.run, "quiet",
                                               id="by-name", task_queue=task_queue)
    assert result == ["str", "QUIET"]


async def test_activity_args_list_passes_every_argument(client: Client, task_queue: str) -> None:
    async with Worker(client, task_queue=task_queue, workflows=[ArgsListWorkflow],
                      activities=[add]):
        result = await client.execute_workflow(ArgsListWorkflow.run, id="args-list",
                                               task_queue=task_queue)
    assert result == 321


async def test_activity_gather_runs_activities_in_parallel(client: Client,
                                                           task_queue: str) -> None:
    _gather_peak[0] = 0
    async with Worker(client, task_queue=task_queue, workflows=[GatherWorkflow],
                      activities=[overlapping_square]):
        result = await client.execute_workflow(GatherWorkflow.run, id="gather",
                                               task_queue=task_queue)
    assert result == [4, 9, 16]
    assert _gather_peak[0] == 3


async def test_activity_dataclass_and_pydantic_values_decode_by_type_hints(
        client: Client, task_queue: str) -> None:
    placed = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
    async with Worker(client, task_queue=task_queue, workflows=[TypedWorkflow],
                      activities=[make_receipt]):
        receipt = await client.execute_workflow(
            TypedWorkflow.run, Order("tea", 2, Color.RED, placed), id="typed",
            task_queue=task_queue)
    assert receipt == Receipt(item="tea", total_quantity=7, color=Color.RED, placed_at=placed)


async def test_activity_enum_and_datetime_values_decode_by_type_hints(
        client: Client, task_queue: str) -> None:
    moment = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
    async with Worker(client, task_queue=task_queue, workflows=[EnumAndDatetimeWorkflow],
                      activities=[swap_color, next_day]):
        result = await client.execute_workflow(
            EnumAndDatetimeWorkflow.run, args=[Color.RED, moment], id="enum-datetime",
            task_queue=task_queue)
    assert result == ["Color", "blue", "datetime", "2024-05-18T09:30:00+00:00"]
