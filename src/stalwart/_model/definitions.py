"""Activity definitions: what ``@activity.defn`` attaches to a function.

Lives in the leaf layer because both the workflow runtime (to name an activity and decode its
result) and the engine (to run it) read it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_ATTR = "__stalwart_activity_definition__"


@dataclass(frozen=True)
class ActivityDefinition:
    name: str
    fn: Callable[..., Any]
    is_async: bool
    arg_type_hints: tuple[Any, ...]
    return_type_hint: Any
    dynamic: bool = False


def signature_hints(fn: Callable[..., Any], *, skip_self: bool) -> tuple[tuple[Any, ...], Any]:
    """Positional parameter type hints and the return hint of ``fn`` (None where absent)."""
    try:
        hints = typing.get_type_hints(fn)
    except Exception:
        hints = {}
    params = list(inspect.signature(fn).parameters.values())
    if skip_self and params:
        params = params[1:]
    arg_hints = tuple(
        hints.get(p.name) for p in params
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    )
    return arg_hints, hints.get("return")


def define_activity(fn: Callable[..., Any], name: str | None, dynamic: bool) -> None:
    if not callable(fn):
        raise TypeError(f"@activity.defn must decorate a function, got {fn!r}")
    target = getattr(fn, "__func__", fn)
    # A callable class: its instances are the activity, its __call__ says how it is called.
    call = target.__call__ if inspect.isclass(target) else target
    arg_hints, return_hint = signature_hints(call, skip_self=_is_method(call))
    definition = ActivityDefinition(
        name="" if dynamic else (name or str(getattr(target, "__name__", repr(target)))),
        fn=target,
        is_async=inspect.iscoroutinefunction(call), arg_type_hints=arg_hints,
        return_type_hint=return_hint, dynamic=dynamic,
    )
    setattr(target, _ATTR, definition)


def _is_method(fn: Callable[..., Any]) -> bool:
    params = list(inspect.signature(fn).parameters)
    return bool(params) and params[0] == "self"


def get_activity_definition(fn: Any) -> ActivityDefinition | None:
    return getattr(fn, _ATTR, None)
