"""Worker options that exist in temporalio for its Rust core and map onto Stalwart's plainer
knobs: fixed and resource-based slot suppliers become concurrency limits (custom ones are
called around each task, see ``_engine.slots``), poller behaviours are accepted
(Stalwart's workers claim tasks from the store, they do not long-poll a server), and workflow
runners are accepted (Stalwart has no import sandbox: it checks determinism while the workflow
runs, so both runners run workflows the same way).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeAlias, TypedDict

from ._engine.slots import CustomSlotSupplier


@dataclass(frozen=True)
class FixedSizeSlotSupplier:
    """At most ``num_slots`` tasks of a kind at once."""

    num_slots: int


@dataclass(frozen=True)
class ResourceBasedTunerConfig:
    """Accepted for compatibility: Stalwart does not measure memory or CPU, so a resource
    based supplier runs at its ``maximum_slots``."""

    target_memory_usage: float
    target_cpu_usage: float


@dataclass(frozen=True)
class ResourceBasedSlotConfig:
    minimum_slots: int | None = None
    maximum_slots: int | None = None
    ramp_throttle: timedelta | None = None


@dataclass(frozen=True)
class ResourceBasedSlotSupplier:
    """Runs at ``slot_config.maximum_slots`` (or the worker's default) in Stalwart."""

    slot_config: ResourceBasedSlotConfig
    tuner_config: ResourceBasedTunerConfig


SlotSupplier: TypeAlias = FixedSizeSlotSupplier | ResourceBasedSlotSupplier | CustomSlotSupplier


def _slots(supplier: SlotSupplier | None) -> int | None:
    if isinstance(supplier, FixedSizeSlotSupplier):
        if not isinstance(supplier.num_slots, int) or supplier.num_slots < 1:
            raise ValueError("FixedSizeSlotSupplier(num_slots=...) must be a positive int, got "
                             f"{supplier.num_slots!r}")
        return supplier.num_slots
    if isinstance(supplier, ResourceBasedSlotSupplier):
        return supplier.slot_config.maximum_slots
    return None


class WorkerTuner:
    """How many workflow tasks and activities a worker runs at once (temporalio's tuner);
    build one with :meth:`create_fixed`, :meth:`create_resource_based` or
    :meth:`create_composite` and pass ``tuner=`` to the Worker instead of
    ``max_concurrent_*``."""

    def __init__(self, workflow_supplier: SlotSupplier, activity_supplier: SlotSupplier,
                 local_activity_supplier: SlotSupplier) -> None:
        self._workflow = workflow_supplier
        self._activity = activity_supplier
        self._local_activity = local_activity_supplier

    @staticmethod
    def create_fixed(*, workflow_slots: int | None = None, activity_slots: int | None = None,
                     local_activity_slots: int | None = None, nexus_slots: int | None = None
                     ) -> WorkerTuner:
        return WorkerTuner(FixedSizeSlotSupplier(workflow_slots or 100),
                           FixedSizeSlotSupplier(activity_slots or 100),
                           FixedSizeSlotSupplier(local_activity_slots or 100))

    @staticmethod
    def create_resource_based(
        *, target_memory_usage: float, target_cpu_usage: float,
        workflow_config: ResourceBasedSlotConfig | None = None,
        activity_config: ResourceBasedSlotConfig | None = None,
        local_activity_config: ResourceBasedSlotConfig | None = None,
        nexus_config: ResourceBasedSlotConfig | None = None,
    ) -> WorkerTuner:
        tuner = ResourceBasedTunerConfig(target_memory_usage, target_cpu_usage)
        return WorkerTuner(
            ResourceBasedSlotSupplier(workflow_config or ResourceBasedSlotConfig(), tuner),
            ResourceBasedSlotSupplier(activity_config or ResourceBasedSlotConfig(), tuner),
            ResourceBasedSlotSupplier(local_activity_config or ResourceBasedSlotConfig(), tuner))

    @staticmethod
    def create_composite(*, workflow_supplier: SlotSupplier, activity_supplier: SlotSupplier,
                         local_activity_supplier: SlotSupplier,
                         nexus_supplier: SlotSupplier | None = None) -> WorkerTuner:
        return WorkerTuner(workflow_supplier, activity_supplier, local_activity_supplier)

    def _custom(self) -> tuple[CustomSlotSupplier | None, CustomSlotSupplier | None]:
        """(workflow tasks, activities) suppliers the worker must call, if custom."""
        def custom(supplier: SlotSupplier) -> CustomSlotSupplier | None:
            return supplier if isinstance(supplier, CustomSlotSupplier) else None
        return custom(self._workflow), custom(self._activity)

    def _limits(self) -> tuple[int | None, int | None]:
        """(workflow tasks, activities) at once; None keeps the worker's default."""
        return _slots(self._workflow), _slots(self._activity)


@dataclass(frozen=True)
class PollerBehaviorSimpleMaximum:
    """Accepted: Stalwart claims tasks from the store rather than long-polling a server."""

    maximum: int = 5


@dataclass(frozen=True)
class PollerBehaviorAutoscaling:
    """Accepted: Stalwart claims tasks from the store rather than long-polling a server."""

    minimum: int = 1
    maximum: int = 100
    initial: int = 5


PollerBehavior: TypeAlias = PollerBehaviorSimpleMaximum | PollerBehaviorAutoscaling


class WorkflowRunner:
    """How a worker runs workflow code. Stalwart has one way: a deterministic event loop per
    instance, with non-deterministic calls caught as they happen (there is no sandbox)."""

    def prepare_workflow(self, defn: Any) -> None:
        """Nothing to prepare: workflow classes are checked when the worker registers them."""

    def create_instance(self, det: Any) -> Any:
        raise NotImplementedError("Stalwart creates workflow instances itself; a runner only "
                                  "selects how, and there is one way")

    def set_worker_level_failure_exception_types(self, types: Sequence[type[BaseException]]
                                                 ) -> None:
        """Accepted; ``workflow_failure_exception_types`` is read from the Worker."""


class UnsandboxedWorkflowRunner(WorkflowRunner):
    """Stalwart's only runner (it never sandboxes)."""


class SandboxedWorkflowRunner(WorkflowRunner):
    """Accepted so temporalio code runs unchanged; Stalwart has no import sandbox and runs the
    workflow exactly as :class:`UnsandboxedWorkflowRunner` does."""

    def __init__(self, **_: Any) -> None:
        pass


class ReplayerConfig(TypedDict, total=False):
    """The Replayer's options as a dict (temporalio's ``ReplayerConfig``);
    ``Replayer(**replayer.config())`` makes another like it."""

    workflows: Sequence[type]
    workflow_runner: WorkflowRunner | None
    namespace: str
    data_converter: Any
    interceptors: Sequence[Any]
    identity: str | None
    workflow_failure_exception_types: Sequence[type[BaseException]]
