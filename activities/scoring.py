"""The ``rescore_client`` activity: score one client from their orders and record it."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.contracts.messages import ACTIVITY_RESCORE
from core.contracts.scoring import RescoreInput, RescoreResult
from core.domain.money import from_minor
from core.domain.policy import in_holdout
from core.domain.scoring.params import ModelParameters, Unit
from core.domain.scoring.schema import ClientSummary
from core.domain.scoring.score import next_tier_change, score_client
from core.runtime.metrics import RESCORES
from core.store.clients import DEFAULT_HOLDOUT_FRACTION, ensure_client, scheduled_at
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.model_store import latest_parameters
from core.store.models import Client, EngagementScore, Order
from core.store.outbox import emit


class ScoringActivities:
    """Scoring, built with the session factory it reads and writes through."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        unit: Unit = "days",
        holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    ) -> None:
        self._sessions = sessions
        self._unit: Unit = unit
        self._holdout_fraction = holdout_fraction

    @activity.defn(name=ACTIVITY_RESCORE)
    async def rescore_client(self, input: RescoreInput) -> RescoreResult:
        """Score as of ``input.now``; one ``engagement_scores`` row per (client, scored_at)."""
        async with transaction(self._sessions) as session:
            holdout = in_holdout(input.client_id, self._holdout_fraction)
            await ensure_client(session, input.client_id, scheduled_at(), holdout=holdout)
            rows = (
                await session.execute(
                    select(Order.placed_at, Order.amount_minor, Order.currency).where(
                        Order.client_id == input.client_id
                    )
                )
            ).all()
            summary = client_summary([(r.placed_at, from_minor(r.amount_minor, r.currency)) for r in rows])
            if summary is None:
                result = RescoreResult(
                    score=0.0, tier="active", segment=None, reasons=["no orders yet"], next_check_at=None
                )
            else:
                params = await latest_parameters(session, self._unit)
                result = rescore(summary, params, input)
            await _record(session, input, result, holdout)
        RESCORES.labels(result.tier).inc()
        return result


def client_summary(orders: Sequence[tuple[datetime, Decimal]]) -> ClientSummary | None:
    """Orders on the same UTC calendar day are one purchase occasion (the model's convention)."""
    if not orders:
        return None
    by_day: dict[date, float] = defaultdict(float)
    for placed_at, amount in orders:
        by_day[placed_at.astimezone(UTC).date()] += float(amount)
    days = sorted(by_day)
    return ClientSummary.from_totals(
        first_order_date=days[0],
        last_order_date=days[-1],
        occasions=len(days),
        total_value=sum(by_day.values()),
        first_occasion_value=by_day[days[0]],
    )


def rescore(summary: ClientSummary, params: ModelParameters, input: RescoreInput) -> RescoreResult:
    """The fitted model's view of one client, and when its tier would next change."""
    scored = score_client(summary, params, horizon_days=input.horizon_days, now=input.now)
    change = next_tier_change(summary, params, horizon_days=input.horizon_days, now=input.now)
    next_check = change.at if change is not None else None
    if next_check is not None and next_check <= input.now:
        next_check = input.now + timedelta(days=1)
    return RescoreResult(
        score=float(scored.score),
        tier=scored.tier.value,
        segment=scored.segment,
        reasons=scored.reasons,
        p_alive=scored.p_alive,
        p_order_again=scored.p_order_again,
        model_version=params.version or None,
        model_is_default=params.is_default,
        next_check_at=next_check,
        expected_orders=_finite(scored.expected_orders),
        expected_value=_finite(scored.expected_value),
    )


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 4)


async def _record(session: AsyncSession, input: RescoreInput, result: RescoreResult, holdout: bool) -> None:
    """Append the score (a retry inserts nothing) and refresh the client's listing columns."""
    await session.execute(
        insert_ignoring_conflicts(
            session.get_bind().dialect.name,
            EngagementScore.__table__,
            {
                "client_id": input.client_id,
                "scored_at": input.now,
                "score": result.score,
                "tier": result.tier,
                "segment": result.segment,
                "p_alive": result.p_alive,
                "p_order_again": result.p_order_again,
                "expected_orders": result.expected_orders,
                "expected_value": result.expected_value,
                "reasons": result.reasons,
                "model_version": result.model_version,
            },
            ["client_id", "scored_at"],
        )
    )
    previous = await session.scalar(select(Client.tier).where(Client.id == input.client_id))
    await session.execute(
        update(Client)
        .where(Client.id == input.client_id)
        .values(
            score=result.score, tier=result.tier, segment=result.segment, holdout=holdout, updated_at=utcnow()
        )
    )
    if previous is not None and previous != result.tier:
        await emit(
            session,
            "client.tier_changed",
            key=f"{input.client_id}|{input.now.isoformat()}",
            occurred_at=input.now,
            client_id=input.client_id,
            data={"from_tier": previous, "to_tier": result.tier, "score": round(result.score, 1)},
        )
