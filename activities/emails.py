"""The ``update_email`` activity: an email's status moves, and its timeline grows, exactly once.

The workflow decides; this records. A move is a conditional UPDATE (``WHERE status IN
(allowed sources)``), so a retry, a late message or a race with ``send_email`` can never move
an email backwards (an email being sent is not cancelled here; a sent one is never "approved"
again). Timeline rows are keyed by (email, kind, at) and inserted with ON CONFLICT DO NOTHING.
The send states (``sending``, ``sent``, ``failed``, ``unknown``) belong to ``send_email``:
asking for one here only confirms it if the email is already there.

Expected conflicts are answered, not raised, so the workflow can carry on and agree with the
database: ``applied=False`` with the row's status and a ``reason`` when the row is elsewhere,
when there is no such email (``status=None``), or when an edit fails the guardrails here
although the workflow's validator passed it (the settings changed in between).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.drafting import guardrail_policy
from activities.rendering import render_html, unsubscribe_url
from core.contracts.emails import UpdateEmailInput, UpdateEmailResult
from core.contracts.messages import ACTIVITY_UPDATE_EMAIL
from core.domain.guardrails import check_with_policy, failures, passed, plausible_first_name
from core.runtime.settings import Settings
from core.store import timeline
from core.store.clients import ensure_client, scheduled_at
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.models import Client, Email, EmailEvent
from core.store.outbox import emit_email_status
from core.store.timeline import TimelineEvent

ALLOWED_FROM: dict[str, frozenset[str]] = {
    "pending_approval": frozenset({"pending_approval"}),
    "approved": frozenset({"pending_approval", "approved"}),
    "rejected": frozenset({"pending_approval"}),
    "expired": frozenset({"pending_approval"}),
    "cancelled": frozenset({"pending_approval", "approved"}),
    "holdout": frozenset({"pending_approval", "approved"}),
}
# An email the workflow gave up on before its draft was stored leaves a tombstone row, so a
# late draft_email retry finds it decided and does not resurrect it.
TOMBSTONES = frozenset({"cancelled", "expired", "holdout"})
NOT_FOUND = "no such email"


class _Conflict(Exception):
    """An expected refusal, answered as ``applied=False`` (the transaction rolls back)."""


class EmailActivities:
    """Email status changes, built with the session factory and settings."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings

    @activity.defn(name=ACTIVITY_UPDATE_EMAIL)
    async def update_email(self, input: UpdateEmailInput) -> UpdateEmailResult:
        """Move the email to ``input.status`` if allowed from where it is; record the event."""
        try:
            return await self._update(input)
        except _Conflict as conflict:
            async with self._sessions() as session:
                row = await session.get(Email, input.email_id)
            status = cast(Any, row.status) if row is not None else None
            return UpdateEmailResult(
                email_id=input.email_id, status=status, applied=False, reason=str(conflict)
            )

    async def _update(self, input: UpdateEmailInput) -> UpdateEmailResult:
        async with transaction(self._sessions) as session:
            row = await session.get(Email, input.email_id)
            if row is None:
                return await self._tombstone(session, input)
            values = await self._values(session, input, row)
            allowed = ALLOWED_FROM.get(input.status, frozenset())
            moved = await session.execute(
                update(Email)
                .where(Email.id == input.email_id, Email.status.in_(allowed))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            applied = bool(cast(CursorResult[Any], moved).rowcount)
            if not applied and row.status != input.status:
                reason = f"the email is {row.status}"
                return UpdateEmailResult(
                    email_id=row.id, status=cast(Any, row.status), applied=False, reason=reason
                )
            kind = await _event_kind(session, input, row)
            await self._event(session, input, kind, edited="subject" in values or "body_text" in values)
            await emit_email_status(session, row.id, row.client_id, input.status, input.at)
            return UpdateEmailResult(email_id=row.id, status=input.status, applied=True)

    async def _values(self, session: AsyncSession, input: UpdateEmailInput, row: Email) -> dict[str, Any]:
        values: dict[str, Any] = {"status": input.status, "updated_at": utcnow()}
        if input.scheduled_for is not None:
            values["scheduled_for"] = input.scheduled_for
        if input.status == "approved":
            values["approved_by"] = input.actor or row.approved_by
            values["approved_at"] = row.approved_at or input.at
            values.update(await self._edits(session, input, row))
        elif input.status == "rejected":
            values["rejected_reason"] = input.reason
        elif input.status in ("cancelled", "expired"):
            values["failure_reason"] = input.reason
        elif input.status == "holdout":
            values["holdout"] = True
        return values

    async def _edits(self, session: AsyncSession, input: UpdateEmailInput, row: Email) -> dict[str, Any]:
        """Ops' edits, re-checked by the guardrails (the workflow's validator did too) and re-rendered."""
        if input.subject is None and input.preheader is None and input.body_text is None:
            return {}
        subject = input.subject if input.subject is not None else row.subject or ""
        preheader = input.preheader if input.preheader is not None else row.preheader or ""
        body = input.body_text if input.body_text is not None else row.body_text or ""
        client = await session.get(Client, row.client_id)
        first_name = plausible_first_name(client.first_name if client else None) or ""
        policy = guardrail_policy(self._settings)
        verdicts = check_with_policy(subject, preheader, body, first_name=first_name, policy=policy)
        if not passed(verdicts):
            raise _Conflict("edited email fails the guardrails: " + "; ".join(failures(verdicts)))
        secret = self._settings.security.unsubscribe_secret.get_secret_value()
        link = unsubscribe_url(self._settings.api.public_base_url, row.client_id, secret)
        guardrails = dict(row.guardrails or {})
        guardrails["edited_verdicts"] = [v.model_dump() for v in verdicts]
        return {
            "subject": subject,
            "preheader": preheader,
            "body_text": body,
            "body_html": render_html(subject, preheader, body, link, self._settings.smtp.postal_address),
            "guardrails": guardrails,
        }

    async def _tombstone(self, session: AsyncSession, input: UpdateEmailInput) -> UpdateEmailResult:
        if input.status not in TOMBSTONES:
            raise _Conflict(NOT_FOUND)
        await ensure_client(session, input.client_id, scheduled_at())
        now = utcnow()
        dialect = session.get_bind().dialect.name
        tombstone = {
            "id": input.email_id,
            "client_id": input.client_id,
            "status": input.status,
            "holdout": input.status == "holdout",
            "failure_reason": input.reason,
            "scheduled_for": input.scheduled_for,
            "created_at": input.at,
            "updated_at": now,
        }
        await session.execute(insert_ignoring_conflicts(dialect, Email.__table__, tombstone, ["id"]))
        await self._event(session, input, input.status, edited=False)
        return UpdateEmailResult(email_id=input.email_id, status=input.status, applied=True)

    async def _event(
        self, session: AsyncSession, input: UpdateEmailInput, kind: str, *, edited: bool
    ) -> None:
        detail: dict[str, Any] = {"edited": edited}
        if input.reason:
            detail["reason"] = input.reason
        if input.scheduled_for is not None:
            detail["scheduled_for"] = input.scheduled_for.isoformat()
        event = TimelineEvent(input.email_id, input.client_id, kind, input.at, input.actor, detail)
        await timeline.record(session, event)


async def _event_kind(session: AsyncSession, input: UpdateEmailInput, row: Email) -> str:
    """The timeline entry: the new status; for the same status again, a retry (the same key,
    so nothing new) or, with a new time and a new slot, a reschedule."""
    if row.status != input.status or input.scheduled_for is None:
        return input.status
    retry = await session.scalar(
        select(EmailEvent.id).where(
            EmailEvent.email_id == input.email_id,
            EmailEvent.kind == input.status,
            EmailEvent.at == input.at,
        )
    )
    return input.status if retry is not None else "rescheduled"
