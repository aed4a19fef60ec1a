"""Replaying recorded histories against workflow code, to catch incompatible changes before
they reach running workflows."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import exceptions as exc
from .._model.events import EventType
from .._model.temporal_history import from_temporal
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
    """

    def __init__(self, *, workflows: Sequence[type],
                 data_converter: DataConverter = DataConverter.default, **options: Any) -> None:
        self._config: dict[str, Any] = {"workflows": workflows,
                                        "data_converter": data_converter, **options}
        self._definitions = {}
        guard.install()
        for cls in workflows:
            definition = get_workflow_definition(cls)
            if definition is None:
                raise TypeError(f"workflows=[...] entry {cls!r} is not a @workflow.defn class")
            self._definitions[definition.name] = definition
        self._converter = data_converter

    def config(self) -> ReplayerConfig:
        """The options this replayer was created with."""
        config: ReplayerConfig = dict(self._config)  # type: ignore[assignment]
        return config

    async def replay_workflow(self, history: WorkflowHistory, *,
                              raise_on_replay_failure: bool = True) -> WorkflowReplayResult:
        """Replay one history.

        Raises:
            NondeterminismError: the code no longer produces the recorded commands (with
                ``raise_on_replay_failure``, the default).
        """
        try:
            await self._replay(history)
        except Exception as error:
            if raise_on_replay_failure:
                raise
            return WorkflowReplayResult(history, error)
        return WorkflowReplayResult(history, None)

    async def replay_workflows(self, histories: AsyncIterator[WorkflowHistory]
                               | Iterable[WorkflowHistory], *,
                               raise_on_replay_failure: bool = True) -> WorkflowReplayResults:
        results = WorkflowReplayResults()
        if isinstance(histories, AsyncIterator):
            items = [h async for h in histories]
        else:
            items = list(histories)
        for history in items:
            result = await self.replay_workflow(history,
                                                raise_on_replay_failure=raise_on_replay_failure)
            if result.replay_failure is not None:
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
        if self._converter.payload_codec is not None:
            events = await decode_events(events, self._converter.payload_codec)
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
