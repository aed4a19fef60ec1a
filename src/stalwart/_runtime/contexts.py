"""Which serialization context each payload of a workflow converts in (temporalio's rules):
the workflow's own for its input, result and messages; the target's for a child or an external
workflow; an activity context, without the activity id, for an activity scheduled from the
workflow. Knows the data converter and ``workflow.info()``; nothing of the loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ..converter import ActivitySerializationContext, DataConverter, WorkflowSerializationContext
from .definitions import WorkflowDefinition
from .info import Info

# Each of these first asks whether the converter takes a context at all: the usual answer is
# no, and then the context (a frozen dataclass, costly to build) is not made.


def workflow_converter(base: DataConverter, namespace: str, workflow_id: str) -> DataConverter:
    if base._takes_no_context():
        return base
    return base._conversion_context(WorkflowSerializationContext(namespace, workflow_id))


def activity_converter(base: DataConverter, info: Info, activity_type: str, task_queue: str,
                       local: bool) -> DataConverter:
    if base._takes_no_context():
        return base
    return base._conversion_context(ActivitySerializationContext(
        namespace=info.namespace, activity_id=None, activity_type=activity_type,
        activity_task_queue=task_queue, workflow_id=info.workflow_id,
        workflow_type=info.workflow_type, is_local=local))


def child_converter(base: DataConverter, info: Info, workflow_id: str) -> DataConverter:
    return workflow_converter(base, info.namespace, workflow_id)


def with_dynamic_config(definition: WorkflowDefinition, config_fn: Callable[[Any], Any],
                        workflow_object: Any) -> WorkflowDefinition:
    """A dynamic workflow's ``@workflow.dynamic_config`` applied: its
    ``failure_exception_types`` replace the class's (the worker's stay), as in temporalio."""
    types = getattr(config_fn(workflow_object), "failure_exception_types", None)
    if types is None:
        return definition
    return dataclasses.replace(definition, failure_exception_types=(
        *types, *definition.worker_failure_exception_types))
