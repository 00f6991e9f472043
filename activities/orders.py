"""Activities that record what clients do: orders and profiles."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.clients import ensure_client, scheduled_at
from core.contracts import RecordOrderInput, RecordOrderResult
from core.db import insert_ignoring_conflicts, transaction, utcnow
from core.metrics import ORDERS_RECORDED
from core.models import Client, Order


class OrderActivities:
    """Order recording, built with the session factory it writes through."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="record_order")
    async def record_order(self, input: RecordOrderInput) -> RecordOrderResult:
        """Insert the order once (by order id) and refresh the client's aggregates."""
        order = input.order
        async with transaction(self._sessions) as session:
            await ensure_client(session, input.client_id, scheduled_at())
            inserted = await session.execute(
                insert_ignoring_conflicts(
                    session.get_bind().dialect.name,
                    Order.__table__,
                    {
                        "order_id": order.order_id,
                        "client_id": input.client_id,
                        "placed_at": order.placed_at,
                        "amount_minor": order.amount_minor(),
                        "currency": order.currency,
                        "items": [item.model_dump(mode="json") for item in order.items],
                        "recorded_at": utcnow(),
                    },
                    ["order_id"],
                )
            )
            count, total, first, last = (
                await session.execute(
                    select(
                        func.count(Order.id),
                        func.coalesce(func.sum(Order.amount_minor), 0),
                        func.min(Order.placed_at),
                        func.max(Order.placed_at),
                    ).where(Order.client_id == input.client_id)
                )
            ).one()
            await session.execute(
                update(Client)
                .where(Client.id == input.client_id)
                .values(
                    order_count=count,
                    total_spend_minor=total,
                    first_order_at=first,
                    last_order_at=last,
                    currency=order.currency,
                    updated_at=utcnow(),
                )
            )
        was_inserted = bool(cast(CursorResult[Any], inserted).rowcount)
        ORDERS_RECORDED.labels("inserted" if was_inserted else "duplicate").inc()
        return RecordOrderResult(
            inserted=was_inserted,
            order_count=int(count),
            last_order_at=last,
        )
