"""Worker-environment references for hosted tools: the workflow records only the name, and the
model activity puts the worker's value in place for the names the plugin allows (the
reference stays as it is for others), as temporalio's ``temporal_worker_env_ref`` does."""

from __future__ import annotations

import pytest
from agents.tool import CodeInterpreterTool, HostedMCPTool

from stalwart.contrib.openai_agents import (
    AllowAllWorkerEnvVars,
    OpenAIAgentsPlugin,
    temporal_worker_env_ref,
)
from stalwart.contrib.openai_agents._model_activity import _tool_from_json, _tool_json
from stalwart.contrib.openai_agents._worker_env import WorkerEnvRefResolver


def test_the_reference_names_the_variable_and_not_its_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_TOKEN", "s3cret")
    ref = temporal_worker_env_ref("MCP_TOKEN")
    assert ref == "temporal.worker_env_ref:{MCP_TOKEN}" and "s3cret" not in ref


def test_the_model_activity_resolves_allowed_names_in_hosted_tools(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCP_TOKEN", "s3cret")
    monkeypatch.setenv("OTHER", "hidden")
    mcp = HostedMCPTool(tool_config={
        "type": "mcp", "server_label": "docs", "server_url": "https://mcp.example",
        "authorization": f"Bearer {temporal_worker_env_ref('MCP_TOKEN')}",
        "headers": {"X-Other": temporal_worker_env_ref("OTHER")}})
    interpreter = CodeInterpreterTool(tool_config={
        "type": "code_interpreter", "container": {
            "type": "auto", "network_policy": {"type": "allowlist", "domain_secrets": [
                {"domain": "api.example", "name": "key",
                 "value": temporal_worker_env_ref("MCP_TOKEN")}]}}})  # type: ignore[typeddict-unknown-key]
    recorded = [_tool_json(mcp), _tool_json(interpreter)]
    assert "s3cret" not in repr(recorded)
    env = WorkerEnvRefResolver(["MCP_TOKEN"])
    rebuilt_mcp, rebuilt_interpreter = (_tool_from_json(t, env) for t in recorded)
    assert isinstance(rebuilt_mcp, HostedMCPTool)
    assert rebuilt_mcp.tool_config["authorization"] == "Bearer s3cret"
    # Not allowed: left as the reference.
    assert rebuilt_mcp.tool_config["headers"] == {"X-Other": temporal_worker_env_ref("OTHER")}
    assert isinstance(rebuilt_interpreter, CodeInterpreterTool)
    secrets = rebuilt_interpreter.tool_config["container"]["network_policy"]  # type: ignore[index]
    assert secrets["domain_secrets"][0]["value"] == "s3cret"
    everything = WorkerEnvRefResolver(AllowAllWorkerEnvVars())
    assert everything.resolve(temporal_worker_env_ref("OTHER")) == "hidden"
    assert everything.resolve(temporal_worker_env_ref("UNSET_NAME_X")) == ""


def test_the_plugin_checks_the_allowed_names_as_temporalio_does() -> None:
    with pytest.raises(TypeError, match="pass a list even for one name"):
        OpenAIAgentsPlugin(resolvable_worker_env_vars="MCP_TOKEN")
    with pytest.raises(TypeError, match="not the class itself"):
        OpenAIAgentsPlugin(resolvable_worker_env_vars=AllowAllWorkerEnvVars)  # type: ignore[arg-type]
    OpenAIAgentsPlugin(resolvable_worker_env_vars=["MCP_TOKEN"])
    OpenAIAgentsPlugin(resolvable_worker_env_vars=AllowAllWorkerEnvVars())
