"""Fixtures for the agent layer: a real local OpenAI/Anthropic-compatible HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from stalwart.agents import AgentStore
from stalwart.agents.testing import FakeLLMServer

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")


@pytest.fixture
def llm_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
async def openai_client(llm_server: FakeLLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=llm_server.openai_base_url, api_key="test-key")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def anthropic_client(llm_server: FakeLLMServer
                           ) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=llm_server.anthropic_base_url, api_key="test-key")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def agent_store(tmp_path: Path) -> Iterator[AgentStore]:
    store = AgentStore(tmp_path / "stalwart.agent.db")
    try:
        yield store
    finally:
        store.close()
