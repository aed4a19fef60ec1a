"""Custom slot suppliers (WorkerTuner.create_composite with a CustomSlotSupplier): the worker
reserves a slot before each claim, marks it used with what it got and releases it after."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from stalwart import activity, workflow
from stalwart.client import Client
from stalwart.worker import (
    ActivitySlotInfo,
    CustomSlotSupplier,
    FixedSizeSlotSupplier,
    SlotMarkUsedContext,
    SlotPermit,
    SlotReleaseContext,
    SlotReserveContext,
    Worker,
    WorkerTuner,
    WorkflowSlotInfo,
)

RUNNING: list[int] = [0, 0]  # now, most at once


@activity.defn
async def slow_step(n: int) -> int:
    RUNNING[0] += 1
    RUNNING[1] = max(RUNNING[1], RUNNING[0])
    try:
        await asyncio.sleep(0.05)
        return n
    finally:
        RUNNING[0] -= 1


@workflow.defn
class FanOut:
    @workflow.run
    async def run(self, count: int) -> int:
        results = await asyncio.gather(*(
            workflow.execute_activity(slow_step, i, start_to_close_timeout=timedelta(seconds=30))
            for i in range(count)))
        return sum(results)


@dataclass
class _Permit(SlotPermit):
    number: int


@dataclass
class OneAtATime(CustomSlotSupplier):
    fail_first_reserve: bool = False
    reserves: list[SlotReserveContext] = field(default_factory=list)
    used: list[object] = field(default_factory=list)
    released: list[tuple[int, object]] = field(default_factory=list)
    issued: int = 0
    lock: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        if self.fail_first_reserve:
            self.fail_first_reserve = False
            raise RuntimeError("supplier bug")
        await self.lock.acquire()
        self.reserves.append(ctx)
        self.issued += 1
        return _Permit(self.issued)

    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        return None

    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        self.used.append(ctx.slot_info)

    def release_slot(self, ctx: SlotReleaseContext) -> None:
        assert isinstance(ctx.permit, _Permit)
        self.released.append((ctx.permit.number, ctx.slot_info))
        self.lock.release()


async def test_custom_activity_supplier_bounds_and_sees_every_task(
        client: Client, task_queue: str) -> None:
    RUNNING[:] = [0, 0]
    supplier = OneAtATime()
    tuner = WorkerTuner.create_composite(
        workflow_supplier=FixedSizeSlotSupplier(10), activity_supplier=supplier,
        local_activity_supplier=FixedSizeSlotSupplier(10))
    async with Worker(client, task_queue=task_queue, workflows=[FanOut],
                      activities=[slow_step], tuner=tuner):
        assert await client.execute_workflow(FanOut.run, 4, id="fan-out",
                                             task_queue=task_queue) == 6
    assert RUNNING[1] == 1  # the supplier's single slot, not the worker's default of 100
    assert [info.activity_type for info in supplier.used  # type: ignore[attr-defined]
            ] == ["slow_step"] * 4
    assert all(isinstance(info, ActivitySlotInfo) for info in supplier.used)
    assert {ctx.slot_type for ctx in supplier.reserves} == {"activity"}
    assert {ctx.task_queue for ctx in supplier.reserves} == {task_queue}
    # Every permit came back once: used ones with their task, idle ones with None.
    numbers = [number for number, _ in supplier.released]
    assert sorted(numbers) == list(range(1, supplier.issued + 1))
    assert sum(1 for _, info in supplier.released if info is not None) == 4


async def test_custom_workflow_supplier_and_a_failing_reserve(
        client: Client, task_queue: str, caplog: pytest.LogCaptureFixture) -> None:
    supplier = OneAtATime(fail_first_reserve=True)
    tuner = WorkerTuner.create_composite(
        workflow_supplier=supplier, activity_supplier=FixedSizeSlotSupplier(4),
        local_activity_supplier=FixedSizeSlotSupplier(4))
    with caplog.at_level(logging.ERROR, logger="stalwart.worker"):
        async with Worker(client, task_queue=task_queue, workflows=[FanOut],
                          activities=[slow_step], tuner=tuner):
            assert await client.execute_workflow(FanOut.run, 2, id="fan-wf",
                                                 task_queue=task_queue) == 1
    assert "reserve_slot failed" in caplog.text  # logged, retried, the worker lived on
    workflow_infos = [info for info in supplier.used if isinstance(info, WorkflowSlotInfo)]
    assert workflow_infos and {i.workflow_type for i in workflow_infos} == {"FanOut"}
    assert {ctx.slot_type for ctx in supplier.reserves} == {"workflow"}
    numbers = [number for number, _ in supplier.released]
    assert sorted(numbers) == list(range(1, supplier.issued + 1))
