"""Time skipping driven by workflows (temporalio's V2 ``TimeSkipper``) and the clock plumbing the
test environments share. Knows the client, its workers and the store's due times; knows nothing
of ``WorkflowEnvironment``.

Temporal keeps one virtual clock per workflow on its server. Stalwart's time lives in the
processes that run the workers, so a ``TimeSkipper`` has one :class:`SkippingClock` that its
client and every worker built from that client share: a workflow started with skipping enabled
moves it, and with it the timers of every other workflow on those workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ._client_interceptors import (
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    StartWorkflowUpdateWithStartInput,
)
from ._engine.clock import SkippingClock
from .client import Client, WorkflowExecutionStatus, WorkflowHandle

# What Temporal's server applies for max_session_skip_count=0 (its effective config says so).
DEFAULT_MAX_SESSION_SKIPS = 200

# Small pauses between reads of worker state while waiting for work in flight to settle: the
# workers publish no "idle" event, and the store's due times change under them.
_POLL = 0.005


def wake_sweepers(client: Client) -> None:
    """Tell the workers' sweepers that time moved, so due timers and timeouts fire now."""
    notifier = getattr(client.store, "notifier", None)
    if notifier is not None:
        notifier.publish([("deadline", "*"), ("workflow_task", "*"), ("activity_task", "*")])


def any_worker_running(client: Client) -> bool:
    return any(w.is_running for w in list(client._workers))


async def is_idle(client: Client) -> bool:
    """Every running worker of ``client`` is idle and the store holds nothing ready to run."""
    workers = list(client._workers)
    if not workers or not all(w._is_idle() for w in workers if w.is_running):
        return False
    return not await client.store.has_ready_work(client._clock.now())


async def settle(client: Client) -> None:
    """Wait until the workers are idle twice in a row, so in-flight hand-offs finish (at once
    when no worker runs: nothing would ever pick the work up)."""
    while any_worker_running(client):
        await asyncio.sleep(_POLL)
        if not await is_idle(client):
            continue
        await asyncio.sleep(_POLL)
        if await is_idle(client):
            return


@dataclass(frozen=True)
class FastForwardConfig:
    """One-shot fast-forward within a :class:`TimeSkippingConfig`.

    Attributes:
        id: Identifies this fast-forward.
        duration: Advance the workflow's time by this much; skipping turns itself off when the
            target time is reached.
    """

    id: str
    duration: timedelta


@dataclass(frozen=True)
class TimeSkippingConfig:
    """Per-workflow time skipping settings (as in temporalio 1.35, experimental there too).

    Attributes:
        enabled: Whether time skips for the workflow whenever it waits on nothing but time.
        fast_forward_config: A one-shot advance; ``None`` skips until the workflow closes
            (when ``enabled``) or not at all.
        disable_propagation: In Temporal, children do not inherit ``enabled``. Stalwart's
            children share the skipper's clock, so this has no effect.
        max_session_skip_count: After this many skips, skipping turns itself off for the
            workflow; ``0`` means the server's default, 200, as on Temporal's.
    """

    enabled: bool = True
    fast_forward_config: FastForwardConfig | None = None
    disable_propagation: bool = False
    max_session_skip_count: int = 0

    def __post_init__(self) -> None:
        if not self.enabled and self.fast_forward_config is not None:
            raise ValueError("fast_forward_config cannot be set when enabled is False")
        if self.max_session_skip_count < 0:
            raise ValueError("TimeSkippingConfig(max_session_skip_count="
                             f"{self.max_session_skip_count}) must be 0 (the default) or more")


@dataclass(frozen=True)
class TimeSkippingFastForwardInfo:
    """The latest fast-forward of a workflow (Temporal's ``TimeSkippingFastForwardInfo``)."""

    fast_forward_id: str
    fast_forward_duration: timedelta
    target_time: datetime
    has_completed: bool


@dataclass(frozen=True)
class TimeSkippingInfo:
    """A workflow's time-skipping state (Temporal's ``TimeSkippingInfo``, a dataclass here)."""

    current_time: datetime
    effective_config: TimeSkippingConfig
    fast_forward_info: TimeSkippingFastForwardInfo | None
    current_session_skip_count: int


@dataclass
class _Tracked:
    """One workflow id (its whole chain of runs) started through a skipper's client."""

    config: TimeSkippingConfig
    skips: int = 0
    closed: bool = False
    fast_forward: TimeSkippingFastForwardInfo | None = None
    target: float | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        # As Temporal's server reports it: the default limit filled in.
        self.config = _effective(self.config)

    @property
    def wants_skipping(self) -> bool:
        return self.config.enabled and not self.closed


def _effective(config: TimeSkippingConfig) -> TimeSkippingConfig:
    if config.max_session_skip_count:
        return config
    return TimeSkippingConfig(config.enabled, config.fast_forward_config,
                              config.disable_propagation, DEFAULT_MAX_SESSION_SKIPS)


