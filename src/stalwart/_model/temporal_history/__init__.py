"""Temporal's event model over Stalwart's compact history, both ways.

The store keeps a compact history: a workflow task is one ``WorkflowTaskCompleted`` row (its
inputs before it, its commands after it), an activity's close row carries when it started,
results refer to commands by the runtime's ``seq``, local activities are an ordinary
``ActivityTaskScheduled``/close pair. Temporal's history is longer and linked by event id:
``WorkflowTaskScheduled``/``Started``/``Completed`` triples, ``ActivityTaskStarted`` before an
activity's close, ``scheduledEventId``/``startedEventId``/``initiatedEventId`` references, a
``core_local_activity`` marker per local activity, and an ``UpsertWorkflowSearchAttributes`` of
``TemporalChangeVersion`` after each new ``patched`` marker.

:func:`to_temporal` turns stored events into Temporal's (attributes in proto3 JSON form, as
``temporal workflow show --output json`` writes them); :func:`from_temporal` turns Temporal's
events back into what the runtime replays, assigning the runtime's ``seq`` from command order.
:class:`TemporalLength` counts Temporal's events for the stored ones cheaply, so a running
workflow's ``get_current_history_length()`` is Temporal's without expanding anything.
"""

from .common import (
    CHANGE_VERSION,
    WORKFLOW_TASK_SCHEDULED,
    WORKFLOW_TASK_STARTED,
    WORKFLOW_TASK_TIMED_OUT,
    HistoryFormatError,
    seed_for_run,
)
from .compact import TEMPORAL_EVENT_TYPES, UNSUPPORTED_EVENT_TYPES, from_temporal
from .expand import to_temporal
from .length import TemporalLength, estimate_history_size, payload_size

__all__ = [
    "CHANGE_VERSION",
    "TEMPORAL_EVENT_TYPES",
    "UNSUPPORTED_EVENT_TYPES",
    "WORKFLOW_TASK_SCHEDULED",
    "WORKFLOW_TASK_STARTED",
    "WORKFLOW_TASK_TIMED_OUT",
    "HistoryFormatError",
    "TemporalLength",
    "estimate_history_size",
    "from_temporal",
    "payload_size",
    "seed_for_run",
    "to_temporal",
]
