"""A client's consent as the API changes it: opt-out, a break of some days, opting in again.

Each change is written to the database first (the sender checks it), recorded in
``consent_events`` with its time and source, then signalled to the client's workflow. Every
step is idempotent, so a retried request is safe; Temporal being down raises
``TemporalUnavailable`` after the database write, and the retry signals again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AppState
from api.store import SUPPRESSION_REASON, record_opt_out
from core.contracts.consent import Resubscribed, Snoozed, Unsubscribed
from core.contracts.messages import SIGNAL_RESUBSCRIBED, SIGNAL_SNOOZED, SIGNAL_UNSUBSCRIBED
from core.runtime.client_workflow import signal_with_start
from core.store.clients import client_row
from core.store.db import transaction, utcnow
from core.store.models import ConsentEvent, Suppression
from core.store.outbox import emit_client_paused

SignalSource = Literal["link", "one_click", "mailto", "api", "bounce", "ops"]
PAUSE_DAYS = (30, 90)


@dataclass(frozen=True)
class ConsentStatus:
    """What the preference page shows."""

    unsubscribed: bool
    bounced: bool
    paused_until: datetime | None


async def opt_out(state: AppState, client_id: str, source: str, signal_source: SignalSource) -> datetime:
    """Unsubscribe ``client_id``; ``source`` is recorded, ``signal_source`` is what the workflow hears."""
    at = await record_opt_out(state.sessions, client_id, source=source)
    event = Unsubscribed(at=at, source=signal_source)
    await signal_with_start(state.temporal, state.start, client_id, SIGNAL_UNSUBSCRIBED, event)
    return at


async def snooze(state: AppState, client_id: str, days: int, source: str) -> datetime:
    """No email for ``days`` days from now; the workflow lifts the pause by itself."""
    now = utcnow()
    until = now + timedelta(days=days)
    async with transaction(state.sessions) as session:
        await client_row(session, client_id)
        session.add(ConsentEvent(client_id=client_id, action="paused", source=source, at=now, until=until))
        await emit_client_paused(session, client_id, now, until, source=source)
    await signal_with_start(
        state.temporal, state.start, client_id, SIGNAL_SNOOZED, Snoozed(until=until, source=source)
    )
    return until


async def resubscribe(state: AppState, client_id: str, source: str) -> None:
    """Opt in again: the opt-out and any break end; a bounced address stays suppressed."""
    now = utcnow()
    async with transaction(state.sessions) as session:
        client = await client_row(session, client_id)
        client.unsubscribed_at = None
        client.updated_at = now
        await session.execute(
            delete(Suppression).where(
                Suppression.client_id == client_id, Suppression.reason == SUPPRESSION_REASON
            )
        )
        session.add(ConsentEvent(client_id=client_id, action="resubscribed", source=source, at=now))
    event = Resubscribed(at=now, source=source)
    await signal_with_start(state.temporal, state.start, client_id, SIGNAL_RESUBSCRIBED, event)


async def consent_status(session: AsyncSession, client_id: str) -> ConsentStatus:
    """Unsubscribed, bounced, and the end of a break still running, from the database."""
    reasons = set(await session.scalars(select(Suppression.reason).where(Suppression.client_id == client_id)))
    latest = await session.scalar(
        select(ConsentEvent)
        .where(ConsentEvent.client_id == client_id)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(1)
    )
    until = latest.until if latest is not None and latest.action == "paused" else None
    return ConsentStatus(
        unsubscribed=SUPPRESSION_REASON in reasons,
        bounced="bounced" in reasons,
        paused_until=until if until is not None and until > utcnow() else None,
    )
