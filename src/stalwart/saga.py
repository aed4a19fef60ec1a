"""Sagas: undo completed steps, in reverse, when a workflow fails or is cancelled.

Stalwart addition (``temporalio`` has no saga helper). Each compensation is a durable activity
with its own retries, and compensations run to completion even if the workflow is cancelled
again while they run::

    @workflow.run
    async def run(self, order: Order) -> str:
        async with Saga(start_to_close_timeout=timedelta(seconds=30)) as saga:
            await workflow.execute_activity(reserve_inventory, order, start_to_close_timeout=T)
            saga.add_compensation(release_inventory, order)
            await workflow.execute_activity(charge_payment, order, start_to_close_timeout=T)
            saga.add_compensation(refund_payment, order)
            await workflow.execute_activity(dispatch_shipment, order, start_to_close_timeout=T)
        return "SUCCESS"

On an exception (or cancellation) inside the block, the registered compensations run in
reverse order and the exception propagates. Call :meth:`Saga.compensate` to run them yourself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType
from typing import Any

from . import workflow
from .common import RetryPolicy

__all__ = ["Saga"]


@dataclass
class _Compensation:
    activity: Any
    args: tuple[Any, ...]
    options: dict[str, Any] = field(default_factory=dict)


class Saga:
    """Registers compensating activities and runs them in reverse.

    Args:
        start_to_close_timeout: Default timeout for each compensation activity.
        retry_policy: Default retry policy for compensations (Temporal's default if None).
        parallel_compensation: Run all compensations at once instead of in reverse order.
        continue_on_error: Keep compensating when one compensation fails for good (the first
            error is raised after all have run); otherwise stop at the first failure.
    """

    def __init__(self, *, start_to_close_timeout: timedelta = timedelta(minutes=5),
                 retry_policy: RetryPolicy | None = None, parallel_compensation: bool = False,
                 continue_on_error: bool = True) -> None:
        self._defaults: dict[str, Any] = {"start_to_close_timeout": start_to_close_timeout,
                                          "retry_policy": retry_policy}
        self._parallel = parallel_compensation
        self._continue_on_error = continue_on_error
        self._compensations: list[_Compensation] = []
        self._cancelled_meanwhile = False

    def add_compensation(self, activity: Any, *args: Any, **activity_options: Any) -> None:
        """Register ``activity(*args)`` to undo the step that just completed."""
        self._compensations.append(_Compensation(activity, args, activity_options))

    async def compensate(self) -> None:
        """Run the registered compensations (most recent first) and forget them."""
        pending, self._compensations = list(reversed(self._compensations)), []
        self._cancelled_meanwhile = False
        first_error: BaseException | None = None
        if self._parallel:
            results = await self._uncancellable(asyncio.gather(
                *[self._start(c) for c in pending], return_exceptions=True))
            first_error = next((r for r in results if isinstance(r, BaseException)), None)
        else:
            for compensation in pending:
                try:
                    await self._uncancellable(self._start(compensation))
                except Exception as error:
                    if not self._continue_on_error:
                        raise
                    first_error = first_error or error
        if self._cancelled_meanwhile:
            # Compensations finished first; now honour the cancellation that arrived.
            raise asyncio.CancelledError()
        if first_error is not None:
            raise first_error

    def _start(self, compensation: _Compensation) -> Any:
        options = {**self._defaults, **compensation.options}
        return workflow.start_activity(compensation.activity, args=compensation.args,
                                       **options)

    async def _uncancellable(self, awaitable: Any) -> Any:
        """Wait for ``awaitable`` even if the waiting task is cancelled meanwhile."""
        future = asyncio.ensure_future(awaitable)
        while True:
            try:
                return await asyncio.shield(future)
            except asyncio.CancelledError:
                if future.done():
                    raise
                self._cancelled_meanwhile = True

    async def __aenter__(self) -> Saga:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if exc_value is not None:
            await self.compensate()

