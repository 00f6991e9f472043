"""Rows the API reads but other parts of Rekindle write (scores, emails): made directly."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.db import utcnow
from core.store.models import Client, Email, EmailEvent, EngagementScore


async def add_client(sessions: async_sessionmaker[AsyncSession], client_id: str, **fields: Any) -> None:
    now = utcnow()
    values: dict[str, Any] = {
        "order_count": 0,
        "total_spend_minor": 0,
        "holdout": False,
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    async with sessions() as session, session.begin():
        session.add(Client(id=client_id, **values))


async def add_score(
    sessions: async_sessionmaker[AsyncSession], client_id: str, at: datetime, score: float, tier: str
) -> None:
    async with sessions() as session, session.begin():
        session.add(
            EngagementScore(
                client_id=client_id,
                scored_at=at,
                score=score,
                tier=tier,
                segment="at_risk",
                p_alive=0.5,
                p_order_again=0.3,
                reasons=["no order for 94 days; usually orders every 35"],
            )
        )


async def add_email(
    sessions: async_sessionmaker[AsyncSession],
    email_id: str,
    client_id: str,
    status: str = "pending_approval",
    created_at: datetime | None = None,
    **fields: Any,
) -> None:
    at = created_at or utcnow()
    async with sessions() as session, session.begin():
        session.add(
            Email(
                id=email_id,
                client_id=client_id,
                status=status,
                subject="We miss you",
                preheader="Your size is back",
                body_text="Hi Anna, it has been a while.",
                generator="template",
                prompt_version="t1",
                guardrails={"verdicts": [{"name": "length", "passed": True, "detail": ""}]},
                holdout=False,
                created_at=at,
                updated_at=at,
                **fields,
            )
        )
        session.add(EmailEvent(email_id=email_id, client_id=client_id, kind="drafted", at=at))
        session.add(
            EmailEvent(
                email_id=email_id, client_id=client_id, kind="viewed", at=at + timedelta(seconds=1), actor="x"
            )
        )
