"""Definition-time checks of @workflow.dynamic_config and workflow-only Event Groups, with
temporalio's messages (the behaviour inside workflows runs in the differential scenario
``workflow_info_unsafe_groups``)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from stalwart import workflow
from stalwart.common import RawValue


def test_dynamic_config_only_on_dynamic_workflows() -> None:
    with pytest.raises(ValueError, match="only be used in dynamic workflows"):
        @workflow.defn
        class NotDynamic:
            @workflow.dynamic_config
            def config(self) -> workflow.DynamicWorkflowConfig:
                return workflow.DynamicWorkflowConfig()

            @workflow.run
            async def run(self) -> None:
                pass


def test_dynamic_config_must_be_sync_and_take_only_self() -> None:
    async def coroutine(self: object) -> workflow.DynamicWorkflowConfig:
        return workflow.DynamicWorkflowConfig()

    def two(self: object, extra: int) -> workflow.DynamicWorkflowConfig:
        return workflow.DynamicWorkflowConfig()

    with pytest.raises(ValueError, match="must be synchronous"):
        workflow.dynamic_config(coroutine)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="only take self"):
        workflow.dynamic_config(two)  # type: ignore[arg-type]


def test_dynamic_workflow_keeps_its_config_method() -> None:
    @workflow.defn(dynamic=True)
    class Dynamic:
        @workflow.dynamic_config
        def config(self) -> workflow.DynamicWorkflowConfig:
            return workflow.DynamicWorkflowConfig(failure_exception_types=[KeyError])

        @workflow.run
        async def run(self, args: Sequence[RawValue]) -> None:
            pass

    from stalwart._runtime.definitions import get_workflow_definition

    definition = get_workflow_definition(Dynamic)
    assert definition is not None and definition.dynamic_config_fn is Dynamic.config


def test_event_groups_need_a_workflow() -> None:
    with pytest.raises(RuntimeError, match="not in workflow code"):
        workflow.create_event_group("g")


def test_logger_adapter_exposes_its_logger_and_names_the_caller(
        caplog: pytest.LogCaptureFixture) -> None:
    assert workflow.logger.base_logger is logging.getLogger("stalwart.workflow")
    with caplog.at_level(logging.INFO, logger="stalwart.workflow"):
        workflow.logger.info("outside a workflow")
    assert caplog.records[-1].funcName == \
        "test_logger_adapter_exposes_its_logger_and_names_the_caller"
