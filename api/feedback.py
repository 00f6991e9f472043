"""Acting on delivery feedback: record each event once, put it on the email's timeline, and
turn bounces and complaints into suppressions and workflow signals.

    delivered     recorded; resets the soft-bounce count
    hard_bounce   the address is suppressed ("bounced") and the workflow told (source "bounce")
    soft_bounce   counted; ``feedback.soft_bounce_limit`` of them since the last delivery
                  suppress the address as a hard bounce does
    complaint     the client is unsubscribed (the spam button is an opt-out)

Each event is keyed by (provider, event id): a webhook the provider sends again is recorded
once. The signal is sent after the database commit and again on a repeated event, so a
Temporal outage (503, the provider retries) never leaves the workflow uninformed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.consent import opt_out
from api.deps import AppState
from core.contracts.consent import Unsubscribed
from core.contracts.messages import SIGNAL_UNSUBSCRIBED
from core.domain.feedback import FeedbackEvent
from core.runtime.client_workflow import signal_with_start
from core.runtime.logging import get_logger
from core.store import timeline
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.models import Client, DeliveryEvent, Email, Suppression
from core.store.timeline import TimelineEvent

log = get_logger(__name__)
TIMELINE_KIND = {
    "delivered": "delivered",
    "hard_bounce": "bounced",
    "soft_bounce": "soft_bounced",
    "complaint": "complained",
}


@dataclass(frozen=True)
class Outcome:
    """What became of one event: its action is replayed when the provider sends it again."""

    event_id: str
    recorded: bool
    client_id: str | None
    action: str | None  # "suppressed", "unsubscribed" or None


async def apply_events(state: AppState, events: list[FeedbackEvent]) -> list[Outcome]:
    """Record and act on each event in order; see the module docstring."""
    outcomes = []
    for event in events:
        outcome = await _record(state, event)
        await _signal(state, outcome)
        outcomes.append(outcome)
    log.info(
        "delivery feedback",
        provider=events[0].provider if events else None,
        events=len(events),
        recorded=sum(o.recorded for o in outcomes),
    )
    return outcomes


async def _record(state: AppState, event: FeedbackEvent) -> Outcome:
    async with transaction(state.sessions) as session:
        existing = await session.scalar(
            select(DeliveryEvent).where(
                DeliveryEvent.provider == event.provider, DeliveryEvent.event_id == event.event_id
            )
        )
        if existing is not None:
            action = (existing.detail or {}).get("action")
            return Outcome(event.event_id, False, existing.client_id, action)
        client_id, email_id = await correlate(session, event.message_id, event.recipient)
        action = await _act(state, session, event, client_id)
        row = {
            "provider": event.provider,
            "event_id": event.event_id,
            "kind": event.kind,
            "client_id": client_id,
            "email_id": email_id,
            "occurred_at": event.occurred_at,
            "received_at": utcnow(),
            "detail": {**event.detail, "action": action},
        }
        dialect = session.get_bind().dialect.name
        inserted = await session.execute(
            insert_ignoring_conflicts(dialect, DeliveryEvent.__table__, row, ["provider", "event_id"])
        )
        if not cast(CursorResult[Any], inserted).rowcount:  # a concurrent delivery of the same event
            return Outcome(event.event_id, False, client_id, action)
        if email_id is not None and client_id is not None:
            await _timeline(session, event, email_id, client_id, action)
        return Outcome(event.event_id, True, client_id, action)


async def correlate(
    session: AsyncSession, message_id: str | None, recipient: str | None
) -> tuple[str | None, str | None]:
    """(client id, email id) by our Message-ID, else the latest email sent to the address,
    else the client with that address."""
    if message_id:
        row = (
            await session.execute(select(Email.client_id, Email.id).where(Email.message_id == message_id))
        ).first()
        if row is not None:
            return row[0], row[1]
    if not recipient:
        return None, None
    address = recipient.strip().lower()
    row = (
        await session.execute(
            select(Email.client_id, Email.id)
            .where(func.lower(Email.to_address) == address, Email.sending_at.is_not(None))
            .order_by(Email.sending_at.desc())
            .limit(1)
        )
    ).first()
    if row is not None:
        return row[0], row[1]
    client_id = await session.scalar(select(Client.id).where(func.lower(Client.email) == address).limit(1))
    return client_id, None


async def _act(
    state: AppState, session: AsyncSession, event: FeedbackEvent, client_id: str | None
) -> str | None:
    if client_id is None:
        return None
    if event.kind == "complaint":
        return "unsubscribed"  # written by ``opt_out`` after this commit, with its source
    if event.kind == "soft_bounce":
        limit = state.settings.feedback.soft_bounce_limit
        if await _soft_bounces_since_delivery(session, client_id) + 1 < limit:
            return None
    if event.kind in ("hard_bounce", "soft_bounce"):
        await _suppress(session, client_id, event.recipient)
        return "suppressed"
    return None


async def _soft_bounces_since_delivery(session: AsyncSession, client_id: str) -> int:
    delivered = await session.scalar(
        select(func.max(DeliveryEvent.occurred_at)).where(
            DeliveryEvent.client_id == client_id, DeliveryEvent.kind == "delivered"
        )
    )
    query = select(func.count()).where(
        DeliveryEvent.client_id == client_id, DeliveryEvent.kind == "soft_bounce"
    )
    if delivered is not None:
        query = query.where(DeliveryEvent.occurred_at > delivered)
    return int(await session.scalar(query) or 0)


async def _suppress(session: AsyncSession, client_id: str, recipient: str | None) -> None:
    row = {
        "client_id": client_id,
        "email": recipient.strip().lower() if recipient else None,
        "reason": "bounced",
        "created_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    await session.execute(
        insert_ignoring_conflicts(dialect, Suppression.__table__, row, ["client_id", "reason"])
    )


async def _timeline(
    session: AsyncSession, event: FeedbackEvent, email_id: str, client_id: str, action: str | None
) -> None:
    detail = {"provider": event.provider, "event_id": event.event_id, **event.detail}
    if action is not None:
        detail["action"] = action
    kind, actor = TIMELINE_KIND[event.kind], f"feedback:{event.provider}"
    await timeline.record(session, TimelineEvent(email_id, client_id, kind, event.occurred_at, actor, detail))


async def _signal(state: AppState, outcome: Outcome) -> None:
    if outcome.client_id is None or outcome.action is None:
        return
    if outcome.action == "unsubscribed":
        await opt_out(state, outcome.client_id, source="complaint", signal_source="api")
        return
    event = Unsubscribed(at=utcnow(), source="bounce")
    await signal_with_start(state.temporal, state.start, outcome.client_id, SIGNAL_UNSUBSCRIBED, event)
