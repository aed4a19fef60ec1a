"""The LLM activity: one model call through the official ``openai`` or ``anthropic`` SDK.

Register ``LLMActivities(...).activities()`` on a worker. Workflows call the activity by name
(``"stalwart.agents.chat"``) with a :class:`ModelRequest`; the agent loop does this for you.

Errors are classified for the retry policy, the SDK's own retries are switched off so that the
workflow's retry policy is the only one:

=========================================  ===========================================
429, 408, 409, 5xx, 529                     retryable; ``Retry-After`` becomes the next
                                            retry's delay (``next_retry_delay``)
timeouts, connection errors                 retryable
400, 401, 403, 404, 422 (other 4xx)         non-retryable, with the provider's message
=========================================  ===========================================
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from .. import activity
from .._client_streams import WorkflowStreamClient
from ..exceptions import ApplicationError
from ._types import Message, ModelRequest, ModelResponse, Usage
from .cost import observe_call
from .store import AgentStore

__all__ = ["CHAT_ACTIVITY", "LLMActivities", "Prices", "classify_error", "content_of",
           "estimate_cost"]

CHAT_ACTIVITY = "stalwart.agents.chat"
# The workflow-stream topic a streaming model call publishes its text deltas to.
STREAM_TOPIC = "tokens"

# USD per million tokens by model-name prefix: (input, output) or (input, output, cached input).
Prices = Mapping[str, tuple[float, ...]]

_RETRYABLE_STATUS = {408, 409, 429}
logger = logging.getLogger(__name__)
_warned_models: set[tuple[str, str | None]] = set()


def estimate_cost(model: str, input_tokens: int, output_tokens: int,
                  prices: Prices | None = None, *, cached_input_tokens: int = 0,
                  cache_write_tokens: int = 0, provider: str | None = None) -> float | None:
    """Estimated USD cost of a call, or None when the model's price is not known.

    ``prices`` (the longest model-name prefix that matches) comes first; then the price data
    of the ``genai-prices`` package, which follows providers' price lists, cache reads and
    writes included. ``input_tokens`` counts every input token, cached ones included.
    """
    if prices:
        match = max((name for name in prices if model.startswith(name)), key=len, default=None)
        if match is not None:
            price_in, price_out, *rest = prices[match]
            price_cached = rest[0] if rest else price_in
            uncached = max(0, input_tokens - cached_input_tokens)
            return round((uncached * price_in + cached_input_tokens * price_cached
                          + output_tokens * price_out) / 1_000_000, 10)
    try:
        import genai_prices
    except ImportError:
        return None
    usage = genai_prices.Usage(input_tokens=input_tokens, output_tokens=output_tokens,
                               cache_read_tokens=cached_input_tokens,
                               cache_write_tokens=cache_write_tokens)
    try:
        calculation = genai_prices.calc_price(usage, model_ref=model, provider_id=provider)
    except LookupError:
        return None
    return round(float(calculation.total_price), 10)


def retry_after(headers: Any) -> timedelta | None:
    """The delay a provider asks for before the next attempt (``retry-after-ms`` or
    ``retry-after`` in seconds or as an HTTP date), or None."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return timedelta(milliseconds=max(0.0, float(milliseconds)))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return timedelta(seconds=max(0.0, when.timestamp() - time.time()))


def _provider_message(error: BaseException) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(getattr(error, "message", None) or error)


def classify_error(error: BaseException, provider: str) -> ApplicationError:
    """The ``ApplicationError`` an SDK exception becomes (see the module docstring)."""
    status = getattr(error, "status_code", None)
    kind = type(error).__name__
    if isinstance(status, int):
        message = f"{provider} API returned HTTP {status}: {_provider_message(error)}"
        response = getattr(error, "response", None)
        delay = retry_after(getattr(response, "headers", None))
        if status in _RETRYABLE_STATUS or status >= 500:
            return ApplicationError(message, type=kind, next_retry_delay=delay)
        return ApplicationError(message, type=kind, non_retryable=True)
    if "Timeout" in kind or isinstance(error, TimeoutError | asyncio.TimeoutError):
        return ApplicationError(f"{provider} API call timed out: {error}", type=kind)
    if "Connection" in kind or isinstance(error, ConnectionError):
        return ApplicationError(f"{provider} API connection failed: {error}", type=kind)
    return ApplicationError(f"{provider} API call failed: {kind}: {error}", type=kind)


