"""Driving a ``WorkflowInstance`` by hand, the way a worker and the store would.

``Run`` plays the store's part: every activation's inputs, a ``WorkflowTaskCompleted`` and the
produced commands are appended to a history with consecutive event ids, so a test can replay the
exact history a real run would have written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stalwart._model.events import Command, EventType, HistoryEvent
from stalwart._runtime.definitions import WorkflowDefinition, get_workflow_definition
from stalwart._runtime.instance import WorkflowInstance
from stalwart.converter import DataConverter, _payload_to_json

START_TIME = 1_700_000_000.0
_payloads = DataConverter.default.payload_converter


def payload(value: Any) -> dict[str, Any]:
    """A value in the store form the engine records."""
    return _payload_to_json(_payloads.to_payload(value))


def decode(stored: dict[str, Any], type_hint: Any = None) -> Any:
    from stalwart.converter import _payload_from_json

    return _payloads.from_payload(_payload_from_json(stored), type_hint)


def definition_of(cls: type) -> WorkflowDefinition:
    definition = get_workflow_definition(cls)
    assert definition is not None, f"{cls.__name__} is not a workflow"
    return definition


def started_event(cls: type, *args: Any, workflow_id: str = "wf-1", task_queue: str = "tq",
                  random_seed: int = 7, timestamp: float = START_TIME,
                  **extra: Any) -> HistoryEvent:
    """``WorkflowExecutionStarted`` with the attributes the SQLite store writes."""
    return HistoryEvent(1, EventType.WORKFLOW_EXECUTION_STARTED, timestamp, {
        "workflow_id": workflow_id, "workflow_type": definition_of(cls).name,
        "task_queue": task_queue, "input": [payload(a) for a in args],
        "execution_timeout": None, "random_seed": random_seed, "first_run_id": "run-1",
        "continued_run_id": None, "attempt": 1, "identity": "test", **extra,
    })


def new_instance(cls: type, *, workflow_id: str = "wf-1", run_id: str = "run-1"
                 ) -> WorkflowInstance:
    return WorkflowInstance(definition_of(cls), workflow_id=workflow_id, run_id=run_id,
                            converter=DataConverter.default)


def activity_completed(seq: int, value: Any) -> HistoryEvent:
    return HistoryEvent(0, EventType.ACTIVITY_TASK_COMPLETED, START_TIME,
                        {"seq": seq, "result": payload(value), "attempt": 1})


def activity_failed(seq: int, failure: dict[str, Any],
                    event_type: str = EventType.ACTIVITY_TASK_FAILED) -> HistoryEvent:
    return HistoryEvent(0, event_type, START_TIME, {"seq": seq, "failure": failure, "attempt": 1})


def timer_fired(seq: int) -> HistoryEvent:
    return HistoryEvent(0, EventType.TIMER_FIRED, START_TIME, {"seq": seq, "timer_id": str(seq)})


def signaled(name: str, *args: Any) -> HistoryEvent:
    return HistoryEvent(0, EventType.WORKFLOW_EXECUTION_SIGNALED, START_TIME,
                        {"signal_name": name, "input": [payload(a) for a in args],
                         "identity": "test"})


def cancel_requested() -> HistoryEvent:
    return HistoryEvent(0, EventType.WORKFLOW_EXECUTION_CANCEL_REQUESTED, START_TIME,
                        {"cause": "test", "identity": "test"})


def types_of(items: Sequence[Command | HistoryEvent]) -> list[str]:
    return [str(item.event_type) for item in items]


class Run:
    """One workflow run: an instance plus the history a store would have recorded for it."""

    def __init__(self, cls: type, *args: Any, random_seed: int = 7,
                 workflow_id: str = "wf-1") -> None:
        self.cls = cls
        self.instance = new_instance(cls, workflow_id=workflow_id)
        self.now = START_TIME
        self.history: list[HistoryEvent] = []
        self._first = started_event(cls, *args, workflow_id=workflow_id,
                                    random_seed=random_seed)

    def start(self) -> list[Command]:
        return self.step(self._first)

    def step(self, *inputs: HistoryEvent, advance: float = 1.0,
             updates: Sequence[dict[str, Any]] = ()) -> list[Command]:
        """One workflow task: apply ``inputs`` (and admit ``updates``, requests as the store
        hands them over) at a later time, record what a commit records."""
        if self.history:
            self.now += advance
        commands = self.instance.activate(list(inputs), now=self.now, replaying=False,
                                          updates=updates)
        for event in inputs:
            self._append(event.event_type, event.timestamp, event.attributes)
        self._append(EventType.WORKFLOW_TASK_COMPLETED, self.now,
                     {"workflow_time": self.now, "identity": "test"})
        for command in commands:
            self._append(command.event_type, self.now, dict(command.attributes))
        return commands

    def _append(self, event_type: str, timestamp: float, attributes: dict[str, Any]) -> None:
        self.history.append(HistoryEvent(len(self.history) + 1, event_type, timestamp,
                                         attributes))

    def close(self) -> None:
        if not self.instance.is_evicted:
            self.instance.evict()
