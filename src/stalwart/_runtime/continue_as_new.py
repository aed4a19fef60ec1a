"""The command that closes a run by continuing it as new, from what the interceptors passed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._model import search_attributes as sa
from .._model.events import EV, Command
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
    deadline = input.execution_timeout or input.run_timeout
    attributes: dict[str, Any] = {
        "workflow_type": input.workflow or info.workflow_type,
        "task_queue": input.task_queue or info.task_queue,
        "input": payloads,
        "execution_timeout": deadline.total_seconds() if deadline else None,
    }
    if input.headers:
        attributes["header"] = headers_to_json(dict(input.headers))
    if memo:
        attributes["memo"] = memo
    if search_attributes:
        attributes["search_attributes"] = search_attributes
    if input.backoff_start_interval:
        attributes["backoff_start_interval"] = input.backoff_start_interval.total_seconds()
    if input.run_timeout:
        attributes["run_timeout"] = input.run_timeout.total_seconds()
    # As in Temporal, the next run keeps this run's workflow task timeout unless given one.
    task_timeout = input.task_timeout.total_seconds() if input.task_timeout \
        else instance.started_attributes.get("task_timeout")
    if task_timeout:
        attributes["task_timeout"] = task_timeout
    if input.retry_policy is not None:
        attributes["retry_policy"] = input.retry_policy._to_json()
    return Command(EV.WORKFLOW_EXECUTION_CONTINUED_AS_NEW, attributes)
