"""Tool schemas built from activity signatures."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, TypedDict

import jsonschema
import pydantic
import pytest

from stalwart import activity
from stalwart.agents import activity_as_tool, json_schema
from stalwart.agents.tools import _Fallback
from stalwart.contrib.openai_agents import activity_as_tool as agents_tool


class Priority(Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Address:
    """Where to ship."""

    city: str
    zip_code: str | None = None


class Customer(pydantic.BaseModel):
    name: str
    address: Address | None = None


@activity.defn(name="crm.create_ticket")
async def create_ticket(customer: Customer, title: str, priority: Priority = Priority.LOW,
                        tags: list[str] | None = None,
                        channel: Literal["email", "phone"] = "email") -> str:
    """Open a support ticket.

    Longer text that is not part of the description.

    Args:
        title: One line summary.
    """
    return "t-1"


def test_activity_as_tool_builds_schema_from_hints_and_docstring() -> None:
    tool = activity_as_tool(create_ticket, needs_approval=True)
    assert tool.name == "crm_create_ticket" and tool.activity == "crm.create_ticket"
    assert tool.description == "Open a support ticket."
    assert tool.needs_approval is True
    params = tool.parameters
    assert params["required"] == ["customer", "title"]
    assert tool.param_names == ["customer", "title", "priority", "tags", "channel"]
    assert params["properties"]["title"] == {"type": "string",
                                             "description": "One line summary."}
    assert params["properties"]["priority"] == {"enum": ["low", "high"], "type": "string",
                                                "title": "Priority"}
    assert params["properties"]["tags"] == {"anyOf": [
        {"type": "array", "items": {"type": "string"}}, {"type": "null"}]}
    assert params["properties"]["channel"] == {"enum": ["email", "phone"], "type": "string"}
    customer = params["properties"]["customer"]
    assert customer["properties"]["name"]["type"] == "string"
    assert "$defs" not in customer and "$ref" not in str(customer)
    assert tool.openai_schema()["function"]["name"] == "crm_create_ticket"


def test_json_schema_of_dataclass_lists_required_fields() -> None:
    schema = json_schema(Address)
    assert schema["required"] == ["city"]
    assert schema["description"] == "Where to ship."


def test_activity_as_tool_rejects_plain_functions() -> None:
    async def not_an_activity(x: int) -> int:
        return x

    with pytest.raises(TypeError, match=r"activity\.defn"):
        activity_as_tool(not_an_activity)


def test_openai_agents_activity_as_tool_is_a_function_tool() -> None:
    tool = agents_tool(create_ticket)
    assert tool.name == "crm_create_ticket"
    assert tool.params_json_schema["required"] == ["customer", "title"]


class Shipment(TypedDict):
    """A parcel."""

    weight: float
    label: str


@dataclass
class Folder:
    name: str
    children: list[Folder]


class Thread(pydantic.BaseModel):
    text: str
    replies: list[Thread] = []


@activity.defn
async def file_away(folder: Folder, thread: Thread, shipment: Shipment,
                    pair: tuple[int, str]) -> None:
    """Files things."""


def _writers() -> list[Any]:
    # pydantic's TypeAdapter where it can, and the built-in writer (used without pydantic).
    return [json_schema, lambda hint: _Fallback().top(hint)]


@pytest.mark.parametrize("writer", _writers(), ids=["pydantic", "fallback"])
def test_typed_dict_tuple_and_recursive_types_get_real_schemas(writer: Any) -> None:
    shipment = writer(Shipment)
    assert shipment["required"] == ["weight", "label"]
    assert shipment["properties"]["label"] == {"type": "string"} or \
        shipment["properties"]["label"]["type"] == "string"
    pair = writer(tuple[int, str])
    assert [p["type"] for p in pair["prefixItems"]] == ["integer", "string"]
    assert pair["minItems"] == pair["maxItems"] == 2
    assert writer(tuple[int, ...])["items"]["type"] == "integer"
    for recursive, value, wrong in (
            (Folder, {"name": "a", "children": [{"name": "b", "children": []}]},
             {"name": "a", "children": [{"name": 1, "children": []}]}),
            (Thread, {"text": "a", "replies": [{"text": "b"}]},
             {"text": "a", "replies": [{"text": 2}]})):
        schema = writer(recursive)  # terminates: recursion becomes a $ref into $defs
        assert "$defs" in schema
        jsonschema.validate(value, schema)
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, schema)
    jsonschema.validate([1, "a"], pair)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(["a", 1], pair)


def test_tool_parameters_keep_recursive_definitions_at_the_root() -> None:
    params = activity_as_tool(file_away).parameters
    assert set(params["$defs"]) == {"Folder", "Thread"}
    jsonschema.Draft202012Validator.check_schema(params)
    jsonschema.validate({"folder": {"name": "a", "children": [{"name": "b", "children": []}]},
                         "thread": {"text": "t", "replies": [{"text": "r"}]},
                         "shipment": {"weight": 1.5, "label": "x"}, "pair": [1, "a"]}, params)
