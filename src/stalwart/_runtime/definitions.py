"""Workflow definitions: what ``@workflow.defn`` and its method decorators attach to a class."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._model.definitions import signature_hints

_DEFN_ATTR = "__stalwart_workflow_definition__"
_RUN_ATTR = "__stalwart_workflow_run__"
_SIGNAL_ATTR = "__stalwart_signal_definition__"
_QUERY_ATTR = "__stalwart_query_definition__"
_UPDATE_ATTR = "__stalwart_update_definition__"
_INIT_ATTR = "__stalwart_workflow_init__"
DYNAMIC_CONFIG_ATTR = "__stalwart_workflow_dynamic_config__"


@dataclass(frozen=True)
class SignalDefinition:
    name: str | None
    fn: Callable[..., Any]
    is_async: bool
    arg_type_hints: tuple[Any, ...]
    dynamic: bool = False
    bound: bool = False  # set at run time with set_signal_handler: called without self
    unfinished_policy: int = 1  # HandlerUnfinishedPolicy.WARN_AND_ABANDON


@dataclass(frozen=True)
class QueryDefinition:
    name: str | None
    fn: Callable[..., Any]
    arg_type_hints: tuple[Any, ...]
    return_type_hint: Any
    dynamic: bool = False
    bound: bool = False


@dataclass
class UpdateDefinition:
    name: str | None
    fn: Callable[..., Any]
    is_async: bool
    arg_type_hints: tuple[Any, ...]
    return_type_hint: Any
    validator: Callable[..., Any] | None = None
    dynamic: bool = False
    bound: bool = False
    unfinished_policy: int = 1  # HandlerUnfinishedPolicy.WARN_AND_ABANDON


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    cls: type
    run_fn: Callable[..., Any]
    arg_type_hints: tuple[Any, ...]
    return_type_hint: Any
    signals: dict[str | None, SignalDefinition] = field(default_factory=dict)
    queries: dict[str | None, QueryDefinition] = field(default_factory=dict)
    updates: dict[str | None, UpdateDefinition] = field(default_factory=dict)
    failure_exception_types: Sequence[type[BaseException]] = ()
    init_takes_args: bool = False
    dynamic: bool = False
    # The worker's own types, kept apart so a dynamic workflow's dynamic_config can replace the
    # class's types while the worker's still apply (as in temporalio).
    worker_failure_exception_types: Sequence[type[BaseException]] = ()
    dynamic_config_fn: Callable[[Any], Any] | None = None


def mark_run(fn: Callable[..., Any]) -> Callable[..., Any]:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError(
            f"@workflow.run method {fn.__qualname__} must be 'async def'; workflow code runs on "
            "a deterministic asyncio event loop"
        )
    setattr(fn, _RUN_ATTR, True)
    return fn


def mark_signal(fn: Callable[..., Any], name: str | None, dynamic: bool,
                unfinished_policy: int = 1) -> Callable[..., Any]:
    arg_hints, _ = signature_hints(fn, skip_self=True)
    setattr(fn, _SIGNAL_ATTR, SignalDefinition(
        name=None if dynamic else (name or fn.__name__), fn=fn,
        is_async=inspect.iscoroutinefunction(fn), arg_type_hints=arg_hints, dynamic=dynamic,
        unfinished_policy=unfinished_policy))
    return fn


def mark_query(fn: Callable[..., Any], name: str | None, dynamic: bool) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(fn):
        raise TypeError(f"@workflow.query method {fn.__qualname__} must not be 'async def'; "
                        "queries are read-only and answer at once")
    arg_hints, return_hint = signature_hints(fn, skip_self=True)
    setattr(fn, _QUERY_ATTR, QueryDefinition(
        name=None if dynamic else (name or fn.__name__), fn=fn, arg_type_hints=arg_hints,
        return_type_hint=return_hint, dynamic=dynamic))
    return fn


def mark_update(fn: Callable[..., Any], name: str | None, dynamic: bool,
                unfinished_policy: int = 1) -> Callable[..., Any]:
    arg_hints, return_hint = signature_hints(fn, skip_self=True)
    definition = UpdateDefinition(
        name=None if dynamic else (name or fn.__name__), fn=fn,
        is_async=inspect.iscoroutinefunction(fn), arg_type_hints=arg_hints,
        return_type_hint=return_hint, dynamic=dynamic, unfinished_policy=unfinished_policy)
    setattr(fn, _UPDATE_ATTR, definition)

    def validator(validator_fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(validator_fn):
            raise TypeError(f"update validator {validator_fn.__qualname__} must not be async; "
                            "validators are read-only and answer at once")
        definition.validator = validator_fn
        return validator_fn

    fn.validator = validator  # type: ignore[attr-defined]
    return fn


def mark_init(fn: Callable[..., Any]) -> Callable[..., Any]:
    if fn.__name__ != "__init__":
        raise TypeError(f"@workflow.init must decorate __init__, not {fn.__qualname__}")
    setattr(fn, _INIT_ATTR, True)
    return fn


def define_workflow(cls: type, name: str | None,
                    failure_exception_types: Sequence[type[BaseException]],
                    dynamic: bool = False) -> None:
    if not isinstance(cls, type):
        raise TypeError(f"@workflow.defn must decorate a class, got {cls!r}")
    run_fns = [
        member for _, member in inspect.getmembers(cls, inspect.isfunction)
        if getattr(member, _RUN_ATTR, False)
    ]
    if len(run_fns) != 1:
        raise ValueError(
            f"workflow class {cls.__qualname__} must have exactly one method decorated with "
            f"@workflow.run, found {len(run_fns)}"
        )
    run_fn = run_fns[0]
    arg_hints, return_hint = signature_hints(run_fn, skip_self=True)
    signals: dict[str | None, SignalDefinition] = {}
    queries: dict[str | None, QueryDefinition] = {}
    updates: dict[str | None, UpdateDefinition] = {}
    for _, member in inspect.getmembers(cls, inspect.isfunction):
        if (update := getattr(member, _UPDATE_ATTR, None)) is not None:
            if update.name in updates:
                raise ValueError(f"workflow {cls.__qualname__} has two update handlers named "
                                 f"{update.name!r}")
            updates[update.name] = update
        if (sig := getattr(member, _SIGNAL_ATTR, None)) is not None:
            if sig.name in signals:
                raise ValueError(f"workflow {cls.__qualname__} has two signal handlers named "
                                 f"{sig.name!r}")
            signals[sig.name] = sig
        if (query := getattr(member, _QUERY_ATTR, None)) is not None:
            if query.name in queries:
                raise ValueError(f"workflow {cls.__qualname__} has two query handlers named "
                                 f"{query.name!r}")
            queries[query.name] = query
    if dynamic and name:
        raise ValueError(f"workflow {cls.__qualname__}: a dynamic workflow takes no name")
    config_fns = [member for _, member in inspect.getmembers(cls, inspect.isfunction)
                  if getattr(member, DYNAMIC_CONFIG_ATTR, False)]
    if config_fns and not dynamic:
        raise ValueError(f"@workflow.dynamic_config can only be used in dynamic workflows, but "
                         f"workflow class {cls.__qualname__} is not dynamic (use "
                         "@workflow.defn(dynamic=True))")
    if len(config_fns) > 1:
        raise ValueError(f"workflow {cls.__qualname__}: @workflow.dynamic_config can only be "
                         "defined once per workflow")
    init_takes_args = bool(getattr(cls.__dict__.get("__init__"), _INIT_ATTR, False))
    setattr(cls, _DEFN_ATTR, WorkflowDefinition(
        name="" if dynamic else (name or cls.__name__), cls=cls, run_fn=run_fn,
        arg_type_hints=arg_hints, init_takes_args=init_takes_args, dynamic=dynamic,
        return_type_hint=return_hint, signals=signals, queries=queries, updates=updates,
        failure_exception_types=tuple(failure_exception_types),
        dynamic_config_fn=config_fns[0] if config_fns else None,
    ))


def get_workflow_definition(obj: Any) -> WorkflowDefinition | None:
    """The definition for a workflow class, or for its ``@workflow.run`` method."""
    if isinstance(obj, type):
        return obj.__dict__.get(_DEFN_ATTR)
    if callable(obj) and getattr(obj, _RUN_ATTR, False):
        qualname = getattr(obj, "__qualname__", "")
        module = inspect.getmodule(obj)
        owner: Any = module
        for part in qualname.split(".")[:-1]:
            owner = getattr(owner, part, None)
        if isinstance(owner, type):
            return owner.__dict__.get(_DEFN_ATTR)
    return None
