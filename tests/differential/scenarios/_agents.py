"""The OpenAI Agents plugin of the agents scenarios (not a scenario: the leading underscore
keeps the harness off it), its model the harness's stand-in."""

import os
from datetime import timedelta
from typing import Any

from openai import AsyncOpenAI
from temporalio.contrib.openai_agents import ModelActivityParameters, OpenAIAgentsPlugin

from agents import OpenAIProvider


def stand_in_plugin(**plugin_options: Any) -> OpenAIAgentsPlugin:
    """``OpenAIAgentsPlugin`` whose model provider is the stand-in (the harness gives each
    side its own; outside the harness, replaying recorded fixtures, no model is called, so
    any address does). ``streaming_topic`` goes to the model parameters, the rest to the
    plugin."""
    base_url = os.environ.get("DIFFERENTIAL_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    topic = plugin_options.pop("streaming_topic", None)
    params = ModelActivityParameters(start_to_close_timeout=timedelta(seconds=30),
                                     **({"streaming_topic": topic} if topic else {}))
    return OpenAIAgentsPlugin(
        model_params=params,
        model_provider=OpenAIProvider(
            openai_client=AsyncOpenAI(base_url=base_url, api_key="stand-in", max_retries=0),
            use_responses=False),
        **plugin_options)
