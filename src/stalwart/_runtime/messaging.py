"""Messages into a running workflow: signals, updates (validated, then recorded) and queries
(read-only). Functions of a :class:`WorkflowInstance`; no I/O."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .. import exceptions as exc
from .._model.events import RPC_STATUS_KEY, Command, EventType, HistoryEvent
from ..common import RawValue
from ..converter import _payload_from_json, _payload_to_json, headers_from_json
from . import event_groups, guard, stack_trace
from .definitions import SignalDefinition, UpdateDefinition
from .interceptors import HandleQueryInput, HandleSignalInput, HandleUpdateInput

if TYPE_CHECKING:
    from .instance import WorkflowInstance


@dataclass(frozen=True)
class UpdateInfo:
    """The update whose handler is running (``workflow.current_update_info()``)."""

    id: str
    name: str


_current_update: contextvars.ContextVar[UpdateInfo | None] = contextvars.ContextVar(
    "stalwart_update", default=None)


def current_update_info() -> UpdateInfo | None:
    info: UpdateInfo | None = _current_update.get()
    return info


_SIGNALS_AND_UPDATES = frozenset({EventType.WORKFLOW_EXECUTION_SIGNALED,
                                  EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED})


def application_order(events: Sequence[HistoryEvent]
                      ) -> tuple[list[HistoryEvent], list[HistoryEvent]]:
    """An activation's inputs in the order temporalio applies its jobs: the start, signals
    and updates, then (second list) everything else, each kind in history order. The
    updates a task admits go between the two."""
    first = [e for e in events if e.event_type == EventType.WORKFLOW_EXECUTION_STARTED]
    first += [e for e in events if e.event_type in _SIGNALS_AND_UPDATES]
    rest = [e for e in events if e.event_type != EventType.WORKFLOW_EXECUTION_STARTED
            and e.event_type not in _SIGNALS_AND_UPDATES]
    return first, rest


def apply_signaled(instance: WorkflowInstance, event: HistoryEvent) -> None:
    name = event.attributes["signal_name"]
    # The run's n-th signal: what its handler's commands name as their implicit event group.
    instance.signals_seen += 1
    ordinal = instance.signals_seen
    if instance.workflow_object is None or signal_definition(instance, name) is None:
        instance._buffered_signals.setdefault(name, []).append((event, ordinal))
        return
    run_signal(instance, event, ordinal)


def signal_definition(instance: WorkflowInstance, name: str) -> SignalDefinition | None:
    signals = instance.signal_handlers
    return signals.get(name) or signals.get(None)


def _raw(payloads: list[Any]) -> list[RawValue]:
    return [RawValue(p) for p in payloads]


def deliver_buffered_signals(instance: WorkflowInstance) -> None:
    for name in list(instance._buffered_signals):
        if signal_definition(instance, name) is not None:
            for event, ordinal in instance._buffered_signals.pop(name):
                run_signal(instance, event, ordinal)


def run_signal(instance: WorkflowInstance, event: HistoryEvent, ordinal: int) -> None:
    name = event.attributes["signal_name"]
    definition = signal_definition(instance, name)
    assert definition is not None
    payloads = [_payload_from_json(p) for p in event.attributes.get("input", [])]
    if definition.dynamic:
        args: list[Any] = [name, _raw(payloads)]
    else:
        try:
            args = instance.converter.payload_converter.from_payloads(
                payloads, definition.arg_type_hints)
        except Exception as error:
            # A signal with arguments of the wrong type is dropped, as in Temporal,
            # rather than failing the workflow that did nothing wrong.
            log_warning(instance, "dropping signal %r: cannot decode its arguments: %s",
                              name, error)
            return
    signal_input = HandleSignalInput(signal=name, args=args,
                                     headers=headers_from_json(event.attributes.get("header")))

    running = RunningHandler("signal", name, None, definition.unfinished_policy)

    async def handle() -> None:
        event_groups.enter_handler({"signal": ordinal})
        instance.running_handlers += 1
        instance.running_handler_details.append(running)
        try:
            await instance.inbound.handle_signal(signal_input)
        except BaseException as error:
            if not isinstance(error, asyncio.CancelledError):
                instance._handler_errors = appended(instance._handler_errors, error)
        finally:
            instance.running_handlers -= 1
            instance.running_handler_details.remove(running)

    instance.loop.create_task(handle(), name=f"signal-{name}",
                              context=instance._context.copy())


_T = TypeVar("_T")


def appended(items: Sequence[_T], item: _T) -> list[_T]:
    """``items`` with ``item`` added: the list itself when it is one, else a new list (for
    the instance's usually empty sequences, which start as the shared empty tuple)."""
    if isinstance(items, list):
        items.append(item)
        return items
    return [*items, item]


@dataclass(eq=False)
class RunningHandler:
    """A signal or update handler that has started and not yet finished."""

    kind: str
    name: str | None
    update_id: str | None
    unfinished_policy: int


class UnfinishedUpdateHandlersWarning(RuntimeWarning):
    """The workflow finished while update handlers were still running."""


class UnfinishedSignalHandlersWarning(RuntimeWarning):
    """The workflow finished while signal handlers were still running."""


def warn_unfinished_handlers(instance: WorkflowInstance) -> None:
    """As temporalio does: a run that closes with handlers still running (and their policy
    WARN_AND_ABANDON) warns, naming them, since their callers never get an answer."""
    if instance.is_replaying:
        return
    warned = [h for h in instance.running_handler_details if h.unfinished_policy == 1]
    updates = [h for h in warned if h.kind == "update"]
    signals = [h for h in warned if h.kind == "signal"]
    workflow_id = instance.info.workflow_id
    advice = ("wait for them with `await workflow.wait_condition(workflow.all_handlers_finished)`"
              " before the workflow returns, or mark them "
              "`unfinished_policy=HandlerUnfinishedPolicy.ABANDON`")
    if updates:
        listed = ", ".join(f"{h.name!r} (id {h.update_id})" for h in updates)
        warnings.warn(UnfinishedUpdateHandlersWarning(
            f"workflow {workflow_id!r} finished while update handlers were still running: "
            f"{listed}; their callers get no result. To avoid this, {advice}"), stacklevel=2)
    if signals:
        listed = ", ".join(repr(h.name) for h in signals)
        warnings.warn(UnfinishedSignalHandlersWarning(
            f"workflow {workflow_id!r} finished while signal handlers were still running: "
            f"{listed}. To avoid this, {advice}"), stacklevel=2)


def log_warning(instance: WorkflowInstance, message: str, *args: Any) -> None:
    if not instance.is_replaying:
        logging.getLogger("stalwart.workflow").warning(message, *args)


def update_definition(instance: WorkflowInstance, name: str) -> UpdateDefinition | None:
    updates = instance.update_handlers
    return updates.get(name) or updates.get(None)


def admit_update(instance: WorkflowInstance, request: dict[str, Any]) -> None:
    """Validate an update request: accepted ones become history inputs, rejected ones
    leave no trace but their answer to the caller."""
    update_id, name = request["update_id"], request["name"]
    definition = update_definition(instance, name)
    pc = instance.converter.payload_converter
    try:
        if definition is None:
            known = ", ".join(sorted(n for n in instance.definition.updates if n)) or "none"
            raise exc.ApplicationError(
                f"workflow {instance.definition.name!r} has no update handler {name!r} "
                f"(known: {known})", type="UnknownUpdate", non_retryable=True)
        if instance.completed:
            raise exc.ApplicationError(f"workflow {instance.info.workflow_id!r} has completed; "
                                       "it takes no more updates", type="WorkflowClosed",
                                       non_retryable=True)
        try:
            args = update_args(instance, definition, name, request["input"])
            _check_arity(definition, name, args)
        except exc.ApplicationError as error:
            # Temporal fails the workflow task over arguments that do not fit, and the
            # caller gets an RPC error; here the update is refused the same way, and the
            # workflow carries on.
            failure = instance.converter.failure_converter.to_failure(error, pc)
            failure[RPC_STATUS_KEY] = int(exc.RPCStatusCode.FAILED_PRECONDITION)
            instance.rejected_updates = appended(instance.rejected_updates, (update_id, failure))
            return
        if definition.validator is not None:  # as temporalio: no validator, no call
            instance._read_only = f"update validator for {name!r}"
            try:
                instance.inbound.handle_update_validator(HandleUpdateInput(
                    id=update_id, update=name, args=args,
                    headers=headers_from_json(request.get("header"))))
            finally:
                instance._read_only = None
    except Exception as error:
        instance.rejected_updates = appended(
            instance.rejected_updates,
            (update_id, instance.converter.failure_converter.to_failure(error, pc)))
        return
    event = HistoryEvent(0, EventType.WORKFLOW_EXECUTION_UPDATE_ACCEPTED, instance.now_seconds,
                         {"update_id": update_id, "name": name, "input": request["input"]})
    instance.accepted_updates = appended(instance.accepted_updates, event)
    apply_update_accepted(instance, event)


def _check_arity(definition: UpdateDefinition, name: str, args: list[Any]) -> None:
    if definition.dynamic:
        return
    try:
        signature = inspect.signature(definition.fn)
    except (TypeError, ValueError):
        return
    placeholders = ([] if definition.bound else [None]) + list(args)
    try:
        signature.bind(*placeholders)
    except TypeError as error:
        raise exc.ApplicationError(
            f"update {name!r}: its arguments do not fit the handler: {error}",
            type="InvalidUpdateArguments", non_retryable=True) from None


def update_args(instance: WorkflowInstance, definition: UpdateDefinition, name: str,
                 payloads_json: list[dict[str, Any]]) -> list[Any]:
    payloads = [_payload_from_json(p) for p in payloads_json]
    pc = instance.converter.payload_converter
    if definition.dynamic:
        return [name, _raw(payloads)]
    try:
        return pc.from_payloads(payloads, definition.arg_type_hints)
    except Exception as error:
        raise exc.ApplicationError(
            f"update {name!r}: cannot decode its arguments: {error}",
            type="InvalidUpdateArguments", non_retryable=True) from None


def apply_update_accepted(instance: WorkflowInstance, event: HistoryEvent) -> None:
    update_id, name = event.attributes["update_id"], event.attributes["name"]
    definition = update_definition(instance, name)
    if definition is None:
        raise exc.NondeterminismError(
            f"history has an accepted update {name!r} but workflow "
            f"{instance.definition.name!r} no longer has a handler for it")
    args = update_args(instance, definition, name, event.attributes["input"])
    pc = instance.converter.payload_converter

    running = RunningHandler("update", name, update_id, definition.unfinished_policy)

    async def run_update() -> None:
        event_groups.enter_handler({"update": update_id})
        instance.running_handlers += 1
        instance.running_handler_details.append(running)
        _current_update.set(UpdateInfo(id=update_id, name=name))
        try:
            result = await instance.inbound.handle_update_handler(HandleUpdateInput(
                id=update_id, update=name, args=args,
                headers=headers_from_json(event.attributes.get("header"))))
            attrs: dict[str, Any] = {"update_id": update_id,
                                     "result": _payload_to_json(pc.to_payload(result))}
        except exc.FailureError as error:
            attrs = {"update_id": update_id,
                     "failure": instance.converter.failure_converter.to_failure(error, pc)}
        except asyncio.CancelledError:
            raise
        except exc.NondeterminismError as error:
            instance._handler_errors = appended(instance._handler_errors, error)
            return
        except Exception as error:
            failure_types = tuple(instance.definition.failure_exception_types or ())
            failure = instance.converter.failure_converter.to_failure(error, pc)
            if not (failure_types and isinstance(error, failure_types)):
                # A bug in the handler: Temporal fails the workflow task, drops the update
                # and answers its caller with an RPC error. Failing the task here would
                # redeliver the update for ever; answering it keeps the workflow going.
                log_warning(instance, "update %r (id %s) failed: the handler raised %s: %s",
                            name, update_id, type(error).__name__, error)
                failure[RPC_STATUS_KEY] = int(exc.RPCStatusCode.FAILED_PRECONDITION)
            attrs = {"update_id": update_id, "failure": failure}
        except BaseException as error:
            instance._handler_errors = appended(instance._handler_errors, error)
            return
        finally:
            instance.running_handlers -= 1
            instance.running_handler_details.remove(running)
        if not instance.completed:
            instance._commands.append(Command(EventType.WORKFLOW_EXECUTION_UPDATE_COMPLETED,
                                          attrs))

    instance.loop.create_task(run_update(), name=f"update-{name}",
                              context=instance._context.copy())


def _answer(answer: Any, name: str) -> Any:
    """The query's answer from the interceptors' ``handle_query`` (a coroutine, as in
    temporalio; a plain value from an interceptor written before it was one). A query
    answers from the state as it is: a handler that waits is an error."""
    if not inspect.iscoroutine(answer):
        return answer
    try:
        answer.send(None)
    except StopIteration as done:
        return done.value
    answer.close()
    raise exc.ApplicationError(f"query handler {name!r} waited for something; a query "
                               "answers from the workflow's state as it is, without waiting",
                               type="QueryHandlerWaited", non_retryable=True)


def run_query(instance: WorkflowInstance, name: str, payloads_json: list[dict[str, Any]],
              query_id: str = "") -> Any:
    """Answer a query from the current state; the handler may not issue commands."""
    if name in stack_trace.BUILT_IN:
        return stack_trace.answer(instance, name)
    definition = instance.query_handlers.get(name) or instance.query_handlers.get(None)
    if definition is None:
        known = ", ".join(sorted(n for n in instance.query_handlers if n)) or "none"
        raise exc.ApplicationError(
            f"workflow {instance.definition.name!r} has no query handler {name!r} "
            f"(known: {known})", type="UnknownQuery", non_retryable=True)
    pc = instance.converter.payload_converter
    payloads = [_payload_from_json(p) for p in payloads_json]
    if definition.dynamic:
        args: list[Any] = [name, _raw(payloads)]
    else:
        try:
            args = pc.from_payloads(payloads, definition.arg_type_hints)
        except Exception as error:
            raise exc.ApplicationError(f"query {name!r}: cannot decode its arguments: "
                                       f"{error}", type="InvalidQueryArguments",
                                       non_retryable=True) from None
    previous = asyncio.events._get_running_loop()
    asyncio.events._set_running_loop(instance.loop)
    instance._read_only = f"query handler {name!r}"
    saved_commands = instance._commands
    instance._commands = []
    try:
        with guard.activation():
            return _answer(instance.inbound.handle_query(
                HandleQueryInput(id=query_id, query=name, args=args, headers={})), name)
    finally:
        instance._commands = saved_commands
        instance._read_only = None
        asyncio.events._set_running_loop(previous)