class LLMActivities:
    """The ``stalwart.agents.chat`` activity, bound to provider clients and settings.

    Args:
        openai_client: An ``openai.AsyncOpenAI`` (any OpenAI-compatible endpoint through its
            ``base_url``). Default: one built from the environment when first needed.
        anthropic_client: An ``anthropic.AsyncAnthropic``. Default: built when first needed.
        store: Where large contents go; without one, ``content_ref`` messages cannot be
            resolved. (Streamed text goes to the workflow's stream, topic ``tokens``.)
        prices: USD per million tokens, ``(input, output)`` or ``(input, output, cached
            input)``, by model-name prefix; they override the ``genai-prices`` data, which
            prices every other model it knows. Calls to models priced by neither are counted
            in ``Usage.unpriced_calls`` (and logged once per model), not as free.
        request_timeout: Seconds one HTTP request may take (then it is a retryable timeout).
        stream_interval: Seconds text deltas are gathered for before they are published
            together (one store transaction per batch).
        offload_chars: Model answers longer than this are kept in the store, not the
            history (needs ``store``).
    """

    def __init__(self, *, openai_client: Any = None, anthropic_client: Any = None,
                 store: AgentStore | None = None,
                 prices: Prices | None = None,
                 request_timeout: float = 120.0, stream_interval: float = 0.05,
                 offload_chars: int | None = None) -> None:
        self._openai = openai_client.with_options(max_retries=0) \
            if openai_client is not None else None
        self._anthropic = anthropic_client.with_options(max_retries=0) \
            if anthropic_client is not None else None
        self.store = store
        self.prices = prices
        self.request_timeout = request_timeout
        self.stream_interval = stream_interval
        self.offload_chars = offload_chars

    def activities(self) -> list[Callable[..., Any]]:
        """The activities to pass to ``Worker(activities=...)``."""
        return [self.chat]

    def _openai_client(self) -> Any:
        if self._openai is None:
            import openai

            self._openai = openai.AsyncOpenAI(max_retries=0)
        return self._openai

    def _anthropic_client(self) -> Any:
        if self._anthropic is None:
            import anthropic

            self._anthropic = anthropic.AsyncAnthropic(max_retries=0)
        return self._anthropic

    @activity.defn(name=CHAT_ACTIVITY)
    async def chat(self, request: ModelRequest) -> ModelResponse:
        """Call the model once and return its message and usage."""
        messages = await self._resolve(request.messages)
        info = activity.info()
        headers = {"Idempotency-Key": info.idempotency_key,
                   "X-Stalwart-Attempt": str(info.attempt)}
        if request.provider == "openai":
            response = await self._call_openai(request, messages, headers)
        elif request.provider == "anthropic":
            response = await self._call_anthropic(request, messages, headers)
        else:
            raise ApplicationError(f"unknown provider {request.provider!r} (use 'openai' or "
                                   "'anthropic')", type="UnknownProvider", non_retryable=True)
        usage = response.usage
        model = response.model or request.model
        cost = estimate_cost(model, usage.input_tokens, usage.output_tokens, self.prices,
                             cached_input_tokens=usage.cached_input_tokens,
                             cache_write_tokens=usage.cache_write_tokens,
                             provider=request.provider)
        if cost is None:
            usage.cost_usd, usage.unpriced_calls = 0.0, 1
            if (model, request.provider) not in _warned_models:
                _warned_models.add((model, request.provider))
                logger.warning("no price known for model %r (provider %r): its calls are "
                               "counted in Usage.unpriced_calls; pass prices= to "
                               "LLMActivities to price it", model, request.provider)
        else:
            usage.cost_usd = cost
        usage.calls = 1
        response.model = model
        observe_call(info.workflow_type or "", model, usage)
        content = response.message.get("content")
        if (self.store is not None and self.offload_chars is not None
                and isinstance(content, str) and len(content) > self.offload_chars):
            ref = await self.store.put_async(info.workflow_id or info.activity_id, content)
            response.message["content"] = None
            response.message["content_ref"] = ref.key
        return response

    async def _resolve(self, messages: list[Message]) -> list[Message]:
        out = []
        for message in messages:
            key = message.get("content_ref")
            message = {k: v for k, v in message.items() if k != "content_ref"}
            if key:
                if self.store is None:
                    raise ApplicationError(
                        f"message refers to stored content {key!r} but LLMActivities has no "
                        "store", type="ContentStoreMissing", non_retryable=True)
                try:
                    message["content"] = await self.store.get_async(key)
                except KeyError as error:
                    raise ApplicationError(str(error), type="ContentMissing",
                                           non_retryable=True) from None
            out.append(message)
        return out

    # -- OpenAI ----------------------------------------------------------------------------
    async def _call_openai(self, request: ModelRequest, messages: list[Message],
                           headers: dict[str, str]) -> ModelResponse:
        kwargs: dict[str, Any] = {"model": request.model, "messages": messages,
                                  "extra_headers": headers, "timeout": self.request_timeout}
        if request.tools:
            kwargs["tools"] = request.tools
            if request.tool_choice:
                kwargs["tool_choice"] = request.tool_choice
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        if request.max_tokens is not None:
            # max_tokens is deprecated, and reasoning models refuse it.
            kwargs["max_completion_tokens"] = request.max_tokens
        client = self._openai_client()
        try:
            if request.stream_to:
                return await self._stream_openai(client, request, kwargs)
            completion = await client.chat.completions.create(**kwargs)
        except ApplicationError:
            raise
        except Exception as error:
            raise classify_error(error, "openai") from error
        choice = completion.choices[0]
        message = choice.message.model_dump(mode="json", exclude_none=True)
        message.setdefault("content", None)
        usage = completion.usage
        return ModelResponse(
            message=_clean_openai_message(message),
            usage=_openai_usage(usage),
            model=completion.model or request.model, finish_reason=choice.finish_reason or "")

    async def _stream_openai(self, client: Any, request: ModelRequest,
                             kwargs: dict[str, Any]) -> ModelResponse:
        """Stream the answer, publishing its text deltas to the workflow's stream (topic
        ``STREAM_TOPIC``, items ``{"step": ..., "delta": ...}`` batched ``stream_interval``
        apart, then ``{"step": ..., "done": True, "text": ...}``)."""
        assert request.stream_to is not None
        step = request.stream_id
        publisher = WorkflowStreamClient.from_within_activity(
            batch_interval=self.stream_interval)
        stream = await client.chat.completions.create(
            **kwargs, stream=True, stream_options={"include_usage": True})
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish = ""
        model = request.model
        usage = Usage()
        async with publisher:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = _openai_usage(chunk.usage)
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        publisher.publish(STREAM_TOPIC, {"step": step, "delta": delta.content})
                    for call in delta.tool_calls or []:
                        entry = calls.setdefault(call.index, {
                            "id": "", "type": "function",
                            "function": {"name": "", "arguments": ""}})
                        if call.id:
                            entry["id"] = call.id
                        if call.function is not None:
                            entry["function"]["name"] += call.function.name or ""
                            entry["function"]["arguments"] += call.function.arguments or ""
                    if choice.finish_reason:
                        finish = choice.finish_reason
                activity.heartbeat(len(text))
            content = "".join(text)
            publisher.publish(STREAM_TOPIC, {"step": step, "done": True, "text": content})
        message: Message = {"role": "assistant", "content": content or None}
        if calls:
            message["tool_calls"] = [calls[i] for i in sorted(calls)]
        return ModelResponse(message=message, usage=usage, model=model, finish_reason=finish)

    # -- Anthropic -------------------------------------------------------------------------
    async def _call_anthropic(self, request: ModelRequest, messages: list[Message],
                              headers: dict[str, str]) -> ModelResponse:
        system, converted = _to_anthropic(messages)
        kwargs: dict[str, Any] = {"model": request.model, "messages": converted,
                                  "max_tokens": request.max_tokens or 4096,
                                  "extra_headers": headers, "timeout": self.request_timeout}
        if system:
            kwargs["system"] = system
        if request.tools:
            kwargs["tools"] = [{"name": t["function"]["name"],
                                "description": t["function"].get("description", ""),
                                "input_schema": t["function"].get("parameters") or {
                                    "type": "object", "properties": {}}}
                               for t in request.tools]
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        try:
            reply = await self._anthropic_client().messages.create(**kwargs)
        except Exception as error:
            raise classify_error(error, "anthropic") from error
        texts = []
        calls = []
        for block in reply.content:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append({"id": block.id, "type": "function", "function": {
                    "name": block.name, "arguments": json.dumps(block.input)}})
        message: Message = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            message["tool_calls"] = calls
        finish = {"tool_use": "tool_calls", "end_turn": "stop",
                  "max_tokens": "length"}.get(reply.stop_reason or "", reply.stop_reason or "")
        return ModelResponse(message=message, usage=_anthropic_usage(reply.usage),
                             model=reply.model or request.model, finish_reason=finish)


