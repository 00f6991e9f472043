"""The ``rescore_client`` activity: score one client from their orders and record it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.orders import ensure_client
from core.contracts import ACTIVITY_RESCORE, RescoreInput, RescoreResult
from core.db import insert_ignoring_conflicts, transaction, utcnow
from core.interim_scoring import interim_score
from core.models import Client, EngagementScore, Order

# Enough history for the usual gap; the aggregate keeps older orders' count.
RECENT_ORDERS = 100


class ScoringActivities:
    """Scoring, built with the session factory it reads and writes through."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=ACTIVITY_RESCORE)
    async def rescore_client(self, input: RescoreInput) -> RescoreResult:
        """Score as of ``input.now``; one ``engagement_scores`` row per (client, scored_at)."""
        async with transaction(self._sessions) as session:
            await ensure_client(session, input.client_id)
            times = (
                await session.scalars(
                    select(Order.placed_at)
                    .where(Order.client_id == input.client_id)
                    .order_by(Order.placed_at.desc())
                    .limit(RECENT_ORDERS)
                )
            ).all()
            # INTERIM: core.scoring (issue 3) replaces this rule; see core/interim_scoring.py.
            scored = interim_score(list(times), input.now)
            result = RescoreResult(
                score=scored.score,
                tier=scored.tier,
                segment=scored.segment,
                reasons=scored.reasons,
                next_check_at=scored.next_check_at,
            )
            await _record(session, input, result)
        return result


async def _record(session: AsyncSession, input: RescoreInput, result: RescoreResult) -> None:
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
                "reasons": result.reasons,
                "model_version": result.model_version,
            },
            ["client_id", "scored_at"],
        )
    )
    await session.execute(
        update(Client)
        .where(Client.id == input.client_id)
        .values(score=result.score, tier=result.tier, segment=result.segment, updated_at=utcnow())
    )
