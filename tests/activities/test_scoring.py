"""The rescore_client activity against a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import ActivityEnvironment

from activities.orders import OrderActivities
from activities.scoring import ScoringActivities
from core.contracts.messages import OrderPlaced, RecordOrderInput
from core.contracts.scoring import RescoreInput
from core.domain.policy import in_holdout
from core.store.models import Client, EngagementScore

T0 = datetime(2026, 1, 1, 10, tzinfo=UTC)


async def record(sessions: async_sessionmaker[AsyncSession], client_id: str, days: list[int]) -> None:
    orders = OrderActivities(sessions)
    for d in days:
        order = OrderPlaced(
            order_id=f"{client_id}-{d}", placed_at=T0 + timedelta(days=d), currency="USD", amount=Decimal(20)
        )
        await ActivityEnvironment().run(
            orders.record_order, RecordOrderInput(client_id=client_id, order=order)
        )


async def test_rescore_records_score_once_and_updates_client(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await record(sessions, "c-1", [0, 30, 60])
    scoring = ScoringActivities(sessions)
    now = T0 + timedelta(days=200)
    request = RescoreInput(client_id="c-1", now=now)
    first = await ActivityEnvironment().run(scoring.rescore_client, request)
    again = await ActivityEnvironment().run(scoring.rescore_client, request)  # a retry
    assert first == again
    assert first.tier == "at_risk"
    # Until a refit stores fitted parameters, the model's defaults score the client.
    assert first.model_is_default
    assert first.next_check_at is not None
    assert first.next_check_at > now
    assert first.reasons[0] == "no order for 140 days; usually orders every 30"
    assert any("model defaults" in r for r in first.reasons)
    async with sessions() as session:
        rows = (
            await session.scalars(select(EngagementScore).where(EngagementScore.client_id == "c-1"))
        ).all()
        client = await session.get(Client, "c-1")
    assert [(r.scored_at, r.tier) for r in rows] == [(now, "at_risk")]
    assert client is not None
    assert (client.tier, client.score) == ("at_risk", first.score)


async def test_rescore_unknown_client_is_created_active(sessions: async_sessionmaker[AsyncSession]) -> None:
    result = await ActivityEnvironment().run(
        ScoringActivities(sessions).rescore_client, RescoreInput(client_id="c-new", now=T0)
    )
    assert (result.tier, result.next_check_at) == ("active", None)
    async with sessions() as session:
        assert (await session.get(Client, "c-new")) is not None


async def test_rescore_stores_expected_orders_and_value_and_the_holdout_arm(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    held = next(f"c-h{i}" for i in range(1000) if in_holdout(f"c-h{i}", 0.5))
    treated = next(f"c-t{i}" for i in range(1000) if not in_holdout(f"c-t{i}", 0.5))
    for cid in (held, treated):
        await record(sessions, cid, [0, 30, 60])
        result = await ActivityEnvironment().run(
            ScoringActivities(sessions, holdout_fraction=0.5).rescore_client,
            RescoreInput(client_id=cid, now=T0 + timedelta(days=90)),
        )
        assert result.expected_orders is not None
        assert result.expected_orders > 0
        assert result.expected_value is not None
        assert result.expected_value > 0
    async with sessions() as session:
        row = await session.scalar(select(EngagementScore).where(EngagementScore.client_id == held))
        arms = {
            c.id: c.holdout
            for c in await session.scalars(select(Client).where(Client.id.in_([held, treated])))
        }
    assert row is not None
    assert row.expected_value is not None
    assert arms == {held: True, treated: False}
