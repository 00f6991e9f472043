"""Outbox events written by the activities: once per change, whatever retries happen."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from activities.emails import EmailActivities
from core.runtime.settings import Settings
from core.store.ops_models import OutboxEvent
from tests.activities.factories import NOW, add_client, add_email
from tests.activities.test_emails import _update


async def _events(
    sessions: async_sessionmaker[AsyncSession], cid: str
) -> list[tuple[str, dict[str, object]]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.client_id == cid).order_by(OutboxEvent.seq)
        )
        return [(r.type, r.data) for r in rows]


async def test_outbox_email_events_once_per_status_with_ids_only(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    cid = await add_client(sessions)
    eid = await add_email(sessions, cid, status="pending_approval")
    acts = EmailActivities(sessions, settings)
    for _ in range(2):  # a retry of the same change emits nothing new
        await _update(acts, email_id=eid, client_id=cid, status="pending_approval")
        await _update(acts, email_id=eid, client_id=cid, status="approved", actor="ops-1", scheduled_for=NOW)
    # a reschedule is not an event for integrators
    later = NOW + timedelta(hours=1)
    await _update(acts, email_id=eid, client_id=cid, status="approved", at=later, scheduled_for=later)
    events = await _events(sessions, cid)
    assert [t for t, _ in events] == ["email.drafted", "email.approved"]
    assert events[1][1] == {"client_id": cid, "email_id": eid, "status": "approved"}
