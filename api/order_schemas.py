"""Request and response models of the order routes (``api/routes/orders.py``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from api.batches import KeepInvalid
from api.errors import FieldError
from api.text_rules import no_nul
from core.contracts.messages import CLIENT_ID_PATTERN, ClientId, OrderItem, OrderPlaced

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

    model_config = STRICT
    items: list[OrderItemIn] = Field(default_factory=list, max_length=200)  # type: ignore[assignment]

    def order(self) -> OrderPlaced:
        return OrderPlaced.model_validate(self.model_dump(exclude={"client_id"}))

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)


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
