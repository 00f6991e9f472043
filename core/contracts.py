"""Messages of the client workflow and contracts of its activities.

Pure pydantic models and names, importable from workflow code: the API, the
workflow and the activities all speak these, one model in and one model out.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from core.money import CURRENCIES, to_minor

CLIENT_WORKFLOW = "ClientEngagementWorkflow"
CLIENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"

ClientId = Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


def client_workflow_id(client_id: str) -> str:
    """The one workflow id per client: the entity's natural key."""
    return f"client-{client_id}"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OrderItem(Frozen):
    sku: ShortText
    category: ShortText | None = None
    kept: bool | None = None


class OrderPlaced(Frozen):
    """Signal ``order_placed``: idempotent by ``order_id``."""

    order_id: ShortText
    placed_at: AwareDatetime
    currency: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, allow_inf_nan=False)]
    items: list[OrderItem] = Field(default_factory=list, max_length=200)

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown ISO 4217 currency code {value!r}")
        return value

    @field_validator("amount")
    @classmethod
    def _fits_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        currency = info.data.get("currency")
        if currency is not None:
            to_minor(value, currency)  # 1.005 USD is not an amount
        return value

    def amount_minor(self) -> int:
        return to_minor(self.amount, self.currency)


class RecordOrderInput(Frozen):
    client_id: str
    order: OrderPlaced


class RecordOrderResult(Frozen):
    inserted: bool
    order_count: int
    last_order_at: datetime | None


class CarriedState(Frozen):
    """What a run hands to the next across continue-as-new: compact and bounded."""

    recent_order_ids: list[str] = Field(default_factory=list)
    pending_orders: list[OrderPlaced] = Field(default_factory=list)
    order_count: int = 0
    last_order_at: datetime | None = None


class ClientWorkflowInput(Frozen):
    client_id: str
    carried: CarriedState | None = None


class ClientStateView(Frozen):
    """Query ``state``: what the workflow knows right now."""

    client_id: str
    order_count: int
    last_order_at: datetime | None
    pending_orders: int
