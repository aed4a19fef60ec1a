"""Chat sessions: one long-lived workflow per conversation, fed by update-with-start.

A session id is a workflow id. :func:`send_message` sends a user message with update-with-start:
it starts the session if it is not running, else delivers the message to the running one, in
one call, so a chat front end never has to ask which. The session answers messages one at a
time with :class:`AgentLoop` and publishes the conversation to its workflow stream (topic
``chat``: ``{"turn", "role", "content"}`` items; with ``AgentConfig(stream=True)`` the model's
text deltas on topic ``tokens`` too). When its history passes ``max_history_bytes`` (or
Stalwart suggests it) the session continues as new between two turns, carrying the
conversation, its usage and any messages still queued; the stream belongs to the whole chain
of runs, so readers of the session id (``client.workflow_stream(session_id)``) follow it
across runs with the same offsets, and ``client.get_workflow_handle(session_id)`` always
reaches the current run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .. import workflow
from .._workflow_streams import WorkflowStream
from ..client import WithStartWorkflowOperation
from ..common import WorkflowIDConflictPolicy
from ..exceptions import ApplicationError
from ._types import Message, Usage
from .loop import AgentConfig, AgentLoop

__all__ = [
    "CHAT_TOPIC",
    "ChatSession",
    "SessionInput",
    "SessionResult",
    "SessionTurn",
    "send_message",
]

CHAT_TOPIC = "chat"
MAX_MESSAGE_CHARS = 1_000_000


@dataclass
class SessionInput:
    """Input of :class:`ChatSession`; all but ``config`` carry a session into its next run.

    Args:
        max_history_bytes: Continue as new, between turns, once the run's history is this
            large (besides whenever Stalwart suggests it).
        idle_timeout_seconds: End the session after this long without a message (None:
            never; send ``end`` to close it).
    """

    config: AgentConfig
    messages: list[Message] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    turns: int = 0
    queued: list[str] = field(default_factory=list)
    max_history_bytes: int = 1_000_000
    idle_timeout_seconds: float | None = None
    runs: int = 1


@dataclass
class SessionTurn:
    """What :func:`send_message` returns: the turn the message was queued as, and the run
    that took it."""

    session_id: str
    turn: int
    run_id: str


@dataclass
class SessionResult:
    """How a session ended: ``reason`` is ``"ended"`` (the ``end`` signal) or ``"idle"``."""

    reason: str
    turns: int
    runs: int
    usage: Usage
    messages: list[Message] = field(default_factory=list)


@workflow.defn(name="stalwart.agents.ChatSession")
class ChatSession:
    """The session workflow. Update ``send`` (a user message; returns its turn number), signal
    ``end``, queries ``messages`` and ``turns``."""

    @workflow.init
    def __init__(self, input: SessionInput) -> None:
        # From the input, so a message that arrives before ``run`` starts (the one that
        # started the session, or one sent while it continued as new) is numbered right.
        self._queue: list[str] = list(input.queued)
        self._turns = input.turns  # turns numbered so far (answered or queued)
        self._ended = False
        self._loop: AgentLoop | None = None
        self._stream = WorkflowStream()

    @workflow.run
    async def run(self, input: SessionInput) -> SessionResult:
        answered = input.turns - len(input.queued)
        loop = AgentLoop(input.config, messages=input.messages, usage=input.usage,
                         steps=input.steps)
        self._loop = loop
        idle = (timedelta(seconds=input.idle_timeout_seconds)
                if input.idle_timeout_seconds is not None else None)
        while True:
            if not self._queue and not self._ended:
                try:
                    await workflow.wait_condition(lambda: bool(self._queue) or self._ended,
                                                  timeout=idle)
                except TimeoutError:
                    return self._finish("idle", input, loop)
            if self._ended and not self._queue:
                return self._finish("ended", input, loop)
            prompt = self._queue.pop(0)
            answered += 1
            self._stream.publish(CHAT_TOPIC, {"turn": answered, "role": "user",
                                              "content": prompt})
            result = await loop.run(prompt)
            self._stream.publish(CHAT_TOPIC, {"turn": answered, "role": "assistant",
                                              "content": result.output,
                                              "stop_reason": result.stop_reason})
            info = workflow.info()
            if (info.get_current_history_size() >= input.max_history_bytes
                    or info.is_continue_as_new_suggested()) and not self._ended:
                # Between turns, with no handler running: the next run takes over the
                # conversation and whatever messages are still queued.
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(SessionInput(
                    input.config, loop.messages, loop.usage, loop.steps, self._turns,
                    list(self._queue), input.max_history_bytes, input.idle_timeout_seconds,
                    input.runs + 1))

    def _finish(self, reason: str, input: SessionInput, loop: AgentLoop) -> SessionResult:
        return SessionResult(reason, self._turns, input.runs, loop.usage, loop.messages)

    @workflow.update
    def send(self, message: str) -> int:
        self._queue.append(message)
        self._turns += 1
        return self._turns

    @send.validator
    def _validate_send(self, message: str) -> None:
        if not isinstance(message, str) or not message.strip():
            raise ApplicationError(f"message {str(message)[:80]!r} is empty: send the user's "
                                   "text", type="InvalidMessage", non_retryable=True)
        if len(message) > MAX_MESSAGE_CHARS:
            raise ApplicationError(f"message of {len(message)} characters is longer than "
                                   f"{MAX_MESSAGE_CHARS}; put large texts in the AgentStore",
                                   type="InvalidMessage", non_retryable=True)
        if self._ended:
            raise ApplicationError("the session has ended", type="SessionEnded",
                                   non_retryable=True)

    @workflow.signal
    def end(self) -> None:
        self._ended = True

    @workflow.query
    def messages(self) -> list[Message]:
        return self._loop.messages if self._loop is not None else []

    @workflow.query
    def turns(self) -> int:
        return self._turns


async def send_message(client: Any, session_id: str, message: str, *,
                       config: AgentConfig, task_queue: str,
                       max_history_bytes: int = 1_000_000,
                       idle_timeout_seconds: float | None = None) -> SessionTurn:
    """Send ``message`` to session ``session_id``, starting the session if it is not running
    (update-with-start); returns once the session has queued it.

    ``config`` and the other settings apply when this call starts the session; a running
    session keeps its own.
    """
    if not isinstance(session_id, str) or not session_id:
        raise ValueError(f"session_id={session_id!r} is not valid: give the conversation's "
                         "id (it is the session workflow's id)")
    operation: WithStartWorkflowOperation[Any] = WithStartWorkflowOperation(
        ChatSession.run, SessionInput(config, max_history_bytes=max_history_bytes,
                                      idle_timeout_seconds=idle_timeout_seconds),
        id=session_id, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
    turn: int = await client.execute_update_with_start_workflow(
        ChatSession.send, message, start_workflow_operation=operation)
    handle = await operation.workflow_handle()
    return SessionTurn(session_id, turn, handle.result_run_id or handle.run_id or "")
