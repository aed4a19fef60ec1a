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
    paragraph, and its parameters' JSON schema comes from the type hints (see
    :func:`json_schema`).
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
    defs: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        names.append(param.name)
        schema = json_schema(hints.get(param.name, Any))
        # "#/$defs/..." refers to the document root: recursive types' definitions go there.
        defs.update(schema.pop("$defs", {}))
        doc = _param_doc(target.__doc__ or "", param.name)
        if doc:
            schema = {**schema, "description": doc}
        properties[param.name] = schema
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties,
                                  "required": required, "additionalProperties": False}
    if defs:
        parameters["$defs"] = defs
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
    """A JSON schema for a type hint, for a model's tool calling.

    Where pydantic is installed, ``pydantic.TypeAdapter(hint).json_schema()`` writes it (with
    ``$ref``s inlined, as not every provider follows them; a recursive type keeps its
    ``$defs``). Otherwise, or for types pydantic cannot describe (such as ``typing.TypedDict``
    before Python 3.12), a built-in writer covers ``str``, numbers, ``bool``, lists, tuples,
    dicts, ``Optional``, ``Literal``, enums, dataclasses, TypedDicts and pydantic models.
    """
    if hint is Any or hint is object or hint is inspect.Parameter.empty:
        return {}
    schema = _pydantic_schema(hint)
    if schema is None:
        schema = _Fallback().top(hint)
    return schema


def _pydantic_schema(hint: Any) -> dict[str, Any] | None:
    try:
        from pydantic import TypeAdapter
    except ImportError:
        return None
    try:
        schema = TypeAdapter(hint).json_schema()
    except Exception:  # a type pydantic cannot describe: the built-in writer tries
        return None
    schema = _inline_refs(schema)
    description = _class_summary(hint)
    if description and "description" not in schema:
        schema["description"] = description
    return schema


def _class_summary(hint: Any) -> str:
    if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
        return ""
    summary = _summary(hint.__doc__)
    # A dataclass without a docstring gets its signature as __doc__: not a description.
    return "" if summary.startswith(f"{hint.__name__}(") else summary


class _Fallback:
    """The built-in schema writer. Classes met again while being described (recursive types)
    become ``$ref``s into ``$defs``."""

    def __init__(self) -> None:
        self.active: list[Any] = []
        self.recursive: set[str] = set()
        self.defs: dict[str, dict[str, Any]] = {}

    def top(self, hint: Any) -> dict[str, Any]:
        schema = self.schema(hint)
        if self.defs:
            schema = {**schema, "$defs": self.defs}
        return schema

    def schema(self, hint: Any) -> dict[str, Any]:
        if hint is Any or hint is object or hint is inspect.Parameter.empty:
            return {}
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is typing.Annotated:
            return self.schema(args[0])
        if origin is typing.Union or origin is types.UnionType:
            options = [a for a in args if a is not type(None)]
            schemas = [self.schema(a) for a in options]
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
        if origin is tuple:
            if len(args) == 2 and args[1] is Ellipsis:
                return {"type": "array", "items": self.schema(args[0])}
            if args == ((),):
                return {"type": "array", "maxItems": 0}
            if args:
                return {"type": "array", "prefixItems": [self.schema(a) for a in args],
                        "minItems": len(args), "maxItems": len(args)}
            return {"type": "array"}
        if origin in (list, set, frozenset, Sequence, typing.Sequence):
            item = args[0] if args else Any
            return {"type": "array", "items": self.schema(item)}
        if origin in (dict, Mapping, typing.Mapping):
            value = args[1] if len(args) == 2 else Any
            return {"type": "object", "additionalProperties": self.schema(value) or True}
        simple = _SIMPLE.get(hint)
        if simple is not None:
            return dict(simple)
        if isinstance(hint, type) and issubclass(hint, enum.Enum):
            return {"enum": [member.value for member in hint]}
        if isinstance(hint, type) and (dataclasses.is_dataclass(hint)
                                       or typing.is_typeddict(hint)
                                       or callable(getattr(hint, "model_json_schema", None))):
            return self._class(hint)
        return {}

    def _class(self, hint: type) -> dict[str, Any]:
        name = hint.__name__
        ref = {"$ref": f"#/$defs/{name}"}
        if hint in self.active:
            self.recursive.add(name)
            return ref
        if name in self.defs:
            return ref
        self.active.append(hint)
        try:
            schema = self._class_schema(hint)
        finally:
            self.active.pop()
        if name in self.recursive:
            self.defs[name] = schema
            return ref
        return schema

    def _class_schema(self, hint: type) -> dict[str, Any]:
        model_schema = getattr(hint, "model_json_schema", None)
        if callable(model_schema):  # a pydantic v2 model
            return _inline_refs(model_schema())
        field_hints = _hints(hint)
        properties: dict[str, Any] = {}
        required: list[str] = []
        if typing.is_typeddict(hint):
            for key, field_hint in field_hints.items():
                properties[key] = self.schema(field_hint)
            required = [k for k in field_hints if k in getattr(hint, "__required_keys__", ())]
        else:
            for f in dataclasses.fields(hint):
                properties[f.name] = self.schema(field_hints.get(f.name, Any))
                if f.default is dataclasses.MISSING and \
                        f.default_factory is dataclasses.MISSING:
                    required.append(f.name)
        schema: dict[str, Any] = {"type": "object", "properties": properties,
                                  "required": required, "additionalProperties": False}
        summary = _class_summary(hint) if dataclasses.is_dataclass(hint) else _summary(
            hint.__doc__)
        if summary:
            schema["description"] = summary
        return schema


_SIMPLE: dict[Any, dict[str, Any]] = {
    type(None): {"type": "null"}, str: {"type": "string"}, bool: {"type": "boolean"},
    int: {"type": "integer"}, float: {"type": "number"}, list: {"type": "array"},
    tuple: {"type": "array"}, set: {"type": "array"}, dict: {"type": "object"},
    datetime.datetime: {"type": "string", "format": "date-time"},
    datetime.date: {"type": "string", "format": "date"},
    uuid.UUID: {"type": "string", "format": "uuid"},
}


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Pydantic puts nested models under ``$defs``; inline them (not every provider follows
    ``$ref``), except where a type refers back to itself: those stay ``$ref``s, with their
    definitions kept in ``$defs``."""
    schema = dict(schema)
    defs: dict[str, Any] = schema.pop("$defs", {})
    kept: set[str] = set()

    def resolve(node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in expanding or name not in defs:
                    kept.add(name)
                    return dict(node)
                rest = {k: resolve(v, expanding) for k, v in node.items() if k != "$ref"}
                return {**resolve(defs[name], expanding | {name}), **rest}
            return {k: resolve(v, expanding) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v, expanding) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema, frozenset())
    kept_defs: dict[str, Any] = {}
    while kept - set(kept_defs):
        name = sorted(kept - set(kept_defs))[0]
        kept_defs[name] = resolve(defs[name], frozenset({name})) if name in defs else {}
    if kept_defs:
        resolved["$defs"] = kept_defs
    return resolved
