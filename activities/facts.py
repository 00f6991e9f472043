"""The ``load_client_facts`` activity: a client's durable facts, for a run that starts empty.

A client workflow carries its state across continue-as-new, but a run that starts without
it (the first start, or after ops terminated or reset the workflow) must not forget
anything that matters: consent, the frequency cap, the profile, the order book and the
email left mid-flight. The database holds all of it; this reads it in one transaction.

At most one email is in flight per client. Should the database hold several (a run that
died between drafting and recording), the newest is resumed and the older ones are closed
here: ``cancelled`` ("superseded") from ``pending_approval``/``approved``, and ``unknown``
from ``sending`` (a claim whose outcome nobody knows, exactly as ``send_email`` would).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from core.contracts.messages import ACTIVITY_LOAD_CLIENT
from core.contracts.state import ClientFacts, ClientProfile, EmailOutcome, LoadClientInput, PendingEmail
from core.store.db import transaction, utcnow
from core.store.models import Client, ConsentEvent, Email, EmailEvent, Suppression
from core.store.ops_models import ClientPause

IN_FLIGHT = ("pending_approval", "approved", "sending")
SUPERSEDED = "superseded by a newer email"
# Emails imported from the previous tool (api.store.IMPORT_GENERATOR) count against the frequency
# cap (``last_sent_at``) but are not Rekindle's own last outcome: no cool-down follows them.
IMPORTED = "import"
PROFILE_FIELDS = tuple(ClientProfile.model_fields)


class ClientFactsActivities:
    """Reads a client's facts, built with the session factory."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name=ACTIVITY_LOAD_CLIENT)
    async def load_client_facts(self, input: LoadClientInput) -> ClientFacts:
        """Everything a fresh run needs to act as the last run would have."""
        async with transaction(self._sessions) as session:
            client = await session.get(Client, input.client_id)
            if client is None:
                return ClientFacts()
            reasons = set(
                (
                    await session.scalars(
                        select(Suppression.reason).where(Suppression.client_id == client.id)
                    )
                ).all()
            )
            unsubscribed_at = client.unsubscribed_at
            if unsubscribed_at is None and reasons - {"bounced"}:
                unsubscribed_at = client.updated_at  # suppressed by ops or an import: opted out
            return ClientFacts(
                exists=True,
                profile=ClientProfile.model_validate({f: getattr(client, f) for f in PROFILE_FIELDS}),
                order_count=client.order_count,
                first_order_at=client.first_order_at,
                last_order_at=client.last_order_at,
                unsubscribed_at=unsubscribed_at,
                bounced="bounced" in reasons,
                holdout=client.holdout,
                paused_until=await _paused_until(session, client.id),
                paused=await _held_by_ops(session, client.id),
                last_sent_at=await _last_sent_at(session, client.id),
                email=await _in_flight(session, client.id, input.approval_expiry_hours),
                last_email=await _last_closed(session, client.id),
            )


async def _paused_until(session: AsyncSession, client_id: str) -> datetime | None:
    """The end of a break the client chose (the preference page), if their latest say was one."""
    latest = await session.scalar(
        select(ConsentEvent)
        .where(ConsentEvent.client_id == client_id)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc())
        .limit(1)
    )
    return latest.until if latest is not None and latest.action == "paused" else None


async def _held_by_ops(session: AsyncSession, client_id: str) -> bool:
    """An ops pause still in force: not resumed, and open-ended or not yet over."""
    hold = await session.get(ClientPause, client_id)
    if hold is None or not hold.paused:
        return False
    return hold.paused_until is None or hold.paused_until > utcnow()


async def _last_sent_at(session: AsyncSession, client_id: str) -> datetime | None:
    """The last moment an email may have reached the client (what the frequency cap counts)."""
    moments = [
        await session.scalar(select(func.max(Email.sent_at)).where(Email.client_id == client_id)),
        await session.scalar(
            select(func.max(Email.sending_at)).where(Email.client_id == client_id, Email.status == "unknown")
        ),
        await session.scalar(  # our control group keeps the treated group's cadence (imports do not)
            select(func.max(EmailEvent.at))
            .join(Email, Email.id == EmailEvent.email_id)
            .where(
                Email.client_id == client_id,
                Email.status == "holdout",
                EmailEvent.kind == "holdout",
                _not_imported(),
            )
        ),
    ]
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _not_imported() -> ColumnElement[bool]:
    return or_(Email.generator.is_(None), Email.generator != IMPORTED)


async def _in_flight(session: AsyncSession, client_id: str, expiry_hours: float) -> PendingEmail | None:
    rows = (
        await session.scalars(
            select(Email)
            .where(Email.client_id == client_id, Email.status.in_(IN_FLIGHT))
            .order_by(Email.created_at.desc(), Email.id)
        )
    ).all()
    if not rows:
        return None
    for old in rows[1:]:
        closed = "unknown" if old.status == "sending" else "cancelled"
        await session.execute(
            update(Email)
            .where(Email.id == old.id, Email.status == old.status)
            .values(status=closed, failure_reason=SUPERSEDED, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    row = rows[0]
    # 'sending' resumes as approved and due: send_email finds the claim and settles it as unknown.
    status = "pending_approval" if row.status == "pending_approval" else "approved"
    return PendingEmail(
        email_id=row.id,
        status=status,
        created_at=row.created_at,
        expires_at=row.created_at + timedelta(hours=expiry_hours),
        holdout=row.holdout,
        subject=row.subject,
        preheader=row.preheader,
        body_text=row.body_text,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        scheduled_for=row.scheduled_for if row.status == "approved" else None,
    )


async def _last_closed(session: AsyncSession, client_id: str) -> EmailOutcome | None:
    row = await session.scalar(
        select(Email)
        .where(
            Email.client_id == client_id,
            Email.status.not_in(IN_FLIGHT),
            _not_imported(),
        )
        .order_by(func.coalesce(Email.sent_at, Email.updated_at).desc())
        .limit(1)
    )
    if row is None:
        return None
    return EmailOutcome(
        email_id=row.id,
        status=cast(Any, row.status),
        at=row.sent_at or row.updated_at,
        reason=row.failure_reason or row.rejected_reason,
    )
