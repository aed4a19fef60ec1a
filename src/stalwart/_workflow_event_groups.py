"""Event Groups (temporalio 1.35, experimental there): tokens that tie workflow commands to a
logical group for display. Knows the workflow runtime only to refuse use outside workflow code.

Stalwart accepts and checks them as temporalio does (``create_event_group``, ``scope()``, the
``event_groups=`` option of commands), keeps the active ones per coroutine and records them in
history as Temporal does: each command's event carries its groups' markers
(``eventGroupMarkers``; see ``_runtime.event_groups``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import MappingProxyType

from ._runtime import api as _api
from ._runtime.event_groups import Active as _Active
from ._runtime.event_groups import active as _active

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
        with _entered([self]):
            yield

    def __repr__(self) -> str:
        return f"EventGroup(id={self._id!r}, label={self._label!r})"


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


@contextmanager
def attached(directs: Sequence[EventGroup] | None) -> Iterator[None]:
    """The command asked for in the block also gets ``directs`` (a command's
    ``event_groups=``), checked as :func:`capture` checks them."""
    if not directs:
        yield
        return
    capture(directs)
    with _entered(directs):
        yield


@contextmanager
def _entered(groups: Sequence[EventGroup]) -> Iterator[None]:
    """``groups`` active, beside the enclosing ones, for the block."""
    active = _active.get()
    token = _active.set(_Active(MappingProxyType(
        {**active.groups, **{group._id: group for group in groups}}), active.implicit))
    try:
        yield
    finally:
        try:
            _active.reset(token)
        except ValueError:
            # A coroutine suspended inside the block is being closed, not resumed, in
            # another context; that context is discarded anyway.
            pass


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
