"""The database half of lifting an ops pause: shared by the API and the timed resume."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core.store import audit
from core.store.audit import Actor
from core.store.db import utcnow
from core.store.ops_models import ClientPause
from core.store.outbox import emit


async def record_resume(session: AsyncSession, client_id: str, actor: Actor) -> ClientPause | None:
    """Mark the pause lifted, queue ``client.resumed`` and audit it; nothing if not paused."""
    hold = await session.get(ClientPause, client_id)
    if hold is None or not hold.paused:
        return hold
    now = utcnow()
    hold.paused, hold.resumed_at, hold.resumed_by = False, now, actor.name
    await emit(
        session,
        "client.resumed",
        key=f"{client_id}|{now.isoformat()}",
        occurred_at=now,
        client_id=client_id,
        data={},
    )
    session.add(audit.entry(actor, "client.resume", target_type="client", target_id=client_id, at=now))
    return hold
