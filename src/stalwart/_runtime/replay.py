"""Rebuild a workflow instance from its history, checking every command against the record.

A history reads ``Started, inputs…, WorkflowTaskCompleted, commands…, inputs…,
WorkflowTaskCompleted, commands…``: each ``WorkflowTaskCompleted`` closes one activation (the
inputs before it, run at the workflow time it records) and the command events after it are what
that activation must produce again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .. import exceptions as exc
from .._model.events import (
    COMMAND_EVENT_TYPES,
    EV,
    Command,
    HistoryEvent,
    command_key,
    describe_command,
)
from .instance import WorkflowInstance


class _HasAttributes(Protocol):
    @property
    def attributes(self) -> dict[str, Any]: ...


_C = TypeVar("_C", bound=_HasAttributes)


@dataclass
class RecordedActivation:
    inputs: list[HistoryEvent]
    completed_event: HistoryEvent
    commands: list[HistoryEvent] = field(default_factory=list)
    # Workflow tasks that failed over these inputs before this one completed.
    failed_before: int = 0
    # A reset's failed task before this one: the run it made, whose id reseeds the randomness
    # from this task on (as Temporal's SDK reseeds at a reset).
    reset_run_id: str | None = None

    @property
    def workflow_time(self) -> float:
        return float(self.completed_event.attributes.get("workflow_time",
                                                         self.completed_event.timestamp))

    @property
    def patches(self) -> list[str]:
        return [e.attributes["patch_id"] for e in self.commands
                if e.event_type == EV.MARKER_RECORDED and e.attributes.get("patch_id")]


def split_activations(events: Sequence[HistoryEvent]) -> tuple[list[RecordedActivation],
                                                                list[HistoryEvent]]:
    """Recorded activations, and the trailing inputs no completed task has consumed yet."""
    activations, pending, _ = _split(events)
    return activations, pending


def _split(events: Sequence[HistoryEvent]) -> tuple[list[RecordedActivation],
                                                    list[HistoryEvent], str | None]:
    """``split_activations``, and the run a trailing reset made (the reset of a run whose new
    task has not completed yet)."""
    activations: list[RecordedActivation] = []
    pending: list[HistoryEvent] = []
    current: RecordedActivation | None = None
    failed = 0
    reset_run_id: str | None = None
    for event in events:
        etype = event.event_type
        if etype == EV.WORKFLOW_TASK_COMPLETED:
            activation = RecordedActivation(pending, event, failed_before=failed,
                                            reset_run_id=reset_run_id)
            activations.append(activation)
            # A task completed with no new input (Temporal's SDK does so to keep a long local
            # activity's task alive, a heartbeat) runs no workflow code: the commands recorded
            # after it are still the previous activation's.
            if current is None or pending or failed:
                current = activation
            pending = []
            failed = 0
            reset_run_id = None
        elif etype in COMMAND_EVENT_TYPES:
            if current is None:
                raise exc.NondeterminismError(
                    f"history is malformed: command event {etype} (event {event.event_id}) "
                    "appears before any WorkflowTaskCompleted")
            current.commands.append(event)
        elif etype == EV.WORKFLOW_TASK_FAILED:
            failed += 1
            if event.attributes.get("cause") == "RESET_WORKFLOW":
                reset_run_id = event.attributes.get("new_run_id") or reset_run_id
        else:
            pending.append(event)
    return activations, pending, reset_run_id


def replay_into(instance: WorkflowInstance, events: Sequence[HistoryEvent]) -> list[HistoryEvent]:
    """Apply every recorded activation to a fresh ``instance``; return unconsumed inputs.

    Raises:
        NondeterminismError: the code produced a command that differs from the record.
        WorkflowTaskError: workflow code failed during replay.
    """
    activations, pending, reset_run_id = _split(events)
    locals_ahead = LocalsAhead(activations)
    for index, activation in enumerate(activations):
        if activation.reset_run_id:
            instance.reseed(activation.reset_run_id)
        produced = instance.activate(
            activation.inputs, now=activation.workflow_time, replaying=True,
            failed_tasks=activation.failed_before,
            replay_patches=activation.patches,
        )
        check_commands(instance, activation, produced, (locals_ahead, index))
    if reset_run_id:
        instance.reseed(reset_run_id)
    return pending


class LocalsAhead:
    """Local activities started by one activation whose records come in a later one.

    A local activity's record (in a Temporal history, its marker) is written when it
    finishes, not when the workflow starts it: local activities started together by one
    activation finish one by one, and each result may wake an activation of its own (in the
    same workflow task, or a later one when the SDK heartbeats the task) before the others'
    records appear. A local activity the code starts is therefore matched against the record
    of the same activity (its ``seq``) in that activation or any later one."""

    def __init__(self, activations: Sequence[RecordedActivation]) -> None:
        # seq -> the last activation (by index) whose commands record that local activity.
        self.recorded_in: dict[int, int] = {}
        for index, activation in enumerate(activations):
            for event in activation.commands:
                if event.attributes.get("local"):
                    self.recorded_in[event.attributes["seq"]] = index
        self.started: dict[int, Command] = {}

    def match(self, index: int, activation: RecordedActivation,
              produced: Sequence[Command]) -> tuple[list[HistoryEvent], list[Command]]:
        """The local activities left to compare at activation ``index``: those recorded here
        that no earlier or current start of the same activity matches, and those started here
        or earlier whose record is in no later activation."""
        for command in produced:
            if command.attributes.get("local"):
                self.started.setdefault(command.attributes["seq"], command)
        unmatched: list[HistoryEvent] = []
        for event in activation.commands:
            if not event.attributes.get("local"):
                continue
            start = self.started.get(event.attributes["seq"])
            if start is not None and start.key() == command_key(event.event_type,
                                                                   event.attributes):
                del self.started[event.attributes["seq"]]
            else:
                unmatched.append(event)
        left = [c for seq, c in self.started.items() if self.recorded_in.get(seq, -1) <= index]
        for command in left:
            del self.started[command.attributes["seq"]]
        return unmatched, left


def local_last(commands: Sequence[_C]) -> list[_C]:
    """``commands`` with the local activities after the rest, each kind in its own order.

    As in Temporal: a local activity's record (its marker) is written when it finishes, so
    it may follow commands the workflow produced after starting it, even in a later task
    when the SDK heartbeats the task; local activities are compared with local activities
    (see ``LocalsAhead``), the other commands with the other commands in order."""
    return sorted(commands, key=lambda c: bool(c.attributes.get("local")))


def check_commands(instance: WorkflowInstance, activation: RecordedActivation,
                   produced: Sequence[Command],
                   locals_ahead: tuple[LocalsAhead, int] | None = None) -> None:
    """Compare what the code produced with what ``activation`` records; ``locals_ahead``
    (with the activation's index) lets local activities match records in later activations."""
    recorded, produced = _deprecated_patches_matched(local_last(activation.commands),
                                                     local_last(produced))
    if locals_ahead is not None:
        ahead, at = locals_ahead
        local_recorded, local_produced = ahead.match(at, activation, produced)
        recorded = [e for e in recorded if not e.attributes.get("local")] + local_recorded
        produced = [c for c in produced if not c.attributes.get("local")] + local_produced
    for index in range(max(len(produced), len(recorded))):
        got = produced[index] if index < len(produced) else None
        want = recorded[index] if index < len(recorded) else None
        if got is not None and want is not None and got.key() == command_key(
                want.event_type, want.attributes):
            continue
        info = instance.info
        where = (f"workflow {info.workflow_id!r} (run {info.run_id}, type "
                 f"{info.workflow_type}), workflow task completed at event "
                 f"{activation.completed_event.event_id}")
        if want is None:
            assert got is not None
            produced_text = describe_command(got.event_type, got.attributes)
            message = f"{where}: the code now produces {produced_text}, but the history has " \
                "no command there"
        else:
            recorded_text = describe_command(want.event_type, want.attributes)
            if got is None:
                message = (f"{where}: the history has {recorded_text} at event "
                           f"{want.event_id}, but the code no longer produces it")
            else:
                produced_text = describe_command(got.event_type, got.attributes)
                message = (f"{where}: the history has {recorded_text} at event "
                           f"{want.event_id}, but the code now produces {produced_text}")
        raise exc.NondeterminismError(
            message + ". Workflow code must be deterministic: guard changed code with "
            "workflow.patched(...) so running workflows keep their old path.")


def _patch_id(event_type: str, attributes: dict[str, Any]) -> str | None:
    if event_type == EV.MARKER_RECORDED and attributes.get("marker_name") == "core_patch":
        return str(attributes.get("patch_id"))
    return None


def _deprecated_patches_matched(recorded: list[HistoryEvent], produced: list[Command]
                                ) -> tuple[list[HistoryEvent], list[Command]]:
    """Both lists without the ``deprecate_patch`` markers the other side lacks: as in
    Temporal, code that no longer calls ``deprecate_patch`` replays a history that has its
    marker, and code that calls it replays one recorded before it did."""
    recorded_ids = {_patch_id(e.event_type, e.attributes) for e in recorded}
    produced_ids = {_patch_id(c.event_type, c.attributes) for c in produced}
    return ([e for e in recorded if not (e.attributes.get("deprecated") and _patch_id(
                e.event_type, e.attributes) not in produced_ids)],
            [c for c in produced if not (c.attributes.get("deprecated") and _patch_id(
                c.event_type, c.attributes) not in recorded_ids)])


def iter_command_events(events: Sequence[HistoryEvent]) -> Iterator[HistoryEvent]:
    return (e for e in events if e.event_type in COMMAND_EVENT_TYPES)
