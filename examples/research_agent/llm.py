"""A deterministic stand-in for a language model and a search tool, so the example runs offline.

Swap these two functions for a real model client and a real search API: the workflow and the
activities that call them stay the same.
"""

from __future__ import annotations

import asyncio
import hashlib

# Pretend network latency: long enough that a worker can be killed in the middle of a call.
LATENCY_SECONDS = 0.25

_CORPUS = {
    "crash": [
        "Worker processes die: deploys, OOM kills, spot instances reclaimed mid-task.",
        "An agent that keeps its progress in memory starts over after a crash.",
    ],
    "checkpoint": [
        "Durable execution records each step's result in an append-only history.",
        "After a crash the workflow code is replayed; recorded steps are not re-run.",
    ],
    "cost": [
        "Re-running completed LLM calls after a crash wastes tokens and repeats side effects.",
        "Retries should cover the one step that was in flight, not the whole run.",
    ],
}


async def complete(prompt: str) -> str:
    """Answer ``prompt`` the way a model would, deterministically (same prompt, same answer)."""
    await asyncio.sleep(LATENCY_SECONDS)
    if prompt.startswith("PLAN:"):
        return "\n".join([
            "Why do long-running agents lose work when their process dies?",
            "How does checkpointing each step let an agent resume?",
            "What does re-running completed steps cost?",
        ])
    if prompt.startswith("SUMMARISE:"):
        facts = [line for line in prompt.splitlines()[1:] if line.strip()]
        return (f"{len(facts)} findings agree: record every step's result durably, replay the "
                "agent's code after a crash, and re-run only the step that was cut off.")
    if prompt.startswith("REPORT:"):
        body = prompt.removeprefix("REPORT:").strip()
        digest = hashlib.sha256(body.encode()).hexdigest()[:8]
        return f"Research report ({digest})\n{body}"
    return "I do not know."


async def search(query: str) -> list[str]:
    """Return the passages of a small local corpus that match ``query``."""
    await asyncio.sleep(LATENCY_SECONDS)
    lowered = query.lower()
    topic = ("crash" if "die" in lowered or "lose" in lowered
             else "checkpoint" if "checkpoint" in lowered or "resume" in lowered
             else "cost")
    return list(_CORPUS[topic])
