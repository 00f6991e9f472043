"""The client row every writer needs first: created empty the first time a client is heard of."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.domain.policy import in_holdout
from core.store.db import insert_ignoring_conflicts, utcnow
from core.store.models import Client, ErasedClient

CLIENT_ERASED = "ClientErased"


def erased_hash(client_id: str) -> str:
    """How an erasure remembers the client for a week: a hash, not the id."""
    return "sha256:" + hashlib.sha256(f"rekindle/erased/{client_id}".encode()).hexdigest()


def scheduled_at() -> datetime | None:
    """When the running activity was first scheduled (None outside an activity)."""
    return activity.info().scheduled_time if activity.in_activity() else None


# The settings' default (PolicySettings.holdout_fraction): the arm is a pure function of the id.
DEFAULT_HOLDOUT_FRACTION = 0.10


async def ensure_client(
    session: AsyncSession,
    client_id: str,
    scheduled_at: datetime | None = None,
    *,
    holdout: bool | None = None,
) -> None:
    """Insert the client's row unless it exists (idempotent, safe under concurrent writers).

    An activity passes when it was scheduled: one scheduled before the client was erased
    belongs to the terminated workflow and fails here, its transaction writing nothing.
    """
    if scheduled_at is not None:
        erased_at = await session.scalar(
            select(ErasedClient.erased_at).where(ErasedClient.client_hash == erased_hash(client_id))
        )
        if erased_at is not None and erased_at >= scheduled_at:
            raise ApplicationError("the client was erased", type=CLIENT_ERASED, non_retryable=True)
    now = utcnow()
    await session.execute(
        insert_ignoring_conflicts(
            session.get_bind().dialect.name,
            Client.__table__,
            {
                "id": client_id,
                "order_count": 0,
                "total_spend_minor": 0,
                # The client's arm, fixed for life (``core.domain.policy.in_holdout``); ``None``: the
                # default fraction's. A writer that knows the configured fraction passes it.
                "holdout": in_holdout(client_id, DEFAULT_HOLDOUT_FRACTION) if holdout is None else holdout,
                "created_at": now,
                "updated_at": now,
            },
            ["id"],
        )
    )


async def client_row(session: AsyncSession, client_id: str, holdout: bool | None = None) -> Client:
    """The client's row, created empty (in its holdout arm) if this is the first we hear of them."""
    await ensure_client(session, client_id, holdout=holdout)
    client = await session.get(Client, client_id, populate_existing=True)
    assert client is not None
    return client
