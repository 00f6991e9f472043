"""Ingest: orders forwarded by backend services to the client's workflow."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel

from api.deps import SettingsDep, TemporalDep
from api.errors import ERROR_RESPONSES
from api.temporal_calls import send_order
from core.contracts import CLIENT_ID_PATTERN, OrderPlaced

router = APIRouter(prefix="/v1", tags=["ingest"])

ClientIdPath = Annotated[
    str, Path(pattern=CLIENT_ID_PATTERN, description="The retailer's client id", examples=["c-1001"])
]

ORDER_EXAMPLE = {
    "order_id": "o-123",
    "placed_at": "2026-01-05T10:00:00Z",
    "amount": "79.00",
    "currency": "USD",
    "items": [{"sku": "SKU-42", "category": "knitwear", "kept": True}],
}


class OrderAccepted(BaseModel):
    client_id: str
    order_id: str
    workflow_id: str
    status: str = "accepted"


@router.post(
    "/clients/{client_id}/orders",
    status_code=status.HTTP_202_ACCEPTED,
    responses=ERROR_RESPONSES,
    summary="Ingest one order",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": ORDER_EXAMPLE}}}},
)
async def ingest_order(
    client_id: ClientIdPath, order: OrderPlaced, temporal: TemporalDep, settings: SettingsDep
) -> OrderAccepted:
    """Forward the order to the client's workflow (starting it if needed).

    Answers 202 once Temporal has durably accepted the signal. Idempotent by
    ``order_id``: sending the same order again changes nothing.
    """
    workflow_id = await send_order(temporal, settings, client_id, order)
    return OrderAccepted(client_id=client_id, order_id=order.order_id, workflow_id=workflow_id)
