"""record_order and record_orders against a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderActivities
from core.contracts.messages import OrderPlaced, RecordOrderInput, RecordOrdersInput
from core.store.models import Client

T0 = datetime(2025, 3, 1, 9, tzinfo=UTC)


def order(client_id: str, day: int, amount: str = "20.00", currency: str = "USD") -> OrderPlaced:
    return OrderPlaced(
        order_id=f"{client_id}-{day}",
        placed_at=T0 + timedelta(days=day),
        currency=currency,
        amount=Decimal(amount),
    )


async def test_record_orders_inserts_each_once_and_refreshes_the_aggregates_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    activities = OrderActivities(sessions)
    history = [order("c-batch", d, f"{10 + d}.50") for d in (0, 31, 62, 93)]
    first = await ActivityEnvironment().run(
        activities.record_orders, RecordOrdersInput(client_id="c-batch", orders=history)
    )
    assert (first.inserted, first.order_count, first.last_order_at) == (4, 4, history[-1].placed_at)

    # A retried activity, or a re-run import overlapping the first: only the new order lands.
    again = await ActivityEnvironment().run(
        activities.record_orders,
        RecordOrdersInput(client_id="c-batch", orders=[*history[2:], order("c-batch", 124, "5.00", "EUR")]),
    )
    assert (again.inserted, again.order_count) == (1, 5)
    single = await ActivityEnvironment().run(
        activities.record_order, RecordOrderInput(client_id="c-batch", order=history[0])
    )
    assert (single.inserted, single.order_count) == (False, 5)

    async with sessions() as session:
        client = await session.get(Client, "c-batch")
        assert client is not None
        assert client.order_count == 5
        assert client.total_spend_minor == 1050 + 4150 + 7250 + 10350 + 500
        assert client.first_order_at is not None
        assert client.first_order_at.replace(tzinfo=UTC) == T0
        assert client.currency == "EUR"  # the newest order's
