"""Request and response models of the order routes (``api/routes/orders.py``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from api.batches import KeepInvalid
from api.errors import FieldError
from api.text_rules import Timestamp, no_nul
from core.contracts.messages import CLIENT_ID_PATTERN, ClientId, OrderItem, OrderPlaced
from core.domain.money import CURRENCIES, exponent

ClientIdPath = Annotated[
    str, Path(pattern=CLIENT_ID_PATTERN, description="The retailer's client id", examples=["c-1001"])
]
BATCH_MAX = 1000

ORDER_EXAMPLE = {
    "order_id": "o-123",
    "placed_at": "2026-01-05T10:00:00Z",
    "amount": "79.00",
    "currency": "USD",
    "items": [{"sku": "SKU-42", "category": "knitwear", "kept": True}],
}
BATCH_EXAMPLE = {
    "orders": [
        {"client_id": "c-1001", **ORDER_EXAMPLE},
        {
            "client_id": "c-1002",
            "order_id": "o-124",
            "placed_at": "2026-01-06T08:00:00+01:00",
            "amount": "20.50",
            "currency": "EUR",
        },
    ]
}


class OrderAccepted(BaseModel):
    client_id: str
    order_id: str
    workflow_id: str
    status: str = "accepted"


STRICT = ConfigDict(frozen=True, extra="forbid")
# The fraction each currency's minor unit allows: trailing zeros are fine ("79.000" USD).
FRACTION_BY_EXPONENT = {0: r"(\.0{1,3})?", 2: r"(\.[0-9]{1,2}0?)?", 3: r"(\.[0-9]{1,3})?"}


def _amount_text(digits: int) -> str:
    """An amount as text: digits, then the fraction (no sign, exponent or spaces)."""
    return f"^(0|[1-9][0-9]{{0,10}}){FRACTION_BY_EXPONENT[digits]}$"


AMOUNT_TEXT = _amount_text(3)  # the form any currency's amount takes
AMOUNT_LIMIT = 100_000_000_000  # at most 14 digits in all, three of them after the point
AMOUNT_NUMBER = {"type": "number", "minimum": 0, "exclusiveMaximum": AMOUNT_LIMIT}


def _amount_schema(digits: int) -> dict[str, Any]:
    text = {"type": "string", "pattern": _amount_text(digits)}
    number = (
        {**AMOUNT_NUMBER, "type": "integer"} if digits == 0 else {**AMOUNT_NUMBER, "multipleOf": 10**-digits}
    )
    return {"anyOf": [number, text]}


def _order_schema(schema: dict[str, Any]) -> None:
    """What an order's amount may be, said as precisely as the API checks it: a number or a
    decimal string, with no more decimals than the currency's minor unit."""
    properties = schema["properties"]
    properties["currency"] = {**properties["currency"], "enum": sorted(CURRENCIES)}
    properties["amount"] = {**_amount_schema(3), "title": "Amount"}
    schema["anyOf"] = [
        {
            "properties": {
                "currency": {"enum": sorted(c for c in CURRENCIES if exponent(c) == digits)},
                "amount": _amount_schema(digits),
            }
        }
        for digits in FRACTION_BY_EXPONENT
    ]


class OrderItemIn(OrderItem):
    model_config = STRICT
    kept: StrictBool | None = None  # "kept": 0 is a 422, not False

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)


class OrderIn(OrderPlaced):
    """The order as the API takes it: strict (an unknown field is a 422 naming it), unlike the
    signal ``OrderPlaced``, which tolerates fields a newer sender adds."""

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra=_order_schema)
    placed_at: Timestamp
    items: list[OrderItemIn] = Field(default_factory=list, max_length=200)  # type: ignore[assignment]

    def order(self) -> OrderPlaced:
        return OrderPlaced.model_validate(self.model_dump(exclude={"client_id"}))

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)

    @field_validator("amount", mode="before")
    @classmethod
    def _amount_as_documented(cls, value: Any) -> Any:
        # "-5" is the right form but negative: pydantic's "greater than or equal to 0" says so.
        text = isinstance(value, str) and not re.fullmatch(AMOUNT_TEXT, value.removeprefix("-"))
        if isinstance(value, bool) or text:
            raise ValueError('a number, or a decimal string such as "79.00"')
        if isinstance(value, (int, float)) and value >= AMOUNT_LIMIT:
            raise ValueError("less than 100,000,000,000 is needed")
        return value


class BatchOrder(OrderIn):
    """One order of a batch: the order's fields plus its client."""

    client_id: ClientId


# Each item validates on its own: a bad item becomes an InvalidItem, not a 422 for the batch.
LenientOrder = Annotated[BatchOrder, KeepInvalid]


class OrderBatch(BaseModel):
    orders: list[LenientOrder] = Field(min_length=1, max_length=BATCH_MAX)


class ItemResult(BaseModel):
    index: int
    client_id: str | None = None
    order_id: str | None = None
    status: Literal["accepted", "invalid", "unavailable"]
    errors: list[FieldError] = []


class BatchResult(BaseModel):
    accepted: int
    invalid: int
    unavailable: int
    results: list[ItemResult]
