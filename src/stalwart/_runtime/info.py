"""``workflow.info()``: what a workflow knows about its own execution."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from .._model.search_attributes import TypedSearchAttributes, to_dict_form
from ..common import Priority, RetryPolicy

# Temporal's server suggests continue-as-new at 4 Ki events or 4 MiB of history; so do we.
CONTINUE_AS_NEW_SUGGESTED_EVENTS = 4096
CONTINUE_AS_NEW_SUGGESTED_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ParentInfo:
    namespace: str
    run_id: str
    workflow_id: str


@dataclass(frozen=True)
class RootInfo:
    """The root workflow of a chain of children."""

    run_id: str
    workflow_id: str


class RunFacts(Protocol):
    """What ``Info`` reads from its running workflow when asked: these change during the run
    (the history grows, upserts change the memo)."""

    def info_history_length(self) -> int: ...

    def info_history_size(self) -> int: ...

    def info_raw_memo(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Info:
    """Facts about the current workflow execution (mirrors ``temporalio.workflow.Info``)."""

    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    namespace: str
    attempt: int
    start_time: datetime
    run_id_first: str
    continued_run_id: str | None
    execution_timeout: timedelta | None
    run_timeout: timedelta | None
    task_timeout: timedelta | None
    retry_policy: RetryPolicy | None
    cron_schedule: str | None
    parent: ParentInfo | None
    priority: Priority = field(default_factory=Priority)
    headers: dict[str, object] = field(default_factory=dict)
    typed_search_attributes: TypedSearchAttributes = TypedSearchAttributes.empty
    _search_attributes_store: dict[str, Any] = field(default_factory=dict, repr=False)
    # The workflow at the top of this one's chain of parents; None for a top-level workflow
    # (Temporal records a root only on children).
    root: RootInfo | None = None
    # The run a chain of resets began with (this run when it was not made by a reset).
    original_execution_run_id: str = ""
    # The running workflow, asked for what changes during the run; None outside one. One
    # reference rather than a closure per fact: a worker keeps an Info per cached run, and
    # every object a cached run holds is one more for the garbage collector to walk.
    _run: RunFacts | None = field(default=None, repr=False, compare=False)

    @property
    def raw_memo(self) -> Mapping[str, Any]:
        """The memo as stored payloads (``converter.Payload``), upserts included."""
        return self._run.info_raw_memo() if self._run is not None else {}

    @property
    def search_attributes(self) -> dict[str, list[Any]]:
        """The older dict form: name -> list of values."""
        return to_dict_form(self._search_attributes_store)

    @property
    def first_execution_run_id(self) -> str:
        return self.run_id_first

    @property
    def workflow_start_time(self) -> datetime:
        return self.start_time

    def get_current_history_length(self) -> int:
        """Events in this run's history as Temporal counts them: up to and including the
        ``WorkflowTaskStarted`` of the current workflow task."""
        return self._run.info_history_length() if self._run is not None else 0

    def get_current_history_size(self) -> int:
        """About how many bytes the run's history holds (payloads plus a fixed overhead per
        event; Temporal reports the exact encoded size, so small differences are expected)."""
        return self._run.info_history_size() if self._run is not None else 0

    def is_continue_as_new_suggested(self) -> bool:
        """True once the history is long enough that a new run would replay faster (as
        Temporal's server: 4,096 events or 4 MiB)."""
        return (self.get_current_history_length() >= CONTINUE_AS_NEW_SUGGESTED_EVENTS
                or self.get_current_history_size() >= CONTINUE_AS_NEW_SUGGESTED_BYTES)
