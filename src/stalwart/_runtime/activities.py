"""A workflow's view of one scheduled activity: the awaitable handle workflow code holds, and
how an activity argument (a decorated function, a method, or a name) becomes its type name."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from .. import exceptions as exc
from .._model.definitions import ActivityDefinition, get_activity_definition
from .._model.run_timeouts import settle_activity

if TYPE_CHECKING:
    from ..converter import DataConverter
    from .instance import WorkflowInstance


class ActivityHandle(asyncio.Future[Any]):
    """An awaitable, cancellable scheduled activity (like Temporal's ``ActivityHandle``)."""

    def __init__(self, instance: WorkflowInstance, seq: int, result_type: Any,
                 cancellation_type: int, activity_type: str = "", activity_id: str = ""
                 ) -> None:
        super().__init__(loop=instance.loop)
        self._instance = instance
        self._seq = seq
        self._result_type = result_type
        self._cancellation_type = cancellation_type
        self._activity_type = activity_type
        self._activity_id = activity_id
        self._cancel_requested = False
        self._local = False
        self._event_groups: list[dict[str, Any]] | None = None
        self._converter: DataConverter = instance.converter

    def cancel(self, msg: Any | None = None) -> bool:
        """Request cancellation. As in temporalio, the awaiter never sees a bare
        ``asyncio.CancelledError``: TRY_CANCEL and ABANDON resolve the handle at once with
        ``ActivityError`` caused by ``CancelledError``; WAIT_CANCELLATION_COMPLETED stays
        pending until the activity reports back (its result, or that error).

        Returns True whenever a cancellation was requested, so a task awaiting the handle
        is not itself cancelled but resumes with the handle's outcome."""
        if self.done():
            return False
        if not self._cancel_requested:
            self._cancel_requested = True
            self._instance._request_cancel_activity(self)
        if self._cancellation_type != 1:
            cancelled = exc.ActivityError(
                "Activity cancelled", scheduled_event_id=0, started_event_id=0, identity="",
                activity_type=self._activity_type, activity_id=self._activity_id,
                retry_state=exc.RetryState.CANCEL_REQUESTED)
            cancelled.__cause__ = exc.CancelledError("Cancelled")
            self.set_exception(cancelled)
        return True


def activity_name(activity: Any) -> tuple[str, ActivityDefinition | None]:
    if isinstance(activity, str):
        if not activity:
            raise ValueError("activity name must not be empty")
        return activity, None
    definition = get_activity_definition(activity)
    if definition is None:
        raise TypeError(
            f"{activity!r} is not an activity: decorate it with @activity.defn, or pass the "
            "activity's name as a string")
    return definition.name, definition


def scheduled_timeouts(timeouts: dict[str, timedelta | None], run_timeout: timedelta | None,
                       local: bool) -> dict[str, float | None]:
    """The timeouts an activity's command records, in seconds. A (non-local) activity's are
    settled as Temporal's server settles them on scheduling, so the history, the activity's
    info and the timeouts enforced are the server's; a local activity's are as given."""
    seconds = {name: value.total_seconds() if value is not None else None
               for name, value in timeouts.items()}
    if local:
        return seconds
    return settle_activity(seconds, run_timeout.total_seconds() if run_timeout else None)
