"""Every instance a test builds is evicted afterwards, so no workflow coroutine outlives it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stalwart._runtime.instance import WorkflowInstance

from .harness import Run, new_instance


@pytest.fixture
def make_run() -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def make(cls: type, *args: Any, **kwargs: Any) -> Run:
        run = Run(cls, *args, **kwargs)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()


@pytest.fixture
def make_instance() -> Iterator[Callable[..., WorkflowInstance]]:
    instances: list[WorkflowInstance] = []

    def make(cls: type, **kwargs: Any) -> WorkflowInstance:
        instance = new_instance(cls, **kwargs)
        instances.append(instance)
        return instance

    yield make
    for instance in instances:
        if not instance.is_evicted:
            instance.evict()
