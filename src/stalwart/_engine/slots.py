"""Custom slot suppliers (temporalio's ``CustomSlotSupplier``) and the worker side that
drives them: a slot is reserved before each claim, marked used with what the claim got, and
released when the task is done (or at once when the claim found nothing)."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

logger = logging.getLogger("stalwart.worker")

SlotType = Literal["workflow", "activity", "local-activity"]


class SlotPermit:
    """What ``reserve_slot`` returns; subclass it to carry your own data to release."""


@dataclass(frozen=True)
class SlotReserveContext:
    """Passed to ``reserve_slot``/``try_reserve_slot``. Stalwart workers share one code
    version, so the build id is ``""`` and there is no deployment version; nothing is sticky
    (a worker keeps its runs cached without sticky queues)."""

    slot_type: SlotType
    task_queue: str
    worker_identity: str
    worker_build_id: str = ""
    worker_deployment_version: Any = None
    is_sticky: bool = False


@runtime_checkable
class WorkflowSlotInfo(Protocol):
    workflow_type: str
    is_sticky: bool


@runtime_checkable
class ActivitySlotInfo(Protocol):
    activity_type: str


@runtime_checkable
class LocalActivitySlotInfo(Protocol):
    activity_type: str


SlotInfo: TypeAlias = WorkflowSlotInfo | ActivitySlotInfo | LocalActivitySlotInfo


@dataclass
class _WorkflowSlot:
    workflow_type: str
    is_sticky: bool = False


@dataclass
class _ActivitySlot:
    activity_type: str


@dataclass
class _LocalActivitySlot:
    activity_type: str


@dataclass(frozen=True)
class SlotMarkUsedContext:
    slot_info: SlotInfo
    permit: SlotPermit


@dataclass(frozen=True)
class SlotReleaseContext:
    slot_info: SlotInfo | None
    """None when the slot was released without being used."""
    permit: SlotPermit


class CustomSlotSupplier(ABC):
    """Decides when a worker may take another task. Exceptions from these methods are
    logged and ignored (a failing ``reserve_slot`` is retried after a second)."""

    @abstractmethod
    async def reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit:
        """Wait until a slot is free; return its permit."""

    @abstractmethod
    def try_reserve_slot(self, ctx: SlotReserveContext) -> SlotPermit | None:
        """A permit now, or None; must not block."""

    @abstractmethod
    def mark_slot_used(self, ctx: SlotMarkUsedContext) -> None:
        """The slot now holds the task ``ctx.slot_info`` describes."""

    @abstractmethod
    def release_slot(self, ctx: SlotReleaseContext) -> None:
        """The slot is free again."""


class SlotDriver:
    """Calls one supplier for one kind of task of one worker."""

    RETRY_SECONDS = 1.0

    def __init__(self, supplier: CustomSlotSupplier, slot_type: SlotType, task_queue: str,
                 identity: str) -> None:
        self.supplier = supplier
        self._context = SlotReserveContext(slot_type, task_queue, identity)

    async def reserve(self) -> SlotPermit:
        while True:
            try:
                permit = await self.supplier.reserve_slot(self._context)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("%s.reserve_slot failed; retrying",
                                 type(self.supplier).__qualname__)
                await asyncio.sleep(self.RETRY_SECONDS)
                continue
            return permit if permit is not None else SlotPermit()

    def try_reserve(self) -> SlotPermit | None:
        try:
            return self.supplier.try_reserve_slot(self._context)
        except Exception:
            logger.exception("%s.try_reserve_slot failed", type(self.supplier).__qualname__)
            return None

    def mark_used(self, permit: SlotPermit, info: SlotInfo) -> None:
        try:
            self.supplier.mark_slot_used(SlotMarkUsedContext(info, permit))
        except Exception:
            logger.exception("%s.mark_slot_used failed", type(self.supplier).__qualname__)

    def release(self, permit: SlotPermit, info: SlotInfo | None) -> None:
        try:
            self.supplier.release_slot(SlotReleaseContext(info, permit))
        except Exception:
            logger.exception("%s.release_slot failed", type(self.supplier).__qualname__)


def workflow_slot(workflow_type: str) -> SlotInfo:
    return _WorkflowSlot(workflow_type)


def activity_slot(activity_type: str, local: bool) -> SlotInfo:
    return _LocalActivitySlot(activity_type) if local else _ActivitySlot(activity_type)
