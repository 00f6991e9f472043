"""The API's own database writes: profiles and opt-outs (idempotent, keyed by client id).

Orders are never written here: they go through the workflow, which records them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clients import ensure_client as ensure_client_row
from core.contracts import ProfileUpdated
from core.db import insert_ignoring_conflicts, transaction, utcnow
from core.models import Client, Suppression

SUPPRESSION_REASON = "unsubscribed"


async def ensure_client(session: AsyncSession, client_id: str) -> Client:
    """The client's row, created empty if this is the first we hear of them."""
    await ensure_client_row(session, client_id)
    client = await session.get(Client, client_id, populate_existing=True)
    assert client is not None
    return client


def apply_profile(client: Client, profile: ProfileUpdated) -> bool:
    """Copy the fields the profile sets; ``True`` if anything changed."""
    changed = False
    for name, value in profile.model_dump(exclude_none=True).items():
        if getattr(client, name) != value:
            setattr(client, name, value)
            changed = True
    if changed:
        client.updated_at = utcnow()
    return changed


async def record_opt_out(sessions: async_sessionmaker[AsyncSession], client_id: str) -> datetime:
    """Set ``clients.unsubscribed_at`` (first time only) and the suppression row; return the time."""
    now = utcnow()
    async with transaction(sessions) as session:
        client = await ensure_client(session, client_id)
        if client.unsubscribed_at is None:
            client.unsubscribed_at = now
            client.updated_at = now
        await session.execute(
            insert_ignoring_conflicts(
                session.get_bind().dialect.name,
                Suppression.__table__,
                {
                    "client_id": client_id,
                    "email": client.email,
                    "reason": SUPPRESSION_REASON,
                    "created_at": now,
                },
                ["client_id", "reason"],
            )
        )
        return client.unsubscribed_at
