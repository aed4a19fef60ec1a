"""The model the examples talk to: a real provider when configured, else a local stand-in.

With ``OPENAI_API_KEY`` set (and optionally ``OPENAI_BASE_URL`` for any OpenAI-compatible
server, and ``STALWART_EXAMPLE_MODEL``), the examples call that provider. Without it they start
:class:`~stalwart.agents.testing.FakeLLMServer` on 127.0.0.1 with a scripted ``responder``, so
they run offline and give the same answers every time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import openai

from stalwart.agents.testing import FakeLLMServer, Reply

__all__ = ["Model", "last_user_text", "model", "tool_results"]


@dataclass
class Model:
    client: openai.AsyncOpenAI
    name: str
    offline: bool


@contextlib.contextmanager
def model(responder: Callable[[dict[str, Any]], Reply]) -> Iterator[Model]:
    """A client and a model name; offline, ``responder`` plays the model."""
    if os.environ.get("OPENAI_API_KEY"):
        yield Model(openai.AsyncOpenAI(), os.environ.get("STALWART_EXAMPLE_MODEL",
                                                          "gpt-4o-mini"), offline=False)
        return
    with FakeLLMServer(responder) as server:
        yield Model(openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="offline"),
                    "gpt-4o-mini", offline=True)


def last_user_text(body: dict[str, Any]) -> str:
    texts = [m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "user"]
    return str(texts[-1]) if texts else ""


def tool_results(body: dict[str, Any]) -> list[str]:
    """The tool results since the last user message."""
    out: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") == "user":
            out = []
        elif message.get("role") == "tool":
            out.append(str(message.get("content")))
    return out
