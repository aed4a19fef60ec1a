"""Handle types take temporalio's type parameters, so annotations written for temporalio
(evaluated at run time wherever ``from __future__ import annotations`` is absent) still work
after the import swap."""

from __future__ import annotations

import typing

import pytest

from stalwart import client, workflow


@workflow.defn
class Greeter:
    @workflow.run
    async def run(self, name: str) -> str:
        return name


@pytest.mark.parametrize("generic, arguments", [
    (client.WorkflowHandle, (Greeter, str)),
    (workflow.ChildWorkflowHandle, (Greeter, str)),
    (workflow.ExternalWorkflowHandle, (Greeter,)),
    (client.WorkflowUpdateHandle, (int,)),
])
def test_handles_take_temporalios_type_parameters(generic: typing.Any,
                                                  arguments: tuple[type, ...]) -> None:
    alias = generic[arguments]
    assert typing.get_origin(alias) is generic
    assert typing.get_args(alias) == arguments


def test_an_annotation_with_both_parameters_evaluates() -> None:
    def handled(handle: client.WorkflowHandle[Greeter, str],
                child: workflow.ChildWorkflowHandle[Greeter, str]) -> None: ...

    hints = typing.get_type_hints(handled)
    assert typing.get_args(hints["handle"]) == (Greeter, str)
    assert typing.get_args(hints["child"]) == (Greeter, str)
