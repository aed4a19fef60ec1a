"""``workflow.logger``, its ``LoggerAdapter``, and ``workflow.unsafe``: the parts of
``temporalio.workflow`` that look at how the current code runs (replaying, read-only, inside
``imports_passed_through``) rather than at what it does."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

from ._runtime import api as _api
from ._runtime import guard as _guard
from ._runtime import messaging as _messaging

__all__ = ["LoggerAdapter", "logger", "unsafe"]

# Per thread, as temporalio's flag is: workers run workflow code on their own threads.
_imports_passed_through = threading.local()


class LoggerAdapter(logging.LoggerAdapter[logging.Logger]):
    """Adds the run's details to every record, as temporalio's adapter does, and stays silent
    while the workflow replays history (queries and update validators are live, so they log).

    Attributes:
        workflow_info_on_message: append the details (attempt, namespace, run_id,
            task_queue, workflow_id, workflow_type; update_id and update_name inside an
            update handler) to the message. Default True.
        workflow_info_on_extra: put them on the record as ``temporal_workflow``. Default True.
        full_workflow_info_on_extra: put the whole ``workflow.info()`` on the record as
            ``workflow_info``. Default False.
        log_during_replay: log while replaying history too. Default False.
    """

    def __init__(self, logger: logging.Logger, extra: Any = None) -> None:
        super().__init__(logger, extra or {})
        self.workflow_info_on_message = True
        self.workflow_info_on_extra = True
        self.full_workflow_info_on_extra = False
        self.log_during_replay = False

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        if not _api.in_workflow() or not (self.workflow_info_on_message or
                                          self.workflow_info_on_extra or
                                          self.full_workflow_info_on_extra):
            return msg, kwargs
        info = _api.current().info
        details: dict[str, Any] = {
            "attempt": info.attempt, "namespace": info.namespace, "run_id": info.run_id,
            "task_queue": info.task_queue, "workflow_id": info.workflow_id,
            "workflow_type": info.workflow_type}
        update = _messaging.current_update_info()
        if update is not None:
            details.update(update_id=update.id, update_name=update.name)
        extra: dict[str, Any] = {}
        if self.workflow_info_on_extra:
            extra["temporal_workflow"] = dict(details)
        if self.full_workflow_info_on_extra:
            extra["workflow_info"] = info
        # The call's own extra wins, as in temporalio.
        kwargs["extra"] = {**extra, **(kwargs.get("extra") or {})}
        if self.workflow_info_on_message:
            msg = f"{msg} ({details})"
        return msg, kwargs

    def log(self, level: int, msg: object, *args: Any, stacklevel: int = 1,
            **kwargs: Any) -> None:
        # One more frame (this one) between the caller and logging, so records name the
        # workflow code that logged, as temporalio's do.
        super().log(level, msg, *args, stacklevel=stacklevel + 1, **kwargs)

    def isEnabledFor(self, level: int) -> bool:
        if not self.log_during_replay and _api.in_workflow() and \
                unsafe.is_replaying_history_events():
            return False
        return self.logger.isEnabledFor(level)

    @property
    def base_logger(self) -> logging.Logger:
        """The underlying logger, to add handlers or formatters to."""
        return self.logger


logger = LoggerAdapter(logging.getLogger("stalwart.workflow"))


class unsafe:
    """Escape hatches; use with care."""

    @staticmethod
    def is_replaying() -> bool:
        """True while the workflow re-runs recorded history (side effects would repeat),
        queries and update validators run then included."""
        return _api.current().is_replaying

    @staticmethod
    def is_replaying_history_events() -> bool:
        """True while recorded history events are replayed; queries and update validators,
        which are live, are not."""
        instance = _api.current()
        return instance.is_replaying and instance._read_only is None

    @staticmethod
    def is_read_only() -> bool:
        """True inside a query handler or an update validator, where nothing may be
        scheduled."""
        return _api.current()._read_only is not None

    @staticmethod
    def is_imports_passed_through() -> bool:
        """True inside :meth:`imports_passed_through`."""
        return getattr(_imports_passed_through, "value", False)

    @staticmethod
    @contextmanager
    def imports_passed_through() -> Iterator[None]:
        """Stalwart has no import sandbox to pass imports through: only marks the block, for
        :meth:`is_imports_passed_through`."""
        if unsafe.is_imports_passed_through():
            yield
            return
        _imports_passed_through.value = True
        try:
            yield
        finally:
            _imports_passed_through.value = False

    @staticmethod
    @contextmanager
    def sandbox_unrestricted() -> Iterator[None]:
        """Lift the determinism guard inside the block (for code you know replays the same,
        e.g. a library that reads the clock only for logging)."""
        with _guard.unrestricted():
            yield
