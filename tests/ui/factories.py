"""Rows for dashboard tests, written straight into the read model.

The client workflow and the drafting/sending activities fill these tables in
production; the dashboard only reads them, so tests seed them directly.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.db import transaction
from core.store.models import Client, Email, EmailEvent, EngagementScore, Order

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
_seq = itertools.count(1)


def client_row(client_id: str, **fields: Any) -> Client:
    values: dict[str, Any] = {
        "email": f"{client_id}@example.com",
        "first_name": "Ada",
        "last_name": f"Client {client_id}",
        "time_zone": "Europe/Paris",
        "order_count": 0,
        "total_spend_minor": 0,
        "currency": "USD",
        "score": 50.0,
        "tier": "active",
        "segment": "loyal",
        "holdout": False,
        "created_at": NOW - timedelta(days=400),
        "updated_at": NOW,
    }
    values.update(fields)
    return Client(id=client_id, **values)


def order_row(client_id: str, placed_at: datetime, amount_minor: int = 7900) -> Order:
    n = next(_seq)
    return Order(
        order_id=f"{client_id}-o{n}",
        client_id=client_id,
        placed_at=placed_at,
        amount_minor=amount_minor,
        currency="USD",
        items=[{"sku": "SKU-1", "category": "knitwear", "kept": True}],
        recorded_at=placed_at,
    )


def score_row(
    client_id: str, scored_at: datetime, score: float, tier: str, reasons: list[str]
) -> EngagementScore:
    return EngagementScore(
        client_id=client_id,
        scored_at=scored_at,
        score=score,
        tier=tier,
        segment="at_risk" if tier == "at_risk" else "loyal",
        p_alive=0.8,
        p_order_again=score / 100,
        reasons=reasons,
        model_version=1,
    )


def email_row(client_id: str, email_id: str, status: str = "pending_approval", **fields: Any) -> Email:
    values: dict[str, Any] = {
        "subject": "We miss you, Ada",
        "preheader": "New knitwear for the cold days",
        "body_text": "Hello Ada,\n\nIt has been a while. Our new knitwear is in.\n\nUnsubscribe: https://rekindle.localhost/u/x",
        "body_html": '<p style="color:#333">Hello <b>Ada</b>,</p><p>It has been a while.</p>',
        "generator": "template",
        "prompt_version": "t1",
        "guardrails": [
            {"name": "length", "passed": True, "detail": ""},
            {"name": "unsubscribe_footer", "passed": True, "detail": ""},
            {"name": "no_invented_prices", "passed": True, "detail": ""},
        ],
        "holdout": status == "holdout",
        "created_at": NOW - timedelta(days=2),
        "updated_at": NOW - timedelta(days=2),
    }
    values.update(fields)
    return Email(id=email_id, client_id=client_id, status=status, **values)


def event_row(email: Email, kind: str, at: datetime, actor: str | None = None, **detail: Any) -> EmailEvent:
    return EmailEvent(
        email_id=email.id, client_id=email.client_id, kind=kind, at=at, actor=actor, detail=detail or None
    )


async def add(sessions: async_sessionmaker[AsyncSession], *rows: Any) -> None:
    """Insert rows in one transaction, parents first (the order given)."""
    async with transaction(sessions) as session:
        for row in rows:
            session.add(row)
            await session.flush()


def at_risk_story(client_id: str, email_id: str, **client_fields: Any) -> list[Any]:
    """A client who ordered monthly, went quiet, turned at risk and has a draft waiting."""
    client = client_row(
        client_id,
        order_count=6,
        total_spend_minor=6 * 7900,
        first_order_at=NOW - timedelta(days=300),
        last_order_at=NOW - timedelta(days=94),
        score=22.0,
        tier="at_risk",
        segment="at_risk",
        **client_fields,
    )
    orders = [order_row(client_id, NOW - timedelta(days=300 - 35 * i)) for i in range(6)]
    scores = [
        score_row(client_id, NOW - timedelta(days=120), 81, "active", ["ordered 26 days ago"]),
        score_row(client_id, NOW - timedelta(days=60), 55, "cooling", ["no order for 34 days"]),
        score_row(
            client_id,
            NOW - timedelta(days=10),
            22,
            "at_risk",
            ["no order for 94 days, usually orders every 35"],
        ),
    ]
    email = email_row(client_id, email_id)
    drafted = event_row(email, "drafted", email.created_at, actor="template")
    return [client, *orders, *scores, email, drafted]


def uplift_rows(prefix: str, per_arm: int = 40) -> list[Any]:
    """Clients emailed (half reorder within 20 days) and held out (a quarter reorder), long ago."""
    rows: list[Any] = []
    start = NOW - timedelta(days=400)
    for i in range(2 * per_arm):
        arm = "sent" if i < per_arm else "holdout"
        cid = f"{prefix}-{i}"
        drafted = start + timedelta(days=i)
        rows.append(client_row(cid, holdout=arm == "holdout", first_name="Uplift", last_name=f"Sample {i}"))
        rows.append(email_row(cid, f"{prefix}-e{i}", status=arm, created_at=drafted))
        if (arm == "sent" and i % 2 == 0) or (arm == "holdout" and i % 4 == 0):
            rows.append(order_row(cid, drafted + timedelta(days=20)))
    return rows
