"""Activities that record what clients do: orders and profiles."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.contracts.messages import (
    OrderPlaced,
    RecordOrderInput,
    RecordOrderResult,
    RecordOrdersInput,
    RecordOrdersResult,
)
from core.runtime.metrics import ORDERS_RECORDED
from core.store.clients import ensure_client, scheduled_at
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.models import Client, Order


class OrderActivities:
    """Order recording, built with the session factory it writes through."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="record_order")
    async def record_order(self, input: RecordOrderInput) -> RecordOrderResult:
        """Insert the order once (by order id) and refresh the client's aggregates."""
        inserted, count, last = await self._record(input.client_id, [input.order])
        return RecordOrderResult(inserted=inserted == 1, order_count=count, last_order_at=last)

    @activity.defn(name="record_orders")
    async def record_orders(self, input: RecordOrdersInput) -> RecordOrdersResult:
        """Insert a client's pending orders (each once, by order id) in one transaction and
        refresh the aggregates once: an imported history or an order storm costs one activity."""
        inserted, count, last = await self._record(input.client_id, input.orders)
        return RecordOrdersResult(inserted=inserted, order_count=count, last_order_at=last)

    async def _record(self, client_id: str, orders: list[OrderPlaced]) -> tuple[int, int, datetime | None]:
        """(orders inserted, the client's order count, its last order time) after the insert."""
        now = utcnow()
        async with transaction(self._sessions) as session:
            await ensure_client(session, client_id, scheduled_at())
            # RETURNING counts the rows that went in: a multi-row insert's rowcount is not
            # reliable across drivers (psycopg reported 0 for four new orders).
            inserted = await session.execute(
                insert_ignoring_conflicts(
                    session.get_bind().dialect.name,
                    Order.__table__,
                    [
                        {
                            "order_id": order.order_id,
                            "client_id": client_id,
                            "placed_at": order.placed_at,
                            "amount_minor": order.amount_minor(),
                            "currency": order.currency,
                            "items": [item.model_dump(mode="json") for item in order.items],
                            "recorded_at": now,
                        }
                        for order in orders
                    ],
                    ["order_id"],
                ).returning(Order.__table__.c.order_id)
            )
            rows = len(inserted.all())
            count, total, first, last = (
                await session.execute(
                    select(
                        func.count(Order.id),
                        func.coalesce(func.sum(Order.amount_minor), 0),
                        func.min(Order.placed_at),
                        func.max(Order.placed_at),
                    ).where(Order.client_id == client_id)
                )
            ).one()
            # The client's currency is its newest order's: an older one arriving late keeps it.
            newest = max(orders, key=lambda o: o.placed_at)
            latest = {"currency": newest.currency} if last is None or newest.placed_at >= _aware(last) else {}
            await session.execute(
                update(Client)
                .where(Client.id == client_id)
                .values(
                    order_count=count,
                    total_spend_minor=total,
                    first_order_at=first,
                    last_order_at=last,
                    updated_at=utcnow(),
                    **latest,
                )
            )
        ORDERS_RECORDED.labels("inserted").inc(rows)
        ORDERS_RECORDED.labels("duplicate").inc(len(orders) - rows)
        return rows, int(count), last


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their (UTC) zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
