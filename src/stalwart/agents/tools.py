"""Turning activities into tools a model can call: name, description, JSON schema."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import inspect
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from .._model.definitions import get_activity_definition
from ..common import RetryPolicy
from ._types import ToolSpec

__all__ = ["activity_as_tool", "json_schema"]


def activity_as_tool(
    fn: Callable[..., Any], *, name: str | None = None, description: str | None = None,
    needs_approval: bool = False,
    start_to_close_timeout: timedelta | None = timedelta(minutes=5),
    schedule_to_close_timeout: timedelta | None = None,
    heartbeat_timeout: timedelta | None = None, retry_policy: RetryPolicy | None = None,
    task_queue: str | None = None,
) -> ToolSpec:
    """Describe an ``@activity.defn`` function as a tool for the agent loop.

    The tool's name defaults to the activity's name, its description to the docstring's first
    paragraph, and its parameters' JSON schema comes from the type hints (``str``, numbers,
    ``bool``, lists, dicts, ``Optional``, ``Literal``, enums, dataclasses, pydantic models).
    When the model calls the tool, the agent loop runs the activity with these timeouts and
    this retry policy.

    Args:
        needs_approval: Pause the agent until a human approves each call (see
            ``AgentLoop``'s ``approve`` signal and ``decide`` update).

    Raises:
        TypeError: ``fn`` is not an activity.
    """
    definition = get_activity_definition(fn)
    if definition is None:
        raise TypeError(f"activity_as_tool({fn!r}): decorate the function with @activity.defn")
    target = inspect.unwrap(getattr(fn, "__func__", fn))
    signature = inspect.signature(target)
    hints = _hints(target)
    properties: dict[str, Any] = {}
    required: list[str] = []
    names: list[str] = []
    for param in signature.parameters.values():
        if param.name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        names.append(param.name)
        schema = json_schema(hints.get(param.name, Any))
        doc = _param_doc(target.__doc__ or "", param.name)
        if doc:
            schema = {**schema, "description": doc}
        properties[param.name] = schema
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties,
                                  "required": required, "additionalProperties": False}
    return ToolSpec(
        name=name or definition.name.replace(".", "_"),
        description=description or _summary(target.__doc__) or definition.name,
        parameters=parameters, activity=definition.name, param_names=names,
        needs_approval=needs_approval,
        start_to_close_timeout=_seconds(start_to_close_timeout),
        schedule_to_close_timeout=_seconds(schedule_to_close_timeout),
        heartbeat_timeout=_seconds(heartbeat_timeout), retry_policy=retry_policy,
        task_queue=task_queue,
    )


def _seconds(value: timedelta | None) -> float | None:
    return value.total_seconds() if value is not None else None


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        return {}


def _summary(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def _param_doc(doc: str, name: str) -> str:
    """The line ``name: text`` of a Google-style ``Args:`` section, if any."""
    in_args = False
    for line in inspect.cleandoc(doc).splitlines():
        stripped = line.strip()
        if stripped in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if in_args:
            if stripped.startswith(f"{name}:") or stripped.startswith(f"{name} ("):
                return stripped.split(":", 1)[1].strip()
            if stripped.endswith(":") and not line.startswith((" ", "\t")):
                in_args = False
    return ""


def json_schema(hint: Any) -> dict[str, Any]:
    """A JSON schema for a type hint (the subset models' tool calling understands)."""
    if hint is Any or hint is object or hint is inspect.Parameter.empty:
        return {}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return json_schema(args[0])
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in args if a is not type(None)]
        schemas = [json_schema(a) for a in options]
        if type(None) in args:
            schemas.append({"type": "null"})
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    if origin is typing.Literal:
        values = list(args)
        kinds = {type(v) for v in values}
        schema: dict[str, Any] = {"enum": values}
        if kinds == {str}:
            schema["type"] = "string"
        elif kinds == {int}:
            schema["type"] = "integer"
        return schema
    if origin in (list, set, frozenset, Sequence, typing.Sequence, tuple):
        item = args[0] if args else Any
        return {"type": "array", "items": json_schema(item)}
    if origin in (dict, Mapping, typing.Mapping):
        value = args[1] if len(args) == 2 else Any
        return {"type": "object", "additionalProperties": json_schema(value) or True}
    if hint is type(None):
        return {"type": "null"}
    if hint is str:
        return {"type": "string"}
    if hint is bool:
        return {"type": "boolean"}
    if hint is int:
        return {"type": "integer"}
    if hint is float:
        return {"type": "number"}
    if hint in (list, tuple, set):
        return {"type": "array"}
    if hint is dict:
        return {"type": "object"}
    if hint is datetime.datetime:
        return {"type": "string", "format": "date-time"}
    if hint is datetime.date:
        return {"type": "string", "format": "date"}
    if hint is uuid.UUID:
        return {"type": "string", "format": "uuid"}
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"enum": [member.value for member in hint]}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        field_hints = _hints(hint)
        properties = {}
        required = []
        for f in dataclasses.fields(hint):
            properties[f.name] = json_schema(field_hints.get(f.name, Any))
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
        schema = {"type": "object", "properties": properties, "required": required,
                  "additionalProperties": False}
        summary = _summary(hint.__doc__)
        if summary and not summary.startswith(f"{hint.__name__}("):
            schema["description"] = summary
        return schema
    model_schema = getattr(hint, "model_json_schema", None)
    if callable(model_schema):  # pydantic v2 model
        return _inline_refs(model_schema())
    return {}


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic puts nested models under ``$defs``; inline them (not every provider follows
    ``$ref``)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