class TimeSkipper:
    """Wraps a client so that workflows started through :attr:`client` skip time.

    Every workflow started through :attr:`client` gets :attr:`config`; while one with skipping
    enabled is open and every worker built from :attr:`client` is idle, the clock jumps to the
    next timer or timeout (or a fast-forward's target). Build workers from :attr:`client`: they
    share its clock, which is how Stalwart's processes see skipped time.
    """

    def __init__(self, client: Client, *, config: TimeSkippingConfig = TimeSkippingConfig()
                 ) -> None:
        if not isinstance(config, TimeSkippingConfig):
            raise TypeError(f"TimeSkipper(config={config!r}) must be a TimeSkippingConfig")
        self._config = config
        self._ts_enabled = True
        self._tracked: dict[str, _Tracked] = {}
        self._driver: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        client_config = client.config()
        client_config["interceptors"] = [*client_config["interceptors"],
                                         _TimeSkippingConfigInterceptor(self)]
        self._client = Client(**client_config)
        clock = client._clock
        self._clock = clock if isinstance(clock, SkippingClock) else SkippingClock()
        self._client._clock = self._clock

    @property
    def client(self) -> Client:
        """The client that stamps :attr:`config` on every workflow it starts."""
        return self._client

    @property
    def config(self) -> TimeSkippingConfig:
        """The settings given to workflows started from now on."""
        return self._config

    @config.setter
    def config(self, value: TimeSkippingConfig) -> None:
        self._config = value

    def _track(self, workflow_id: str, config: TimeSkippingConfig) -> None:
        self._tracked[workflow_id] = _Tracked(config)
        if config.fast_forward_config is not None:
            self._begin_fast_forward(self._tracked[workflow_id], config.fast_forward_config)
        self._ensure_driver()

    def _ensure_driver(self) -> None:
        self._wake.set()
        if self._driver is None or self._driver.done():
            self._driver = asyncio.get_running_loop().create_task(self._drive())

    def _begin_fast_forward(self, tracked: _Tracked, ff: FastForwardConfig) -> None:
        target = self._clock.now() + ff.duration.total_seconds()
        tracked.target = target
        tracked.fast_forward = TimeSkippingFastForwardInfo(
            ff.id, ff.duration, datetime.fromtimestamp(target, UTC), False)

    async def fast_forward(self, handle: WorkflowHandle[Any, Any],
                           duration: timedelta | float | None = None, /) -> bool:
        """Advance the workflow's time by ``duration`` and wait until it has.

        Returns:
            True once the target time is reached; False if the workflow's chain of runs closes
            first. With ``duration=None``, skips until the workflow closes and returns False.

        Raises:
            RuntimeError: a later fast-forward of the same workflow replaced this one.
        """
        if duration is not None and not isinstance(duration, timedelta):
            duration = timedelta(seconds=duration)
        if duration is not None and duration <= timedelta(0):
            raise ValueError(f"fast_forward(duration={duration}) must be positive")
        tracked = self._tracked.get(handle.id)
        if tracked is None or tracked.closed:
            tracked = _Tracked(self._config)
            self._tracked[handle.id] = tracked
        propagation = self._config.disable_propagation
        limit = _effective(self._config).max_session_skip_count
        tracked.skips = 0
        if duration is None:
            tracked.config = TimeSkippingConfig(enabled=True, disable_propagation=propagation,
                                                max_session_skip_count=limit)
            tracked.target = None
            self._ensure_driver()
            while not tracked.closed:
                tracked.changed.clear()
                await tracked.changed.wait()
            return False
        ff = FastForwardConfig(str(uuid.uuid4()), duration)
        tracked.config = TimeSkippingConfig(enabled=True, fast_forward_config=ff,
                                            disable_propagation=propagation,
                                            max_session_skip_count=limit)
        self._begin_fast_forward(tracked, ff)
        self._ensure_driver()
        while True:
            info = tracked.fast_forward
            if info is None or info.fast_forward_id != ff.id:
                raise RuntimeError(f"fast-forward {ff.id!r} of workflow {handle.id!r} was "
                                   "overridden by a later fast-forward")
            if info.has_completed:
                return True
            if tracked.closed:
                return False
            tracked.changed.clear()
            await tracked.changed.wait()

    async def get_time_skipping_info(self, handle: WorkflowHandle[Any, Any]
                                     ) -> TimeSkippingInfo | None:
        """The workflow's time-skipping state; ``None`` if it was started without settings
        (e.g. inside :meth:`with_time_skipping_disabled`) and never fast-forwarded."""
        tracked = self._tracked.get(handle.id)
        if tracked is None:
            return None
        return TimeSkippingInfo(datetime.fromtimestamp(self._clock.now(), UTC), tracked.config,
                                tracked.fast_forward, tracked.skips)

    async def get_current_time(self, handle: WorkflowHandle[Any, Any]) -> datetime:
        """The workflow's current time: the skipper's clock, which every workflow on its workers
        shares (equal to the wall clock until something skipped)."""
        return datetime.fromtimestamp(self._clock.now(), UTC)

    @contextlib.contextmanager
    def with_time_skipping_disabled(self) -> Iterator[None]:
        """Workflows started through :attr:`client` inside the block get no time-skipping
        settings (they still share the clock that other workflows move)."""
        was_enabled = self._ts_enabled
        self._ts_enabled = False
        try:
            yield None
        finally:
            self._ts_enabled = was_enabled

    async def _stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)

    async def _refresh_open(self) -> list[_Tracked]:
        """The tracked workflows that want skipping and are still open (closing is noticed
        here, so fast-forwards waiting on a closed chain return False)."""
        active = []
        for workflow_id, tracked in list(self._tracked.items()):
            if not tracked.wants_skipping:
                continue
            description = await self._client.get_workflow_handle(workflow_id).describe()
            if description.status != WorkflowExecutionStatus.RUNNING:
                tracked.closed = True
                tracked.changed.set()
                continue
            active.append(tracked)
        return active

    async def _drive(self) -> None:
        while True:
            self._wake.clear()
            if not any(t.wants_skipping for t in self._tracked.values()):
                return
            if not any_worker_running(self._client):
                # Nothing would run what skipped time makes due: wait for a worker.
                await asyncio.sleep(_POLL)
                continue
            await settle(self._client)
            # After settling, so a workflow that the last skip let finish counts as closed.
            active = await self._refresh_open()
            if not active:
                return
            now = self._clock.now()
            due = await self._client.store.next_due_time(now)
            bounded = [t.target for t in active if t.target is not None]
            unbounded = any(t.target is None for t in active)
            limit = float("inf") if unbounded else min(t for t in bounded if t is not None)
            if due is not None and due > now and due + 0.001 <= limit:
                self._clock.advance_to(due + 0.001)
            elif limit != float("inf") and limit > now and (due is None or due > limit):
                self._clock.advance_to(limit)
            elif not self._reach_targets(active):
                # Nothing due to skip to: wait for work to appear or a new fast-forward.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _POLL * 4)
                continue
            wake_sweepers(self._client)
            self._count_skip(active)
            self._reach_targets(active)

    def _count_skip(self, active: list[_Tracked]) -> None:
        for tracked in active:
            tracked.skips += 1
            limit = tracked.config.max_session_skip_count
            if tracked.skips >= limit:
                tracked.config = TimeSkippingConfig(
                    enabled=False, disable_propagation=tracked.config.disable_propagation,
                    max_session_skip_count=limit)
                tracked.target = None
                tracked.changed.set()

    def _reach_targets(self, active: list[_Tracked]) -> bool:
        """Complete the fast-forwards whose target time has come; skipping then turns off for
        their workflows, as Temporal's server does."""
        reached = False
        now = self._clock.now()
        for tracked in active:
            if tracked.target is None or tracked.target > now or tracked.fast_forward is None:
                continue
            reached = True
            info = tracked.fast_forward
            tracked.fast_forward = TimeSkippingFastForwardInfo(
                info.fast_forward_id, info.fast_forward_duration, info.target_time, True)
            tracked.target = None
            tracked.config = TimeSkippingConfig(
                enabled=False, disable_propagation=tracked.config.disable_propagation,
                max_session_skip_count=tracked.config.max_session_skip_count)
            tracked.changed.set()
        return reached


class _TimeSkippingConfigInterceptor(Interceptor):
    def __init__(self, skipper: TimeSkipper) -> None:
        super().__init__()
        self._skipper = skipper

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _TimeSkippingConfigOutbound(next, self._skipper)


class _TimeSkippingConfigOutbound(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, skipper: TimeSkipper) -> None:
        super().__init__(next)
        self._skipper = skipper

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        if self._skipper._ts_enabled:
            input.time_skipping_config = self._skipper.config
        handle = await super().start_workflow(input)
        if isinstance(input.time_skipping_config, TimeSkippingConfig):
            self._skipper._track(input.id, input.time_skipping_config)
        return handle

    async def start_update_with_start_workflow(
            self, input: StartWorkflowUpdateWithStartInput) -> Any:
        start = input.start_workflow_input
        if self._skipper._ts_enabled:
            start.time_skipping_config = self._skipper.config
        handle = await super().start_update_with_start_workflow(input)
        if isinstance(start.time_skipping_config, TimeSkippingConfig):
            self._skipper._track(start.id, start.time_skipping_config)
        return handle
