"""Replaying recorded histories against workflow code, to catch incompatible changes before
they reach running workflows."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import exceptions as exc
from .._model.events import EventType
from .._model.temporal_history import from_temporal
from .._plugin_worker import Plugin, configure_replayer, replay_through
from .._runtime import guard
from .._runtime.definitions import get_workflow_definition
from .._runtime.instance import WorkflowInstance, WorkflowTaskError
from .._runtime.replay import replay_into
from .._worker_options import ReplayerConfig
from ..converter import DataConverter
from .codec import decode_events

if TYPE_CHECKING:
    from ..client import WorkflowHistory


@dataclass
class WorkflowReplayResult:
    history: WorkflowHistory
    replay_failure: Exception | None


@dataclass
class WorkflowReplayResults:
    replay_failures: dict[str, Exception] = field(default_factory=dict)


class Replayer:
    """Replays histories (from the store or exported JSON) against the given workflow classes.

    Args:
        workflows: ``@workflow.defn`` classes.
        data_converter: Must match the one that recorded the histories (codec included).
        plugins: Worker plugins; their ``configure_replayer`` may add workflows or change the
            converter, and their ``run_replayer`` wraps every replay.
        workflow_failure_exception_types: As for ``Worker``.
    """

    def __init__(self, *, workflows: Sequence[type],
                 data_converter: DataConverter = DataConverter.default,
                 plugins: Sequence[Plugin] = (),
                 workflow_failure_exception_types: Sequence[type[BaseException]] = (),
                 **other: Any) -> None:
        config = ReplayerConfig(**other)  # type: ignore[typeddict-item]
        config.update(workflows=list(workflows), data_converter=data_converter,
                      workflow_failure_exception_types=list(workflow_failure_exception_types))
        self._initial_config = config.copy()
        self.plugins = list(plugins)
        self._config = configure_replayer(self.plugins, config)
        self._definitions = {}
        guard.install()
        failure_types = tuple(self._config.get("workflow_failure_exception_types") or ())
        for cls in self._config.get("workflows") or ():
            definition = get_workflow_definition(cls)
            if definition is None:
                raise TypeError(f"workflows=[...] entry {cls!r} is not a @workflow.defn class")
            if failure_types:
                definition = dataclasses.replace(definition, failure_exception_types=(
                    *definition.failure_exception_types, *failure_types))
            self._definitions[definition.name] = definition
        self._converter = self._config.get("data_converter") or DataConverter.default

    def config(self, *, active_config: bool = False) -> ReplayerConfig:
        """The configuration this replayer was created with (``Replayer(**replayer.config())``
        makes another like it); with ``active_config``, the one in use after plugins changed
        it."""
        return (self._config if active_config else self._initial_config).copy()

    def workflow_replay_iterator(
        self, histories: AsyncIterator[WorkflowHistory] | Iterable[WorkflowHistory],
    ) -> AbstractAsyncContextManager[AsyncIterator[WorkflowReplayResult]]:
        """Replay histories one by one: ``async with replayer.workflow_replay_iterator(h) as
        results: async for result in results: ...``. Failures are in each result."""
        return replay_through(self.plugins, self, _as_async_iterator(histories),
                              Replayer._replay_iterator)

    @asynccontextmanager
    async def _replay_iterator(self, histories: AsyncIterator[WorkflowHistory]
                               ) -> AsyncIterator[AsyncIterator[WorkflowReplayResult]]:
        async def results() -> AsyncIterator[WorkflowReplayResult]:
            async for history in histories:
                try:
                    await self._replay(history)
                except Exception as error:
                    yield WorkflowReplayResult(history, error)
                else:
                    yield WorkflowReplayResult(history, None)

        yield results()

    async def replay_workflow(self, history: WorkflowHistory, *,
                              raise_on_replay_failure: bool = True) -> WorkflowReplayResult:
        """Replay one history.

        Raises:
            NondeterminismError: the code no longer produces the recorded commands (with
                ``raise_on_replay_failure``, the default).
        """
        async with self.workflow_replay_iterator([history]) as results:
            async for result in results:
                if result.replay_failure is not None and raise_on_replay_failure:
                    raise result.replay_failure
                return result
        raise RuntimeError("a replayer plugin's run_replayer yielded no result")

    async def replay_workflows(self, histories: AsyncIterator[WorkflowHistory]
                               | Iterable[WorkflowHistory], *,
                               raise_on_replay_failure: bool = True) -> WorkflowReplayResults:
        results = WorkflowReplayResults()
        async with self.workflow_replay_iterator(histories) as replayed:
            async for result in replayed:
                if result.replay_failure is not None:
                    if raise_on_replay_failure:
                        raise result.replay_failure
                    history = result.history
                    results.replay_failures[history.run_id or history.workflow_id] = \
                        result.replay_failure
        return results

    async def _replay(self, history: WorkflowHistory) -> None:
        if not history.events or \
                history.events[0].event_type != EventType.WORKFLOW_EXECUTION_STARTED:
            raise ValueError(f"history of workflow {history.workflow_id!r} does not start with "
                             "WorkflowExecutionStarted")
        # Temporal's events in what the runtime replays; new objects, so decoding payloads
        # in place below leaves the caller's history as it was.
        events = from_temporal(history.events)
        if self._converter._store_codec is not None:
            events = await decode_events(events, self._converter._store_codec)
        workflow_type = events[0].attributes["workflow_type"]
        definition = self._definitions.get(workflow_type) or self._definitions.get("")
        if definition is None:
            raise ValueError(f"history of workflow {history.workflow_id!r} is of type "
                             f"{workflow_type!r}, which is not among the replayer's workflows "
                             f"({', '.join(sorted(self._definitions)) or 'none'})")
        instance = WorkflowInstance(definition, workflow_id=history.workflow_id,
                                    run_id=history.run_id or "replay",
                                    converter=self._converter)
        try:
            replay_into(instance, events)
        except WorkflowTaskError as error:
            raise exc.NondeterminismError(f"workflow code failed during replay: {error}") \
                from error.cause
        finally:
            instance.evict()


async def _as_async_iterator(histories: AsyncIterator[WorkflowHistory]
                             | Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    if isinstance(histories, AsyncIterator):
        async for history in histories:
            yield history
    else:
        for history in histories:
            yield history
