"""Handles workflow code holds on other workflows: children it started, and external ones."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .instance import WorkflowInstance


class ChildWorkflowHandle:
    """A started child workflow (mirrors ``temporalio.workflow.ChildWorkflowHandle``).

    Awaiting the handle waits for the child's result.
    """

    def __init__(self, instance: WorkflowInstance, seq: int, workflow_id: str,
                 result_type: Any, cancellation_type: int) -> None:
        self._instance = instance
        self._seq = seq
        self._id = workflow_id
        self._result_type = result_type
        self._cancellation_type = cancellation_type
        self._started: asyncio.Future[str] = instance.loop.create_future()
        self._result: asyncio.Future[Any] = instance.loop.create_future()
        self._cancel_requested = False
        self.first_execution_run_id: str | None = None

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self.first_execution_run_id

    async def result(self) -> Any:
        try:
            return await asyncio.shield(self._result)
        except asyncio.CancelledError:
            self._request_cancel()
            raise

    def __await__(self) -> Any:
        return self.result().__await__()

    def _request_cancel(self) -> None:
        if not self._cancel_requested and not self._result.done():
            self._cancel_requested = True
            self._instance._request_cancel_external(self._id, None, child_seq=self._seq)

    async def signal(self, signal: Any, arg: Any = None, *, args: Sequence[Any] = ()) -> None:
        """Signal the child (recorded as a command; waits until delivered)."""
        await self._instance.signal_external(self._id, None, signal,
                                             [arg] if arg is not None else list(args),
                                             child=True)


class ExternalWorkflowHandle:
    """Another workflow this one can signal or cancel by id."""

    def __init__(self, instance: WorkflowInstance, workflow_id: str,
                 run_id: str | None) -> None:
        self._instance = instance
        self._id = workflow_id
        self._run_id = run_id

    @property
    def id(self) -> str:
        return self._id

    @property
    def run_id(self) -> str | None:
        return self._run_id

    async def signal(self, signal: Any, arg: Any = None, *, args: Sequence[Any] = ()) -> None:
        """Deliver a signal to the workflow; raises ApplicationError if it is not running."""
        await self._instance.signal_external(self._id, self._run_id, signal,
                                             [arg] if arg is not None else list(args),
                                             child=False)

    async def cancel(self) -> None:
        """Ask the workflow to cancel."""
        await self._instance._request_cancel_external(self._id, self._run_id, child_seq=None)
