"""Event Groups (temporalio 1.35, experimental there): tokens that tie workflow commands to a
logical group for display. Knows the workflow runtime only to refuse use outside workflow code.

Stalwart accepts and checks them as temporalio does (``create_event_group``, ``scope()``, the
``event_groups=`` option of commands) and keeps the active ones per coroutine; it does not yet
record them in history, where Temporal attaches them to each command as markers.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType

from ._runtime import api as _api

__all__ = ["EventGroup", "create_event_group"]


class EventGroup:
    """A token grouping workflow commands. Create with :func:`create_event_group`; attach
    through a command's ``event_groups=`` option, or to every command of a block with
    :meth:`scope`."""

    def __init__(self, id: str, label: str | None) -> None:
        self._id = id
        self._label = label

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Attach this group to every command produced inside the block. Scopes nest;
        coroutines started inside inherit them. Only usable inside a workflow."""
        _api.current()
        active = _active.get()
        token = _active.set(_Active(MappingProxyType({**active.groups, self._id: self})))
        try:
            yield
        finally:
            try:
                _active.reset(token)
            except ValueError:
                # A coroutine suspended inside the scope is being closed, not resumed, in
                # another context; that context is discarded anyway.
                pass

    def __repr__(self) -> str:
        return f"EventGroup(id={self._id!r}, label={self._label!r})"


@dataclass(frozen=True)
class _Active:
    groups: Mapping[str, EventGroup] = field(default_factory=lambda: MappingProxyType({}))


_NONE_ACTIVE = _Active()
_active: contextvars.ContextVar[_Active] = contextvars.ContextVar(
    "stalwart_active_event_groups", default=_NONE_ACTIVE)


def create_event_group(id: str, *, label: str | None = None) -> EventGroup:
    """A new Event Group; commands with the same ``id`` belong to the same group.

    Raises:
        ValueError: ``id`` or ``label`` is empty.
        RuntimeError: called outside workflow code.
    """
    _api.current()
    if not id:
        raise ValueError("Event group id cannot be empty")
    if label is not None and not label:
        raise ValueError("Event group label cannot be empty")
    return EventGroup(id, label)


def capture(directs: Sequence[EventGroup] | None) -> list[EventGroup]:
    """The groups a command gets: those of the enclosing scopes plus ``directs``.

    Raises:
        TypeError: an entry of ``event_groups=[...]`` was not made by create_event_group.
    """
    groups = dict(_active.get().groups)
    for group in directs or ():
        if not isinstance(group, EventGroup):
            raise TypeError("Event groups must be created with workflow.create_event_group(), "
                            f"got {group!r} in event_groups=[...]")
        groups[group._id] = group
    return list(groups.values())
