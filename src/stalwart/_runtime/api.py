"""Finding the workflow instance behind the public ``stalwart.workflow`` functions."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .loop import WorkflowEventLoop

if TYPE_CHECKING:
    # Only named: the instance module imports the public workflow functions that use this.
    from .instance import WorkflowInstance


def current() -> WorkflowInstance:
    """The instance whose activation is running, or a clear error outside workflow code."""
    loop = asyncio.events._get_running_loop()
    if isinstance(loop, WorkflowEventLoop):
        return loop.instance
    raise RuntimeError(
        "not in workflow code: this function works only inside a @workflow.defn class's "
        "methods while a worker runs them"
    )


def in_workflow() -> bool:
    return isinstance(asyncio.events._get_running_loop(), WorkflowEventLoop)
