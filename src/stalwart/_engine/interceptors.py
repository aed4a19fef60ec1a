"""Worker-side interceptor classes for activities, and the worker ``Interceptor`` base
(mirrors temporalio.worker)."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._runtime.interceptors import WorkflowInboundInterceptor, WorkflowInterceptorClassInput
from ..converter import Payload
from .activity_context import Info


@dataclass
class ExecuteActivityInput:
    fn: Callable[..., Any]
    args: Sequence[Any]
    executor: concurrent.futures.Executor | None
    headers: Mapping[str, Payload]


class ActivityOutboundInterceptor:
    """Calls out of activity code (``activity.info()``, ``activity.heartbeat()``)."""

    def __init__(self, next: ActivityOutboundInterceptor) -> None:
        self.next = next

    def info(self) -> Info:
        return self.next.info()

    def heartbeat(self, *details: Any) -> None:
        self.next.heartbeat(*details)


class ActivityInboundInterceptor:
    """Calls into activity code. Subclass, override, and call ``self.next``."""

    def __init__(self, next: ActivityInboundInterceptor) -> None:
        self.next = next

    def init(self, outbound: ActivityOutboundInterceptor) -> None:
        self.next.init(outbound)

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        return await self.next.execute_activity(input)


class Interceptor:
    """Worker interceptor: wraps activity execution and names workflow interceptor classes.

    A client interceptor that also subclasses this is used by every worker of that client.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor
                           ) -> ActivityInboundInterceptor:
        return next

    def workflow_interceptor_class(self, input: WorkflowInterceptorClassInput
                                   ) -> type[WorkflowInboundInterceptor] | None:
        return None
