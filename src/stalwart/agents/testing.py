"""Local stand-ins for LLM provider APIs, for tests and offline examples.

:class:`FakeLLMServer` is a real HTTP server on ``127.0.0.1`` that speaks enough of

* OpenAI's ``POST /v1/chat/completions`` (tool calls, ``stream: true`` server-sent events,
  ``stream_options.include_usage``), and
* Anthropic's ``POST /v1/messages`` (``text`` and ``tool_use`` content blocks),

for the official ``openai`` and ``anthropic`` clients to talk to it unchanged (point their
``base_url`` at :attr:`FakeLLMServer.openai_base_url` / :attr:`anthropic_base_url`).

What it answers is scripted: queue :class:`Reply` objects with :meth:`FakeLLMServer.script`, or
pass a ``responder`` that computes one from the request. Faults are scripted the same way
(``Reply(status=429, retry_after=2)``, ``Reply(status=503)``, ``Reply(delay=5)``,
``Reply(status=401)``). Every request is kept in :attr:`FakeLLMServer.requests`, with the
``Idempotency-Key`` and ``X-Stalwart-Attempt`` headers Stalwart's LLM activities send, so a test
can prove which model calls were sent more than once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLMServer", "LoggedRequest", "Reply", "ToolCallReply"]


@dataclass
class ToolCallReply:
    """A tool call the fake model makes."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass
class Reply:
    """One scripted answer: text and/or tool calls, or an HTTP error.

    Args:
        text: The assistant's text.
        tool_calls: Tool calls to make (the answer then ends with ``tool_calls``/``tool_use``).
        status: HTTP status; anything but 200 answers with the provider's error body.
        retry_after: Seconds for a ``Retry-After`` header (with 429/503).
        delay: Seconds to wait before answering (a slow provider).
        message: Error message for non-200 answers.
        chunk_delay: Seconds between streamed chunks (``stream: true`` only).
        cached_tokens: Input tokens reported as read from the provider's prompt cache
            (OpenAI's ``prompt_tokens_details.cached_tokens``, Anthropic's
            ``cache_read_input_tokens``).
        usage: ``(input_tokens, output_tokens)`` to report instead of the word counts the
            server estimates (known numbers for cost tests).
    """

    text: str = ""
    tool_calls: list[ToolCallReply] = field(default_factory=list)
    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0
    message: str = ""
    chunk_delay: float = 0.0
    cached_tokens: int = 0
    usage: tuple[int, int] | None = None


