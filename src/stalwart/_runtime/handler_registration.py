"""Registering signal, query and update handlers while a workflow runs (``workflow.set_*_handler``).

Re-exported by ``stalwart.workflow``; kept here beside the definitions they build.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from .._model.definitions import signature_hints as _signature_hints
from . import api as _api
from . import messaging as _messaging
from .definitions import QueryDefinition as _QueryDefinition
from .definitions import SignalDefinition as _SignalDefinition
from .definitions import UpdateDefinition as _UpdateDefinition


def set_signal_handler(name: str | None, handler: Callable[..., Any] | None) -> None:
    """Register (or with ``None`` remove) a signal handler at run time; buffered signals of that
    name are delivered to it."""
    instance = _api.current()
    if handler is None:
        instance.signal_handlers.pop(name, None)
        return
    arg_hints, _ = _signature_hints(handler, skip_self=False)
    instance.signal_handlers[name] = _SignalDefinition(
        name=name, fn=handler, is_async=asyncio.iscoroutinefunction(handler),
        arg_type_hints=arg_hints, dynamic=name is None, bound=True)
    _messaging.deliver_buffered_signals(instance)


def set_dynamic_signal_handler(handler: Callable[..., Any] | None) -> None:
    set_signal_handler(None, handler)


def get_signal_handler(name: str) -> Callable[..., Any] | None:
    definition = _api.current().signal_handlers.get(name)
    return definition.fn if definition is not None else None


def set_query_handler(name: str | None, handler: Callable[..., Any] | None) -> None:
    """Register (or remove) a query handler at run time."""
    instance = _api.current()
    if handler is None:
        instance.query_handlers.pop(name, None)
        return
    arg_hints, return_hint = _signature_hints(handler, skip_self=False)
    instance.query_handlers[name] = _QueryDefinition(
        name=name, fn=handler, arg_type_hints=arg_hints, return_type_hint=return_hint,
        dynamic=name is None, bound=True)


def set_dynamic_query_handler(handler: Callable[..., Any] | None) -> None:
    set_query_handler(None, handler)


def get_query_handler(name: str) -> Callable[..., Any] | None:
    definition = _api.current().query_handlers.get(name)
    return definition.fn if definition is not None else None


def set_update_handler(name: str | None, handler: Callable[..., Any] | None, *,
                       validator: Callable[..., None] | None = None) -> None:
    """Register (or remove) an update handler, with an optional validator, at run time."""
    instance = _api.current()
    if handler is None:
        instance.update_handlers.pop(name, None)
        return
    arg_hints, return_hint = _signature_hints(handler, skip_self=False)
    instance.update_handlers[name] = _UpdateDefinition(
        name=name, fn=handler, is_async=asyncio.iscoroutinefunction(handler),
        arg_type_hints=arg_hints, return_type_hint=return_hint, validator=validator,
        dynamic=name is None, bound=True)


def set_dynamic_update_handler(handler: Callable[..., Any] | None, *,
                               validator: Callable[..., None] | None = None) -> None:
    set_update_handler(None, handler, validator=validator)


def get_update_handler(name: str) -> Callable[..., Any] | None:
    definition = _api.current().update_handlers.get(name)
    return definition.fn if definition is not None else None
