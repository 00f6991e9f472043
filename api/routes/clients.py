"""Clients: what the read model knows about one client."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import SessionDep
from api.errors import ERROR_RESPONSES, ApiError
from api.routes.orders import ClientIdPath
from core.models import Client
from core.money import from_minor

router = APIRouter(prefix="/v1", tags=["clients"])


class ClientOut(BaseModel):
    client_id: str
    order_count: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    total_spend: Decimal | None
    currency: str | None
    score: float | None
    tier: str | None
    segment: str | None


@router.get("/clients/{client_id}", responses=ERROR_RESPONSES, summary="One client")
async def get_client(client_id: ClientIdPath, session: SessionDep) -> ClientOut:
    """The client's aggregates as recorded in the database."""
    client = await session.get(Client, client_id)
    if client is None:
        raise ApiError(404, "not_found", f"no client {client_id!r}")
    spend = from_minor(client.total_spend_minor, client.currency) if client.currency else None
    return ClientOut(
        client_id=client.id,
        order_count=client.order_count,
        first_order_at=client.first_order_at,
        last_order_at=client.last_order_at,
        total_spend=spend,
        currency=client.currency,
        score=client.score,
        tier=client.tier,
        segment=client.segment,
    )
