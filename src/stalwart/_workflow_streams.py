"""Publishing to a workflow stream from workflow code.

A publish is recorded, not performed: the item goes out with the workflow task's completion
and is committed in the same transaction as the task's events. Each publish of a run gets the
next number of the run's publish sequence; replaying the run numbers its publishes the same
way and queues none of those already recorded, so a replay never publishes twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, NoReturn, TypeVar

from . import workflow
from ._client_streams import TopicNaming, check_topic
from ._runtime import api as _api
from .converter import _payload_to_json

T = TypeVar("T")


class WorkflowStream:
    """The workflow side of the run's stream (mirrors
    ``temporalio.contrib.workflow_streams.WorkflowStream``). Create it in the workflow (in
    ``__init__`` or ``run``) and publish through :meth:`topic` handles.

    The stream belongs to the run's continue-as-new chain: a run that continues as new keeps
    publishing to the same stream, with offsets that go on counting, and readers following the
    workflow id see one stream. Nothing needs to be carried in the new run's input.
    """

    def __init__(self, prior_state: Any = None) -> None:
        # ``prior_state`` is temporalio's hand-over across continue-as-new; the store keeps
        # the stream across runs, so there is nothing to hand over.
        self._topic_types: dict[str, Any] = {}

    def get_state(self, *args: Any, **kwargs: Any) -> None:
        """Nothing to carry across continue-as-new (temporalio returns the log here)."""
        return None

    def detach_pollers(self) -> None:
        """Nothing to detach: readers read the store, not the workflow."""

    async def continue_as_new(self, build_args: Callable[[None], Sequence[Any]], *,
                              publisher_ttl: Any = None) -> NoReturn:
        """Wait for running handlers, then continue as new with ``build_args(None)`` (the
        stream needs no state handed over; temporalio passes its state here)."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(args=build_args(None))
        raise AssertionError("workflow.continue_as_new returned")  # it raises

    def topic(self, name: str, *, type: Any = None) -> WorkflowTopicHandle[Any]:
        check_topic(name)
        existing = self._topic_types.get(name)
        if existing is not None and type is not None and existing != type:
            raise RuntimeError(f"topic {name!r} is already bound to {existing!r} on this "
                               f"stream; refusing to rebind it to {type!r}")
        if type is not None:
            self._topic_types[name] = type
        return WorkflowTopicHandle(self, name, type)

    def publish(self, topic: str, value: Any) -> None:
        """Append ``value`` to ``topic`` (recorded with the current workflow task)."""
        instance = _api.current()
        payload = instance.converter.payload_converter.to_payload(value)
        instance.publish_stream(check_topic(topic), _payload_to_json(payload))


class WorkflowTopicHandle(TopicNaming, Generic[T]):
    """One topic of a :class:`WorkflowStream`, for publishing from workflow code."""

    def __init__(self, stream: WorkflowStream, name: str, type: Any) -> None:
        super().__init__(name, type)
        self._stream = stream

    def publish(self, value: T) -> None:
        self._stream.publish(self._name, value)