def _openai_usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(usage.prompt_tokens or 0, usage.completion_tokens or 0,
                 cached_input_tokens=getattr(details, "cached_tokens", None) or 0)


def _anthropic_usage(usage: Any) -> Usage:
    # Anthropic's input_tokens leaves out cache reads and writes; Usage counts them in.
    read = getattr(usage, "cache_read_input_tokens", None) or 0
    written = getattr(usage, "cache_creation_input_tokens", None) or 0
    return Usage(usage.input_tokens + read + written, usage.output_tokens,
                 cached_input_tokens=read, cache_write_tokens=written)


def _clean_openai_message(message: Message) -> Message:
    """Keep what the chat API accepts back as an assistant message."""
    keep = {"role", "content", "tool_calls", "refusal"}
    out = {k: v for k, v in message.items() if k in keep}
    if out.get("refusal") is None:
        out.pop("refusal", None)
    return out


def _to_anthropic(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """OpenAI chat messages to Anthropic's (system prompt, messages)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def append(role: str, blocks: list[dict[str, Any]]) -> None:
        # Anthropic wants alternating roles: merge consecutive same-role messages.
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role == "system":
            system.append(str(content or ""))
        elif role == "tool":
            append("user", [{"type": "tool_result", "tool_use_id": message.get("tool_call_id"),
                             "content": str(content or "")}])
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if content:
                blocks.append({"type": "text", "text": str(content)})
            for call in message.get("tool_calls") or []:
                arguments = call["function"].get("arguments") or "{}"
                blocks.append({"type": "tool_use", "id": call["id"],
                               "name": call["function"]["name"],
                               "input": json.loads(arguments)})
            append("assistant", blocks)
        else:
            text = content if isinstance(content, str) else json.dumps(content)
            append("user", [{"type": "text", "text": text}])
    return "\n\n".join(system), out


def content_of(message: Message, store: AgentStore | None = None) -> str | None:
    """A message's text, loading it from ``store`` when it was offloaded."""
    key = message.get("content_ref")
    if key and store is not None:
        return store.get(key)
    content = message.get("content")
    return content if isinstance(content, str) else None

