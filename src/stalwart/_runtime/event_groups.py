"""The Event Groups active where workflow code runs, and the markers its commands carry.

A command records the groups active where it was asked for (temporalio captures them at the
request too): the explicit ones of the enclosing ``scope()`` blocks and the command's
``event_groups=``, after the implicit one of the signal or update handler it runs in (a
handler does not inherit the scopes it was registered in). Stored form, in the command's
``event_groups`` attribute: ``{"id": ..., "label": ...}`` for a group made by
``create_event_group``, ``{"signal": n}`` for the handler of the run's n-th signal (its
``WorkflowExecutionSignaled`` event id is known only in Temporal's numbering, which the
history expansion gives it), ``{"update": id}`` for an update's handler.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Active:
    # id -> the group (a stalwart.workflow.EventGroup), in the order they were entered.
    groups: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    implicit: dict[str, Any] | None = None


NONE_ACTIVE = Active()
active: contextvars.ContextVar[Active] = contextvars.ContextVar(
    "stalwart_active_event_groups", default=NONE_ACTIVE)


def enter_handler(marker: dict[str, Any]) -> None:
    """In a signal or update handler's own context: its implicit group, nothing else."""
    active.set(Active(implicit=marker))


def markers() -> list[dict[str, Any]] | None:
    """The stored markers of a command asked for here; None when no group is active."""
    current = active.get()
    if current is NONE_ACTIVE:
        return None
    out = [current.implicit] if current.implicit is not None else []
    for group in current.groups.values():
        out.append({"id": group._id, **({"label": group._label}
                                       if group._label is not None else {})})
    return out or None


def grouped(attributes: dict[str, Any], groups: list[dict[str, Any]] | None = None
            ) -> dict[str, Any]:
    """A command's attributes with the markers of ``groups`` (by default those active
    here), if any."""
    if groups is None:
        groups = markers()
    if groups:
        attributes["event_groups"] = groups
    return attributes
