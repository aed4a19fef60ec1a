"""Checks on the workflow timeouts a client start is given."""

from __future__ import annotations

from datetime import timedelta


def check_timeouts(execution_timeout: timedelta | None, run_timeout: timedelta | None,
                   task_timeout: timedelta | None) -> None:
    """Refuse a timeout that is not positive, naming it."""
    for name, value, what in (
            ("execution_timeout", execution_timeout,
             "it bounds the whole chain of runs (leave it unset for no limit)"),
            ("run_timeout", run_timeout,
             "it bounds each single run (leave it unset for no limit)"),
            ("task_timeout", task_timeout,
             "it bounds each workflow task (Temporal's default is 10 seconds)")):
        if value is not None and value <= timedelta(0):
            raise ValueError(f"{name} must be positive, got {value}: {what}")
