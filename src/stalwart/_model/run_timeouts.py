"""How Temporal's server settles a run's timeouts from what a start asked for."""

from __future__ import annotations

# Temporal's default workflow task timeout, in seconds.
DEFAULT_TASK_TIMEOUT = 10.0


def settle(execution: float | None, run: float | None, task: float | None
           ) -> tuple[float | None, float | None, float | None]:
    """(execution, run, task) timeouts in seconds, None (or 0) for "not given": the run
    timeout is the execution timeout when only that is given and never longer than it; the
    workflow task timeout (when given, or when the run timeout is shorter than the default)
    never longer than the run timeout."""
    execution = execution or None
    run = run or None
    if run is None or (execution is not None and execution < run):
        run = execution
    task = task or None
    if run is not None and run < (task or DEFAULT_TASK_TIMEOUT):
        task = run
    return execution, run, task


def settle_activity(timeouts: dict[str, float | None], run: float | None
                    ) -> dict[str, float | None]:
    """An activity's timeouts in seconds as Temporal's server records them when it schedules
    the activity (and as the activity's info then reads them): schedule-to-close is at most
    the run timeout (the run timeout when not given); start-to-close and schedule-to-start
    are at most schedule-to-close (schedule-to-close when not given); the heartbeat timeout
    is at most start-to-close."""
    close, start, attempt, beat = (timeouts.get(name) or None for name in (
        "schedule_to_close_timeout", "schedule_to_start_timeout", "start_to_close_timeout",
        "heartbeat_timeout"))
    if run:
        close = min(close, run) if close else run
    if close:
        start = min(start, close) if start else close
        attempt = min(attempt, close) if attempt else close
    if beat and attempt:
        beat = min(beat, attempt)
    return {"schedule_to_close_timeout": close, "schedule_to_start_timeout": start,
            "start_to_close_timeout": attempt, "heartbeat_timeout": beat}
