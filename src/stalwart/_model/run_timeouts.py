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
