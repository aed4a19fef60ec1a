"""Worker-environment references for hosted tools (temporalio's ``temporal_worker_env_ref``):
a workflow names a secret held in the worker's environment, and the model activity puts the
value in place just before it calls the model, so the secret never enters the history.
Knows hosted tool configurations; knows nothing of workflows."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["AllowAllWorkerEnvVars", "WorkerEnvRefResolver", "temporal_worker_env_ref"]

_REF_PREFIX = "temporal.worker_env_ref:"
_REF_PATTERN = re.compile(re.escape(_REF_PREFIX) + r"\{([^}{]*)\}")


@dataclasses.dataclass(frozen=True)
class AllowAllWorkerEnvVars:
    """Make every environment variable of the worker resolvable: pass an instance as
    ``OpenAIAgentsPlugin(resolvable_worker_env_vars=AllowAllWorkerEnvVars())``."""


def temporal_worker_env_ref(name: str) -> str:
    """A reference to the worker's environment variable ``name``, to put in a hosted tool's
    credential (a ``HostedMCPTool``'s ``authorization`` or header value, or a
    ``CodeInterpreterTool`` container's ``domain_secrets`` value). Only the name is recorded;
    each worker running model activities must set the variable and allow it in
    ``OpenAIAgentsPlugin(resolvable_worker_env_vars=[...])``. An allowed name that is not set
    resolves to an empty value; a name not allowed is left as the reference."""
    return f"{_REF_PREFIX}{{{name}}}"


def snapshot(names: Collection[str] | AllowAllWorkerEnvVars
             ) -> frozenset[str] | AllowAllWorkerEnvVars:
    """The allowed names, checked as temporalio checks them."""
    if isinstance(names, AllowAllWorkerEnvVars):
        return names
    if isinstance(names, str):
        raise TypeError(
            "resolvable_worker_env_vars takes a collection of environment variable names, "
            'such as ["MY_MCP_TOKEN"], or AllowAllWorkerEnvVars(). A single string is read as '
            "the collection of its characters, so pass a list even for one name.")
    if names is AllowAllWorkerEnvVars:  # type: ignore[comparison-overlap]
        raise TypeError("resolvable_worker_env_vars takes an AllowAllWorkerEnvVars instance, "
                        "not the class itself. Pass AllowAllWorkerEnvVars().")
    return frozenset(names)


class WorkerEnvRefResolver:
    """Replaces the references in hosted tool configurations with the worker's values."""

    def __init__(self, names: Collection[str] | AllowAllWorkerEnvVars) -> None:
        self._allowed = snapshot(names)

    def resolve(self, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if not isinstance(self._allowed, AllowAllWorkerEnvVars) and \
                    name not in self._allowed:
                return match.group(0)
            return os.environ.get(name, "")

        return _REF_PATTERN.sub(substitute, value)

    def _network_policy(self, policy: Mapping[str, Any]) -> dict[str, Any]:
        secrets = policy.get("domain_secrets")
        if secrets is None:
            return dict(policy)
        return {**policy, "domain_secrets": [
            {**secret, "value": self.resolve(secret["value"])} for secret in secrets]}

    def mcp_tool_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        resolved = dict(config)
        if "authorization" in resolved:
            resolved["authorization"] = self.resolve(resolved["authorization"])
        if resolved.get("headers") is not None:
            resolved["headers"] = {k: self.resolve(v) for k, v in resolved["headers"].items()}
        return resolved

    def code_interpreter_tool_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        container = config.get("container")
        if not isinstance(container, Mapping) or container.get("network_policy") is None:
            return dict(config)
        return {**config, "container": {
            **container, "network_policy": self._network_policy(container["network_policy"])}}

    def tool_fields(self, tool_type: str, fields: dict[str, Any]) -> dict[str, Any]:
        """A hosted tool's fields (as they crossed the activity boundary), resolved."""
        config = fields.get("tool_config")
        if not isinstance(config, Mapping):
            return fields
        if tool_type == "HostedMCPTool":
            return {**fields, "tool_config": self.mcp_tool_config(config)}
        if tool_type == "CodeInterpreterTool":
            return {**fields, "tool_config": self.code_interpreter_tool_config(config)}
        return fields