@dataclass
class LoggedRequest:
    """A request the server received (``status`` is what it answered)."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int = 0
    answered: bool = False

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")

    @property
    def attempt(self) -> int | None:
        value = self.headers.get("x-stalwart-attempt")
        return int(value) if value else None


def _tokens(value: Any) -> int:
    """A rough token count (words), good enough for usage accounting in tests."""
    return max(1, len(json.dumps(value).split())) if value else 0


def default_responder(body: dict[str, Any]) -> Reply:
    """Without a script: answer with text that echoes the last user message."""
    last = ""
    for message in body.get("messages", []):
        if message.get("role") == "user":
            content = message.get("content")
            last = content if isinstance(content, str) else json.dumps(content)
    return Reply(text=f"You said: {last}")


class FakeLLMServer:
    """A local OpenAI- and Anthropic-compatible HTTP server (see the module docstring).

    Use as a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        responder: Computes a reply when the script is empty; defaults to an echo.
        strict: Reject (HTTP 400) a ``tool`` message that does not answer a preceding
            assistant ``tool_calls`` entry, as the real OpenAI API does.
        api_key: When set, requests must carry it (else HTTP 401).
    """

    def __init__(self, responder: Callable[[dict[str, Any]], Reply] | None = None, *,
                 strict: bool = True, api_key: str | None = None, port: int = 0) -> None:
        self.responder = responder or default_responder
        self.strict = strict
        self.api_key = api_key
        self.requests: list[LoggedRequest] = []
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._call_counter = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def openai_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-llm-server")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------
    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one (then the responder answers)."""
        with self._lock:
            self._script.extend(replies)

    def model_requests(self) -> list[LoggedRequest]:
        with self._lock:
            return [r for r in self.requests
                    if r.path.endswith(("/chat/completions", "/messages"))]

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self.responder(body)

    def _next_call_id(self) -> str:
        with self._lock:
            self._call_counter += 1
            return f"call_{self._call_counter}"

    # -- HTTP --------------------------------------------------------------------------
    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {}
                logged = LoggedRequest(self.path, body,
                                       {k.lower(): v for k, v in self.headers.items()})
                with server._lock:
                    server.requests.append(logged)
                server._handle(self, logged)

        return Handler

    def _handle(self, handler: BaseHTTPRequestHandler, logged: LoggedRequest) -> None:
        anthropic = logged.path.rstrip("/").endswith("/messages")
        if not logged.path.rstrip("/").endswith(("/chat/completions", "/messages")):
            self._send_error(handler, logged, 404, f"unknown path {logged.path}", anthropic)
            return
        if self.api_key is not None:
            given = logged.headers.get("x-api-key") or logged.headers.get(
                "authorization", "").removeprefix("Bearer ")
            if given != self.api_key:
                self._send_error(handler, logged, 401, "Incorrect API key provided", anthropic)
                return
        if self.strict and not anthropic:
            problem = _check_tool_messages(logged.body.get("messages", []))
            if problem:
                self._send_error(handler, logged, 400, problem, anthropic)
                return
        reply = self._next_reply(logged.body)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.status != 200:
            self._send_error(handler, logged, reply.status,
                             reply.message or f"scripted error {reply.status}", anthropic,
                             reply.retry_after)
            return
        calls = [ToolCallReply(c.name, c.arguments, c.id or self._next_call_id())
                 for c in reply.tool_calls]
        prompt_tokens = _tokens(logged.body.get("messages")) + _tokens(logged.body.get("system"))
        completion_tokens = _tokens(reply.text) + _tokens([c.arguments for c in calls])
        if reply.usage is not None:
            prompt_tokens, completion_tokens = reply.usage
        cached = min(reply.cached_tokens, prompt_tokens)
        if anthropic:
            # Anthropic counts cache reads apart from input_tokens; OpenAI includes them.
            answer = _anthropic_message(logged.body, reply.text, calls,
                                        prompt_tokens - cached, completion_tokens)
            answer["usage"]["cache_read_input_tokens"] = cached
            self._send_json(handler, logged, 200, answer)
        elif logged.body.get("stream"):
            self._send_stream(handler, logged, reply, calls, prompt_tokens, completion_tokens)
        else:
            answer = _openai_completion(logged.body, reply.text, calls, prompt_tokens,
                                        completion_tokens)
            answer["usage"]["prompt_tokens_details"] = {"cached_tokens": cached}
            self._send_json(handler, logged, 200, answer)

    def _send_json(self, handler: BaseHTTPRequestHandler, logged: LoggedRequest, status: int,
                   payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        logged.status = status
        try:
            handler.send_response(status)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(data)))
            for key, value in (headers or {}).items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
            handler.wfile.flush()
            logged.answered = True
        except OSError:
            pass  # the client went away (e.g. its worker was killed)

    def _send_error(self, handler: BaseHTTPRequestHandler, logged: LoggedRequest, status: int,
                    message: str, anthropic: bool, retry_after: float | None = None) -> None:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        if anthropic:
            kind = {400: "invalid_request_error", 401: "authentication_error",
                    403: "permission_error", 404: "not_found_error", 429: "rate_limit_error",
                    529: "overloaded_error"}.get(status, "api_error")
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind,
                                                                  "message": message}}
        else:
            code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
            payload = {"error": {"message": message, "type": "invalid_request_error"
                                 if status < 500 else "server_error", "param": None,
                                 "code": code}}
        self._send_json(handler, logged, status, payload, headers)

    def _send_stream(self, handler: BaseHTTPRequestHandler, logged: LoggedRequest,
                     reply: Reply, calls: list[ToolCallReply], prompt_tokens: int,
                     completion_tokens: int) -> None:
        body = logged.body
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body.get("model", "fake")}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {**base, "choices": [{"index": 0, "delta": delta,
                                         "finish_reason": finish}]}

        events: list[dict[str, Any]] = [chunk({"role": "assistant", "content": ""})]
        words = reply.text.split(" ") if reply.text else []
        events += [chunk({"content": (" " if i else "") + word}) for i, word in enumerate(words)]
        for index, call in enumerate(calls):
            events.append(chunk({"tool_calls": [{
                "index": index, "id": call.id, "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments)}}]}))
        events.append(chunk({}, "tool_calls" if calls else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**base, "choices": [], "usage": {
                "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {
                    "cached_tokens": min(reply.cached_tokens, prompt_tokens)}}})
        logged.status = 200
        try:
            handler.send_response(200)
            handler.send_header("content-type", "text/event-stream")
            handler.send_header("cache-control", "no-cache")
            handler.send_header("connection", "close")
            handler.end_headers()
            for event in events:
                handler.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                handler.wfile.flush()
                if reply.chunk_delay:
                    time.sleep(reply.chunk_delay)
            handler.wfile.write(b"data: [DONE]\n\n")
            handler.wfile.flush()
            handler.close_connection = True
            logged.answered = True
        except OSError:
            pass


def _check_tool_messages(messages: list[dict[str, Any]]) -> str | None:
    open_calls: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "assistant":
            open_calls = {c.get("id") for c in message.get("tool_calls") or []}
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id is None or call_id not in open_calls:
                return (f"Invalid parameter: messages with role 'tool' must be a response to a "
                        f"preceding message with 'tool_calls' (messages[{index}]).")
        else:
            open_calls = set()
    return None


def _openai_completion(body: dict[str, Any], text: str, calls: list[ToolCallReply],
                       prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text or None, "refusal": None}
    if calls:
        message["tool_calls"] = [{"id": c.id, "type": "function", "function": {
            "name": c.name, "arguments": json.dumps(c.arguments)}} for c in calls]
    return {
        "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": "tool_calls" if calls else "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def _anthropic_message(body: dict[str, Any], text: str, calls: list[ToolCallReply],
                       input_tokens: int, output_tokens: int) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if text:
        content.append({"type": "text", "text": text})
    for call in calls:
        content.append({"type": "tool_use", "id": call.id, "name": call.name,
                        "input": call.arguments})
    return {
        "id": "msg_fake", "type": "message", "role": "assistant",
        "model": body.get("model", "fake"), "content": content,
        "stop_reason": "tool_use" if calls else "end_turn", "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
