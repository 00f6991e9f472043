"""The client row every writer needs first: created empty the first time a client is heard of."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import insert_ignoring_conflicts, utcnow
from core.models import Client


async def ensure_client(session: AsyncSession, client_id: str) -> None:
    """Insert the client's row unless it exists (idempotent, safe under concurrent writers)."""
    now = utcnow()
    await session.execute(
        insert_ignoring_conflicts(
            session.get_bind().dialect.name,
            Client.__table__,
            {
                "id": client_id,
                "order_count": 0,
                "total_spend_minor": 0,
                "holdout": False,
                "created_at": now,
                "updated_at": now,
            },
            ["id"],
        )
    )
