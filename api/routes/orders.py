"""Ingest: orders forwarded by backend services to the client's workflow."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from temporalio.service import RPCError

from api import examples
from api.auth import IngestKey
from api.batches import InvalidItem, KeepInvalid
from api.deps import StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, TEMPORAL_RETRY_AFTER_SECONDS, FieldError
from core.client_workflow import TemporalUnavailable, send_order
from core.contracts import CLIENT_ID_PATTERN, ClientId, OrderItem, OrderPlaced
from core.metrics import ORDERS_ACCEPTED, ORDERS_UNAVAILABLE

router = APIRouter(prefix="/v1", tags=["ingest"])

ClientIdPath = Annotated[
    str, Path(pattern=CLIENT_ID_PATTERN, description="The retailer's client id", examples=["c-1001"])
]
BATCH_MAX = 1000
# Signal-with-starts in flight per batch: enough to hide round trips, few enough that
# one batch cannot monopolise the server.
BATCH_CONCURRENCY = 32

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


class OrderIn(OrderPlaced):
    """The order as the API takes it: strict (an unknown field is a 422 naming it), unlike the
    signal ``OrderPlaced``, which tolerates fields a newer sender adds."""

    model_config = STRICT
    items: list[OrderItemIn] = Field(default_factory=list, max_length=200)  # type: ignore[assignment]

    def order(self) -> OrderPlaced:
        return OrderPlaced.model_validate(self.model_dump(exclude={"client_id"}))


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


@router.post(
    "/clients/{client_id}/orders",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**examples.ok(examples.ACCEPTED, 202), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Ingest one order",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": ORDER_EXAMPLE}}}},
)
async def ingest_order(
    client_id: ClientIdPath, order: OrderIn, state: StateDep, _key: IngestKey
) -> OrderAccepted:
    """Forward the order to the client's workflow (starting it if needed).

    Answers 202 once Temporal has durably accepted the signal. Idempotent by
    ``order_id``: sending the same order again changes nothing.
    """
    try:
        workflow_id = await send_order(state.temporal, state.start, client_id, order.order())
    except TemporalUnavailable:
        ORDERS_UNAVAILABLE.inc()
        raise
    ORDERS_ACCEPTED.inc()
    return OrderAccepted(client_id=client_id, order_id=order.order_id, workflow_id=workflow_id)


@router.post(
    "/orders:batch",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**examples.ok(examples.BATCH, 202), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="Ingest up to 1,000 orders",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": BATCH_EXAMPLE}}}},
)
async def ingest_batch(
    batch: OrderBatch, state: StateDep, response: Response, _key: IngestKey
) -> BatchResult:
    """Forward each valid order to its client's workflow; report per item.

    A bad item is reported (``invalid``, with field reasons) and does not sink the
    batch. Items Temporal could not accept are ``unavailable``: resend them (or the
    whole batch: orders are idempotent by ``order_id``). If Temporal is unreachable
    for every valid item the answer is 503 with Retry-After.
    """
    gate = asyncio.Semaphore(BATCH_CONCURRENCY)
    results = await asyncio.gather(*(_one(state, gate, i, item) for i, item in enumerate(batch.orders)))
    counts = {s: sum(r.status == s for r in results) for s in ("accepted", "invalid", "unavailable")}
    ORDERS_ACCEPTED.inc(counts["accepted"])
    ORDERS_UNAVAILABLE.inc(counts["unavailable"])
    if counts["unavailable"]:
        if not counts["accepted"]:
            raise TemporalUnavailable()
        response.headers["Retry-After"] = str(TEMPORAL_RETRY_AFTER_SECONDS)
    return BatchResult(**counts, results=results)


async def _one(state: StateDep, gate: asyncio.Semaphore, index: int, item: Any) -> ItemResult:
    if isinstance(item, InvalidItem):
        return ItemResult(index=index, status="invalid", errors=item.fields)
    assert isinstance(item, BatchOrder)
    result = ItemResult(index=index, client_id=item.client_id, order_id=item.order_id, status="accepted")
    async with gate:
        try:
            await send_order(state.temporal, state.start, item.client_id, item.order())
        except (TemporalUnavailable, RPCError):
            result.status = "unavailable"
    return result
