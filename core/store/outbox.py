"""Events for integrators, written to the outbox in the transaction that makes the change.

The writer (an activity, or the API for ops actions) never talks to an endpoint: a
delivery workflow per endpoint drains the outbox on its own task queue, so a slow or dead
endpoint cannot slow a client's workflow. Event ids are derived from what happened
(``type`` and a key naming the change), so an activity's retry inserts nothing new.
Payloads carry ids and states, never names or addresses.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from core.store.db import insert_ignoring_conflicts
from core.store.ops_models import OutboxEvent

EventType = Literal[
    "email.drafted",
    "email.approved",
    "email.sent",
    "email.failed",
    "client.tier_changed",
    "client.unsubscribed",
    "client.paused",
    "client.resumed",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
# Email statuses whose arrival is an event (the rest are internal steps).
EMAIL_EVENTS: dict[str, EventType] = {
    "pending_approval": "email.drafted",
    "approved": "email.approved",
    "sent": "email.sent",
    "failed": "email.failed",
}
_NAMESPACE = uuid.UUID("6f1d7c8e-3b0a-4c55-9a51-5e2b8f0c1d44")


def event_id(type: str, key: str) -> str:
    """``msg_`` + a UUIDv5 of the change: the same change always gets the same id."""
    return "msg_" + uuid.uuid5(_NAMESPACE, f"{type}|{key}").hex


async def emit(
    session: AsyncSession,
    type: EventType,
    *,
    key: str,
    occurred_at: datetime,
    client_id: str | None,
    data: dict[str, Any],
) -> None:
    """Queue one event in ``session``'s transaction (idempotent by type and key)."""
    row = {
        "event_id": event_id(type, key),
        "type": type,
        "client_id": client_id,
        "occurred_at": occurred_at,
        "data": {"client_id": client_id, **data} if client_id else data,
    }
    dialect = session.get_bind().dialect.name
    await session.execute(insert_ignoring_conflicts(dialect, OutboxEvent.__table__, row, ["event_id"]))


async def emit_email_status(
    session: AsyncSession, email_id: str, client_id: str, status: str, at: datetime, **data: Any
) -> None:
    """The event for an email reaching ``status``, if that status is one integrators hear of."""
    type = EMAIL_EVENTS.get(status)
    if type is not None:
        await emit(
            session,
            type,
            key=email_id,  # each email reaches each of these statuses at most once
            occurred_at=at,
            client_id=client_id,
            data={"email_id": email_id, "status": status, **data},
        )


async def emit_client_paused(
    session: AsyncSession, client_id: str, at: datetime, until: datetime | None, **data: Any
) -> None:
    """``client.paused``: by ops (a pause, open-ended or timed) or by the client (a snooze)."""
    await emit(
        session,
        "client.paused",
        key=f"{client_id}|{at.isoformat()}",
        occurred_at=at,
        client_id=client_id,
        data={"paused_until": until.isoformat() if until else None, **data},
    )
