"""The built-in ``__stack_trace`` and ``__enhanced_stack_trace`` queries: where each coroutine
of a workflow is waiting, in the form Temporal's Python SDK answers them."""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .instance import WorkflowInstance

STACK_TRACE = "__stack_trace"
ENHANCED_STACK_TRACE = "__enhanced_stack_trace"
BUILT_IN = (STACK_TRACE, ENHANCED_STACK_TRACE)


def _waiting_tasks(instance: WorkflowInstance) -> list[Any]:
    tasks = [task for task in list(instance.loop.tasks) if not task.done()]
    # The run first, then handlers and user tasks in the order they were created.
    return sorted(tasks, key=lambda task: task is not instance._main_task)


def _frames(task: Any) -> list[Any]:
    """The task's frames oldest first, down the chain of awaits to where it is suspended
    (``Task.get_stack()`` stops at a suspended coroutine's own frame)."""
    frames = []
    awaited = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return frames


def stack_trace(instance: WorkflowInstance) -> str:
    """One block per waiting task, frames oldest first (as ``traceback.format_list``)."""
    stacks = []
    for task in _waiting_tasks(instance):
        frames = [traceback.FrameSummary(f.f_code.co_filename, f.f_lineno, f.f_code.co_name)
                  for f in _frames(task)]
        stacks.append(f"Stack for {task!r} (most recent call last):\n"
                      + "\n".join(traceback.format_list(frames)))
    return "\n\n".join(stacks)


def enhanced_stack_trace(instance: WorkflowInstance) -> dict[str, Any]:
    """Temporal's ``EnhancedStackTrace`` in proto3 JSON form: the SDK, each file's source once,
    and each waiting task's frames."""
    from .. import __version__

    sources: dict[str, dict[str, Any]] = {}
    stacks = []
    for task in _waiting_tasks(instance):
        locations = []
        for frame in _frames(task):
            path = frame.f_code.co_filename
            if path not in sources:
                try:
                    with open(path, encoding="utf-8") as source:
                        content = source.read()
                except OSError as error:
                    content = f"Cannot access code.\n---\n{error.strerror}"
                sources[path] = {"lineOffset": 0, "content": content}
            locations.append({"filePath": path, "line": frame.f_lineno, "column": -1,
                              "functionName": frame.f_code.co_name, "internalCode": False})
        stacks.append({"locations": locations})
    return {"sdk": {"name": "stalwart", "version": __version__}, "sources": sources,
            "stacks": stacks}


def answer(instance: WorkflowInstance, name: str) -> Any:
    return stack_trace(instance) if name == STACK_TRACE else enhanced_stack_trace(instance)
