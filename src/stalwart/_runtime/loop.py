"""The deterministic event loop each workflow instance runs on.

Only what workflow code needs is implemented: ready-queue callbacks, futures, tasks, and timers
that become durable timer commands. ``run_once`` is the single place where callbacks run; every
other method only queues. Anything that would touch the outside world (sockets, subprocesses,
executors, signal handlers) raises an error naming the safe alternative.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from .instance import WorkflowInstance

logger = logging.getLogger(__name__)


class WorkflowTimerHandle(asyncio.TimerHandle):
    """A timer whose firing is a ``TimerFired`` event and whose cancel is a command."""

    def __init__(self, seq: int, when: float, callback: Callable[..., Any], args: tuple[Any, ...],
                 loop: WorkflowEventLoop, context: contextvars.Context | None) -> None:
        super().__init__(when, callback, args, loop, context)
        self.seq = seq
        self.event_groups: list[dict[str, Any]] | None = None

    def cancel(self) -> None:
        if not self.cancelled():
            loop = self._loop  # type: ignore[attr-defined]
            assert isinstance(loop, WorkflowEventLoop)
            loop.instance._cancel_timer(self.seq)
        super().cancel()


class WorkflowEventLoop(asyncio.AbstractEventLoop):
    """A loop that runs only while an activation is being applied, never on its own."""

    def __init__(self, instance: WorkflowInstance) -> None:
        self.instance = instance
        self._ready: deque[asyncio.Handle] = deque()
        self._closed = False
        self.tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    # -- the choke point ---------------------------------------------------------------
    def run_once(self) -> None:
        """Run callbacks until every coroutine is blocked."""
        ready = self._ready
        while ready:
            handle = ready.popleft()
            if not handle._cancelled:
                handle._run()

    # -- what asyncio's futures, tasks and sleep use ------------------------------------
    def time(self) -> float:
        return self.instance.now_seconds

    def call_soon(  # type: ignore[override]
        self, callback: Callable[..., Any], *args: Any,
                  context: contextvars.Context | None = None) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., Any], *args: Any,
                   context: contextvars.Context | None = None) -> asyncio.TimerHandle:
        return self.instance._start_timer(delay, callback, args, context)

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., Any], *args: Any,
                context: contextvars.Context | None = None) -> asyncio.TimerHandle:
        return self.call_later(when - self.time(), callback, *args, context=context)

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(self, coro: Coroutine[Any, Any, Any] | Any, *, name: str | None = None,
                    context: contextvars.Context | None = None) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=self, name=name, context=context)
        self.tasks.add(task)
        return task

    def get_task_factory(self) -> None:
        # Read by anyio (task groups, as used by Pydantic AI's agent graph) before it
        # creates a task; every workflow task is made by create_task above.
        return None

    def set_task_factory(self, factory: Any) -> None:
        if factory is not None:
            raise RuntimeError("a task factory cannot be set on a workflow's event loop: "
                               "workflow tasks must be created by the workflow runtime")

    def get_debug(self) -> bool:
        return False

    def is_running(self) -> bool:
        return True

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        if self.instance.is_evicted:
            return  # tasks torn down with an evicted instance are expected to be pending
        exception = context.get("exception")
        logger.warning("workflow %s: %s", self.instance.info.workflow_id,
                       context.get("message"), exc_info=exception)

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.call_exception_handler(context)

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        pass

    # -- everything else is the outside world ---------------------------------------------
    def _forbidden(self, what: str) -> NoReturn:
        raise RuntimeError(
            f"{what} is not allowed in workflow code: it is not deterministic and would not "
            "replay. Do it in an activity (workflow.execute_activity) instead."
        )

    def run_in_executor(  # type: ignore[override]
        self, executor: Any, func: Any, *args: Any) -> Any:
        self._forbidden("loop.run_in_executor (and asyncio.to_thread)")

    async def getaddrinfo(self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("network access")

    async def create_connection(self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("network access")

    async def create_server(self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("network access")

    async def subprocess_exec(self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("starting a subprocess")

    async def subprocess_shell(self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("starting a subprocess")

    def add_reader(  # type: ignore[override]
        self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("file descriptor I/O")

    def add_writer(  # type: ignore[override]
        self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("file descriptor I/O")

    def add_signal_handler(  # type: ignore[override]
        self, *args: Any, **kwargs: Any) -> Any:
        self._forbidden("OS signal handlers")

    def run_forever(self) -> None:
        self._forbidden("running the workflow loop directly")

    def run_until_complete(self, future: Any) -> Any:
        self._forbidden("running the workflow loop directly")

    async def shutdown_asyncgens(self) -> None:
        pass

    async def shutdown_default_executor(self, timeout: float | None = None) -> None:
        pass
