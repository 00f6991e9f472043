"""Rows for activity tests: a client with orders, an email at a given status."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.store.db import transaction
from core.store.models import Client, Email, EmailEvent, Order
from tests.helpers import unique_id

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


async def add_client(
    sessions: async_sessionmaker[AsyncSession],
    *,
    client_id: str | None = None,
    email: str | None = "anna@example.org",
    first_name: str | None = "Anna",
    style_notes: str | None = None,
    categories: tuple[str, ...] = ("knitwear",),
    **fields: Any,
) -> str:
    client_id = client_id or unique_id("c")
    async with transaction(sessions) as session:
        session.add(
            Client(
                id=client_id,
                email=email,
                first_name=first_name,
                style_notes=style_notes,
                order_count=len(categories),
                total_spend_minor=0,
                holdout=False,
                first_order_at=datetime(2025, 1, 10, tzinfo=UTC),
                last_order_at=datetime(2025, 11, 10, tzinfo=UTC),
                created_at=NOW,
                updated_at=NOW,
                **fields,
            )
        )
        await session.flush()
        for n, category in enumerate(categories):
            session.add(
                Order(
                    order_id=unique_id("o"),
                    client_id=client_id,
                    placed_at=datetime(2025, 1 + n, 10, tzinfo=UTC),
                    amount_minor=7900,
                    currency="USD",
                    items=[{"sku": f"SKU-{n}", "category": category, "kept": True}],
                    recorded_at=NOW,
                )
            )
    return client_id


async def add_email(
    sessions: async_sessionmaker[AsyncSession],
    client_id: str,
    *,
    status: str = "approved",
    subject: str = "New knitwear for you",
    preheader: str = "Picked for you",
    body_text: str = "Hi Anna,\n\nWe have new knitwear we think you would love.\n\nThe Rekindle team",
    **fields: Any,
) -> str:
    email_id = fields.pop("email_id", None) or unique_id("e")
    async with transaction(sessions) as session:
        session.add(
            Email(
                id=email_id,
                client_id=client_id,
                status=status,
                subject=subject,
                preheader=preheader,
                body_text=body_text,
                holdout=False,
                created_at=NOW,
                updated_at=NOW,
                **fields,
            )
        )
    return email_id


async def get_email(sessions: async_sessionmaker[AsyncSession], email_id: str) -> Email:
    async with sessions() as session:
        row = await session.get(Email, email_id)
        assert row is not None
        return row


async def events(sessions: async_sessionmaker[AsyncSession], email_id: str) -> list[str]:
    async with sessions() as session:
        rows = await session.scalars(
            select(EmailEvent).where(EmailEvent.email_id == email_id).order_by(EmailEvent.id)
        )
        return [e.kind for e in rows]
