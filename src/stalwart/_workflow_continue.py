"""``workflow.continue_as_new`` and the argument merging the workflow functions share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from ._runtime import api as _api
from ._runtime.definitions import get_workflow_definition as _get_workflow_definition
from ._runtime.interceptors import ContinueAsNewInput as _ContinueAsNewInput
from ._workflow_event_groups import capture as _capture_event_groups
from .common import RetryPolicy


class _NoArg:
    pass


_NO_ARG: Any = _NoArg()


def _merge_args(arg: Any, args: Sequence[Any], extra: Sequence[Any]) -> list[Any]:
    if arg is not _NO_ARG:
        if args:
            raise ValueError("pass either a single positional argument or args=[...], not both")
        return [arg, *extra]
    return list(args)


def continue_as_new(arg: Any = _NO_ARG, *, args: Sequence[Any] = (), workflow: Any = None,
                    task_queue: str | None = None, run_timeout: timedelta | None = None,
                    task_timeout: timedelta | None = None,
                    backoff_start_interval: timedelta | None = None,
                    retry_policy: RetryPolicy | None = None,
                    memo: Mapping[str, Any] | None = None, search_attributes: Any = None,
                    versioning_intent: Any = None, initial_versioning_behavior: Any = None,
                    event_groups: Sequence[Any] | None = None,
                    execution_timeout: timedelta | None = None) -> Any:
    """End this run and start a fresh one (same workflow id, empty history) with new input.

    Never returns: raises an internal ``ContinueAsNewError`` that unwinds the workflow.
    ``memo``, ``search_attributes`` and ``task_timeout`` replace what the next run keeps; its
    first workflow task waits ``backoff_start_interval``; ``run_timeout`` (or Stalwart's
    ``execution_timeout``) bounds it (by default it keeps this run's run timeout; the chain's
    execution timeout, as in Temporal, carries on). ``retry_policy`` is the next run's retry
    policy (by default it keeps this run's); the versioning arguments are accepted and
    ignored.
    """
    call_args = _merge_args(arg, args, ())
    groups = _capture_event_groups(event_groups)
    name = workflow if isinstance(workflow, str) or workflow is None else None
    arg_types: list[type] | None = None
    if workflow is not None and name is None:
        definition = _get_workflow_definition(workflow)
        if definition is None:
            raise TypeError(f"continue_as_new(workflow={workflow!r}): not a @workflow.defn "
                            "class or @workflow.run method")
        name = definition.name
        arg_types = list(definition.arg_type_hints)
    _api.current().outbound.continue_as_new(_ContinueAsNewInput(
        workflow=name, args=call_args, task_queue=task_queue,
        execution_timeout=execution_timeout, headers={}, run_timeout=run_timeout,
        task_timeout=task_timeout, backoff_start_interval=backoff_start_interval,
        retry_policy=retry_policy, memo=memo, search_attributes=search_attributes,
        versioning_intent=versioning_intent,
        initial_versioning_behavior=initial_versioning_behavior, event_groups=groups or None,
        arg_types=arg_types))
