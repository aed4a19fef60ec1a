"""The command that closes a run by continuing it as new, from what the interceptors passed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._model import search_attributes as sa
from .._model.events import EV, Command
from .._model.run_timeouts import settle
from ..converter import _payload_to_json, headers_to_json
from .interceptors import ContinueAsNewInput

if TYPE_CHECKING:
    from .instance import WorkflowInstance


def continue_as_new_command(instance: WorkflowInstance, input: ContinueAsNewInput,
                            payloads: list[dict[str, Any]]) -> Command:
    """As in Temporal, the next run keeps this run's memo, search attributes and workflow
    task timeout unless ``memo`` / ``search_attributes`` / ``task_timeout`` replace them."""
    info = instance.info
    if input.memo is not None:
        pc = instance.converter.payload_converter
        memo: dict[str, Any] = {}
        for key, value in input.memo.items():
            try:
                memo[key] = _payload_to_json(pc.to_payload(value))
            except TypeError as error:
                raise TypeError(f"continue_as_new(memo={{{key!r}: ...}}): {error}") from None
    else:
        memo = dict(instance.memo_payloads)
    search_attributes = sa.to_store(input.search_attributes) \
        if input.search_attributes is not None else dict(info._search_attributes_store)
    attributes: dict[str, Any] = {
        "workflow_type": input.workflow or info.workflow_type,
        "task_queue": input.task_queue or info.task_queue,
        "input": payloads,
        **_next_run_timeouts(instance.started_attributes, input),
    }
    if input.headers:
        attributes["header"] = headers_to_json(dict(input.headers))
    if memo:
        attributes["memo"] = memo
    if search_attributes:
        attributes["search_attributes"] = search_attributes
    if input.backoff_start_interval:
        attributes["backoff_start_interval"] = input.backoff_start_interval.total_seconds()
    if input.retry_policy is not None:
        attributes["retry_policy"] = input.retry_policy._to_json()
    if input.event_groups:
        # Captured where continue_as_new was called (the command is made as the run unwinds).
        attributes["event_groups"] = [
            {"id": g._id, **({"label": g._label} if g._label is not None else {})}
            for g in input.event_groups]
    return Command(EV.WORKFLOW_EXECUTION_CONTINUED_AS_NEW, attributes)


def _next_run_timeouts(started: dict[str, Any], input: ContinueAsNewInput) -> dict[str, float]:
    """The next run's run and workflow task timeouts as Temporal's server settles them (and
    records them in the ContinuedAsNew event): each is this run's unless given, the run
    timeout never longer than the chain's execution timeout (which the next run inherits),
    the task timeout never longer than the run timeout; "no run timeout" is 0."""
    # Stalwart's execution_timeout on continue_as_new reads as the next run's run timeout.
    given = input.run_timeout or input.execution_timeout
    task_given = input.task_timeout
    _, run, task = settle(
        started.get("execution_timeout"),
        given.total_seconds() if given else started.get("run_timeout"),
        task_given.total_seconds() if task_given else started.get("task_timeout"))
    return {"run_timeout": run or 0.0, **({"task_timeout": task} if task else {})}
