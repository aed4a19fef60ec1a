"""The pydantic data converter end to end: models (nested, with datetimes, UUIDs and decimals)
as workflow and activity arguments and results, signals and queries, decoded by the receiving
function's type hints."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import BaseModel, Field

from stalwart import activity, workflow
from stalwart.client import Client, WorkflowFailureError
from stalwart.contrib.pydantic import (
    PydanticJSONPlainPayloadConverter,
    PydanticPayloadConverter,
    pydantic_data_converter,
)
from stalwart.converter import DataConverter
from stalwart.exceptions import ActivityError, ApplicationError
from stalwart.worker import Worker
from tests.helpers.waiting import eventually

ACTIVITY_TIMEOUT = timedelta(seconds=10)


class LineItem(BaseModel):
    sku: str
    price: Decimal
    quantity: int = Field(ge=1)


class Customer(BaseModel):
    id: uuid.UUID
    name: str


class Order(BaseModel):
    id: uuid.UUID
    customer: Customer
    placed_at: datetime
    items: list[LineItem]
    tags: dict[str, datetime] = {}


class Receipt(BaseModel):
    order_id: uuid.UUID
    total: Decimal
    customer: Customer
    confirmed_at: datetime
    notes: list[str]


@activity.defn
async def price_order(order: Order) -> Receipt:
    # Proves the activity got real models, not dicts: attribute access and Decimal arithmetic.
    if not isinstance(order, Order) or not isinstance(order.customer.id, uuid.UUID):
        raise ApplicationError(f"activity got {type(order).__name__}", non_retryable=True)
    total = sum((item.price * item.quantity for item in order.items), Decimal(0))
    return Receipt(order_id=order.id, total=total, customer=order.customer,
                   confirmed_at=order.placed_at + timedelta(minutes=5), notes=[])


@activity.defn
async def count_items(items: list[LineItem]) -> int:
    if not all(isinstance(item, LineItem) for item in items):
        raise ApplicationError("items are not LineItem models", non_retryable=True)
    return sum(item.quantity for item in items)


@workflow.defn
class OrderWorkflow:
    def __init__(self) -> None:
        self._notes: list[str] = []
        self._last: Receipt | None = None

    @workflow.run
    async def run(self, order: Order) -> Receipt:
        if not isinstance(order, Order):
            raise ApplicationError(f"workflow got {type(order).__name__}", non_retryable=True)
        receipt = await workflow.execute_activity(
            price_order, order, start_to_close_timeout=ACTIVITY_TIMEOUT)
        count = await workflow.execute_activity(
            count_items, order.items, start_to_close_timeout=ACTIVITY_TIMEOUT)
        self._last = receipt
        await workflow.wait_condition(lambda: len(self._notes) > 0)
        return receipt.model_copy(update={"notes": [*self._notes, f"{count} items"]})

    @workflow.signal
    async def add_note(self, note: LineItem) -> None:
        self._notes.append(f"note {note.sku} x{note.quantity} at {note.price}")

    @workflow.query
    def last_receipt(self) -> Receipt | None:
        return self._last


@workflow.defn
class BadInputWorkflow:
    @workflow.run
    async def run(self, raw: dict[str, object]) -> int:
        # The activity's hint (list[LineItem] with quantity >= 1) rejects this input.
        return await workflow.execute_activity(
            "count_items", [raw], start_to_close_timeout=ACTIVITY_TIMEOUT)


def _order() -> Order:
    placed = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    return Order(
        id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        customer=Customer(id=uuid.UUID("87654321-4321-8765-4321-876543218765"), name="Ada"),
        placed_at=placed,
        items=[LineItem(sku="tea", price=Decimal("3.10"), quantity=2),
               LineItem(sku="cup", price=Decimal("7.25"), quantity=1)],
        tags={"gift": placed + timedelta(days=1)},
    )


async def test_pydantic_converter_models_through_workflow_activity_signal_query(
        db_url: str, task_queue: str) -> None:
    client = await Client.connect(db_url, data_converter=pydantic_data_converter)
    try:
        order = _order()
        async with Worker(client, task_queue=task_queue, workflows=[OrderWorkflow],
                          activities=[price_order, count_items]):
            handle = await client.start_workflow(OrderWorkflow.run, order, id="order-1",
                                                 task_queue=task_queue)

            async def priced() -> Receipt | None:
                return await handle.query(OrderWorkflow.last_receipt)

            queried = await eventually(priced, what="the receipt to be queryable")
            assert isinstance(queried, Receipt)
            assert queried.total == Decimal("13.45")
            await handle.signal(OrderWorkflow.add_note,
                                LineItem(sku="wrap", price=Decimal("0.50"), quantity=3))
            receipt = await handle.result()
        assert isinstance(receipt, Receipt)
        assert receipt == Receipt(
            order_id=order.id, total=Decimal("13.45"), customer=order.customer,
            confirmed_at=datetime(2026, 3, 1, 12, 35, tzinfo=UTC),
            notes=["note wrap x3 at 0.50", "3 items"])
        assert isinstance(receipt.customer.id, uuid.UUID)
        assert receipt.confirmed_at.tzinfo is not None

        # What the store keeps is pydantic's JSON form of the model.
        history = await handle.fetch_history()
        started = history.events[0].attributes["input"]["payloads"][0]
        assert json.loads(base64.b64decode(started["data"])) == order.model_dump(mode="json")
    finally:
        await client.close()


async def test_pydantic_converter_rejects_input_that_fails_validation(
        db_url: str, task_queue: str) -> None:
    client = await Client.connect(db_url, data_converter=pydantic_data_converter)
    try:
        async with Worker(client, task_queue=task_queue, workflows=[BadInputWorkflow],
                          activities=[count_items]):
            with pytest.raises(WorkflowFailureError) as raised:
                await client.execute_workflow(
                    BadInputWorkflow.run, {"sku": "tea", "price": "1.00", "quantity": 0},
                    id="bad-input", task_queue=task_queue)
        activity_error = raised.value.cause
        assert isinstance(activity_error, ActivityError)
        cause = activity_error.__cause__
        assert isinstance(cause, ApplicationError)
        assert cause.type == "InvalidActivityInput"
        assert cause.non_retryable
        assert "quantity" in str(cause)
    finally:
        await client.close()


def test_pydantic_payload_converter_round_trips_by_type_hint() -> None:
    converter = PydanticPayloadConverter()
    order = _order()
    payloads = converter.to_payloads([order, [order.items[0]], Decimal("2.5"), None, b"\x00"])
    assert [p.encoding for p in payloads] == [
        "json/plain", "json/plain", "json/plain", "binary/null", "binary/plain"]
    decoded = converter.from_payloads(
        payloads, [Order, list[LineItem], Decimal, None, bytes])
    assert decoded == [order, [order.items[0]], Decimal("2.5"), None, b"\x00"]
    # Without a hint the JSON comes back as plain data, like the default converter.
    plain = converter.from_payload(payloads[0])
    assert plain == order.model_dump(mode="json")


def test_pydantic_payload_converter_names_unserializable_values() -> None:
    class Opaque:
        pass

    with pytest.raises(TypeError, match=r"args\[1\].*Opaque"):
        PydanticPayloadConverter().to_payloads(["fine", Opaque()])


def test_pydantic_data_converter_is_a_data_converter() -> None:
    assert isinstance(pydantic_data_converter, DataConverter)
    assert isinstance(pydantic_data_converter.payload_converter, PydanticPayloadConverter)
    assert PydanticJSONPlainPayloadConverter.encoding == "json/plain"


def test_to_json_options_exclude_unset_leaves_out_fields_never_set() -> None:
    from stalwart.contrib.pydantic import ToJsonOptions

    class Draft(BaseModel):
        title: str
        note: str = "none"

    draft = Draft(title="t")
    assert json.loads(PydanticPayloadConverter().to_payload(draft).data) == \
        {"title": "t", "note": "none"}
    sparse = PydanticPayloadConverter(ToJsonOptions(exclude_unset=True))
    assert json.loads(sparse.to_payload(draft).data) == {"title": "t"}
    assert sparse.from_payload(sparse.to_payload(draft), Draft) == draft
    with pytest.raises(TypeError, match="to_json_options must be a ToJsonOptions"):
        PydanticPayloadConverter({"exclude_unset": True})  # type: ignore[arg-type]
