"""The conversation of the CONV_growth workload, shared by its Stalwart side
(``workloads/conversation.py``) and its Temporal side (``temporal_conversation.py``, which runs
under ``temporalio`` and so must not import Stalwart)."""

from __future__ import annotations

import hashlib
import json

MESSAGE_BYTES = 2048
TURNS = (10, 50, 100, 200)
SHORT_TURNS = (10, 20)


def filler(label: str, size: int) -> str:
    """``size`` characters of text, different for every label (hex of a hash chain), so no
    store or file system can shrink it by noticing repetition."""
    parts = [label, ": "]
    length = len(label) + 2
    digest = label.encode()
    while length < size:
        digest = hashlib.sha256(digest).digest()
        chunk = digest.hex()
        parts.append(chunk)
        length += len(chunk)
    return "".join(parts)[:size]


def user_message(turn: int, size: int) -> dict[str, str]:
    return {"role": "user", "content": filler(f"question {turn}", size)}


def answer(turn: int, size: int) -> dict[str, str]:
    return {"role": "assistant", "content": filler(f"answer {turn}", size)}


def reply_to(messages: list[dict[str, str]]) -> dict[str, str]:
    """The stand-in model's answer: as long as the question, named by the turn."""
    return answer(len(messages) // 2, len(messages[-1]["content"]))


def expected_conversation(turns: int, size: int = MESSAGE_BYTES) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for turn in range(turns):
        messages += [user_message(turn, size), answer(turn, size)]
    return messages


def conversation_digest(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


def conversation_bytes(messages: list[dict[str, str]]) -> int:
    return len(json.dumps(messages, separators=(",", ":")))
