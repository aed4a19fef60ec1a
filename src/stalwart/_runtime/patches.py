"""The worker's ``patch_activation_callback``: whether a patch's first call outside replay
takes the new branch (temporalio's experimental option; without it, it always does)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .info import Info
    from .instance import WorkflowInstance


@dataclass(frozen=True)
class PatchActivationInput:
    """What the callback is asked about: the workflow calling ``patched`` and the patch."""

    workflow_info: Info
    patch_id: str


PatchActivationCallback = Callable[[PatchActivationInput], bool]


def activate(instance: WorkflowInstance, callback: PatchActivationCallback,
             patch_id: str) -> bool:
    """Ask ``callback`` (read-only, as a query is) whether ``patch_id`` takes effect."""
    previous = instance._read_only
    instance._read_only = "patch_activation_callback"
    try:
        use_patch = callback(PatchActivationInput(workflow_info=instance.info,
                                                  patch_id=patch_id))
    finally:
        instance._read_only = previous
    if type(use_patch) is not bool:
        raise TypeError("patch_activation_callback must return True or False, got "
                        f"{use_patch!r}")
    return use_patch
