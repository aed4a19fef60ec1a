"""temporalio's workflow sandbox settings, accepted so code that configures them runs
unchanged (mirrors ``temporalio.worker.workflow_sandbox``).

Stalwart has no import sandbox: workflow modules are imported once, normally, and the
determinism guard catches non-deterministic calls while the workflow runs (see the concepts
guide). So ``SandboxedWorkflowRunner`` runs workflows exactly as ``UnsandboxedWorkflowRunner``
does, and ``SandboxRestrictions`` / ``SandboxMatcher`` are values a worker keeps and never
consults: passing modules through, or lifting a restriction, changes nothing here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Any, ClassVar

from .._worker_options import SandboxedWorkflowRunner as _RunnerBase
from .._worker_options import UnsandboxedWorkflowRunner, WorkflowRunner
from ..exceptions import RestrictedWorkflowAccessError

__all__ = [
    "RestrictedWorkflowAccessError",
    "SandboxMatcher",
    "SandboxRestrictions",
    "SandboxedWorkflowRunner",
    "UnintentionalPassthroughError",
]


class UnintentionalPassthroughError(RestrictedWorkflowAccessError):
    """temporalio's error for a module passed through without being named; never raised here
    (every module is, in temporalio's terms, passed through)."""

    def __init__(self, qualified_name: str) -> None:
        super().__init__(qualified_name, override_message=(
            f"Module {qualified_name} was not intentionally passed through to the sandbox."))


class SandboxImportNotificationPolicy(IntFlag):
    SILENT = 1
    WARN_ON_DYNAMIC_IMPORT = 2
    WARN_ON_UNINTENTIONAL_PASSTHROUGH = 4
    RAISE_ON_UNINTENTIONAL_PASSTHROUGH = 8


@dataclass(frozen=True)
class SandboxMatcher:
    """A tree of restricted names, kept as given."""

    access: frozenset[str] = frozenset()
    use: frozenset[str] = frozenset()
    children: Mapping[str, SandboxMatcher] = field(default_factory=dict)
    match_self: bool = False
    only_runtime: bool = False
    leaf_message: str | None = None
    leaf_warning: type[Warning] | None = None
    exclude: frozenset[str] = frozenset()

    all: ClassVar[SandboxMatcher]
    all_runtime: ClassVar[SandboxMatcher]
    none: ClassVar[SandboxMatcher]
    all_uses: ClassVar[SandboxMatcher]
    all_uses_runtime: ClassVar[SandboxMatcher]

    @staticmethod
    def nested_child(path: Sequence[str], child: SandboxMatcher) -> SandboxMatcher:
        """``child`` under the names of ``path``, outermost first."""
        for name in reversed(path):
            child = SandboxMatcher(children={name: child})
        return child

    def access_matcher(self, context: Any, *child_path: str,
                       include_use: bool = False) -> SandboxMatcher | None:
        """The matcher below ``child_path``, if any (nothing is ever matched against it)."""
        matcher: SandboxMatcher | None = self
        for name in child_path:
            matcher = matcher.children.get(name) if matcher is not None else None
        return matcher

    def match_access(self, context: Any, *child_path: str, include_use: bool = False) -> bool:
        """Whether the path is restricted by this tree's names. Stalwart never asks."""
        matcher: SandboxMatcher | None = self
        for name in child_path:
            if matcher is None:
                return False
            if name in matcher.access or (include_use and name in matcher.use) or \
                    "*" in matcher.access:
                return name not in matcher.exclude
            matcher = matcher.children.get(name)
        return matcher is not None and matcher.match_self

    def child_matcher(self, *child_path: str) -> SandboxMatcher | None:
        return self.access_matcher(None, *child_path)

    def __or__(self, other: SandboxMatcher) -> SandboxMatcher:
        children = dict(self.children)
        for name, child in other.children.items():
            children[name] = children[name] | child if name in children else child
        return SandboxMatcher(
            access=self.access | other.access, use=self.use | other.use, children=children,
            match_self=self.match_self or other.match_self,
            only_runtime=self.only_runtime and other.only_runtime,
            leaf_message=self.leaf_message or other.leaf_message,
            leaf_warning=self.leaf_warning or other.leaf_warning,
            exclude=self.exclude | other.exclude)

    def with_child_unrestricted(self, *child_path: str) -> SandboxMatcher:
        """This tree without the matcher at ``child_path`` (as temporalio lifts it)."""
        if not child_path:
            return SandboxMatcher()
        head, *rest = child_path
        children = dict(self.children)
        if rest and head in children:
            children[head] = children[head].with_child_unrestricted(*rest)
        else:
            children.pop(head, None)
        return dataclasses.replace(self, children=children,
                                   access=self.access - {head} if not rest else self.access,
                                   use=self.use - {head} if not rest else self.use)


SandboxMatcher.all = SandboxMatcher(match_self=True)
SandboxMatcher.all_runtime = SandboxMatcher(match_self=True, only_runtime=True)
SandboxMatcher.none = SandboxMatcher()
SandboxMatcher.all_uses = SandboxMatcher(use=frozenset({"*"}))
SandboxMatcher.all_uses_runtime = SandboxMatcher(use=frozenset({"*"}), only_runtime=True)


@dataclass(frozen=True)
class SandboxRestrictions:
    """temporalio's sandbox settings, kept and never applied."""

    passthrough_modules: frozenset[str] = frozenset()
    invalid_modules: SandboxMatcher = SandboxMatcher()
    invalid_module_members: SandboxMatcher = SandboxMatcher()
    import_notification_policy: SandboxImportNotificationPolicy = \
        SandboxImportNotificationPolicy.WARN_ON_DYNAMIC_IMPORT
    passthrough_all_modules: bool = False
    disable_lazy_sys_module_passthrough: bool = False

    passthrough_modules_minimum: ClassVar[frozenset[str]] = frozenset(
        {"grpc", "temporalio", "stalwart", "google.protobuf", "typing_extensions"})
    passthrough_modules_with_temporal: ClassVar[frozenset[str]] = passthrough_modules_minimum
    passthrough_modules_maximum: ClassVar[frozenset[str]] = passthrough_modules_minimum
    passthrough_modules_default: ClassVar[frozenset[str]] = passthrough_modules_minimum
    invalid_module_members_default: ClassVar[SandboxMatcher] = SandboxMatcher()
    default: ClassVar[SandboxRestrictions]

    def with_passthrough_modules(self, *modules: str) -> SandboxRestrictions:
        return dataclasses.replace(
            self, passthrough_modules=frozenset(self.passthrough_modules) | set(modules))

    def with_passthrough_all_modules(self) -> SandboxRestrictions:
        return dataclasses.replace(self, passthrough_all_modules=True)

    def with_import_notification_policy(self, policy: SandboxImportNotificationPolicy
                                        ) -> SandboxRestrictions:
        return dataclasses.replace(self, import_notification_policy=policy)


SandboxRestrictions.default = SandboxRestrictions(
    passthrough_modules=SandboxRestrictions.passthrough_modules_default)


class SandboxedWorkflowRunner(_RunnerBase):
    """Accepted so temporalio code runs unchanged; runs workflows as
    :class:`UnsandboxedWorkflowRunner` does, keeping ``restrictions`` for code that reads
    them."""

    restrictions: SandboxRestrictions
    runner_class: type[WorkflowRunner]

    def __init__(self, restrictions: SandboxRestrictions = SandboxRestrictions.default,
                 runner_class: type[WorkflowRunner] = UnsandboxedWorkflowRunner) -> None:
        if not isinstance(restrictions, SandboxRestrictions):
            raise TypeError(f"SandboxedWorkflowRunner(restrictions={restrictions!r}): give a "
                            "SandboxRestrictions, e.g. SandboxRestrictions.default."
                            "with_passthrough_modules(...)")
        self.restrictions = restrictions
        self.runner_class = runner_class
