"""The ``send_email`` activity: at most once, whatever crashes and retries happen.

The ``emails`` row is the ledger. In one transaction the activity re-checks consent
(``suppressions`` and ``clients.unsubscribed_at``) and claims the row with a conditional
``UPDATE ... SET status='sending' WHERE status='approved'``; only then does it talk to SMTP.
What an attempt finds decides what it does:

    approved   claim, send                        sent / failed (5xx; address suppressed)
    approved, no address on file                  cancelled (not a bounce; nothing sent)
    sending    an earlier attempt died mid-send   -> unknown, never resent (ops decide)
    sent, failed, unknown, suppressed (cancelled)  answer what happened, send nothing

After a claim, the row goes back to ``approved`` only when SMTP proves nothing was delivered
(a 4xx reply, or a connection error before DATA; see ``activities.mail``), and the activity
raises a retryable error. A connection lost once DATA was sent is ``unknown`` at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import mail
from activities.rendering import render_html, render_text, unsubscribe_url
from core.contracts.emails import SendEmailInput, SendEmailResult
from core.contracts.messages import ACTIVITY_SEND_EMAIL
from core.domain.guardrails import check_footer
from core.domain.tokens import make_unsubscribe_token
from core.runtime.logging import get_logger
from core.runtime.settings import Settings
from core.store import timeline
from core.store.db import insert_ignoring_conflicts, transaction, utcnow
from core.store.models import Client, Email, Suppression
from core.store.outbox import emit_email_status
from core.store.privacy import is_suppressed
from core.store.timeline import TimelineEvent

log = get_logger(__name__)
SUPPRESSED_REASON = "suppressed"
NO_ADDRESS = "no email address"
FINAL_WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class Claim:
    """A claimed email: everything needed to send it."""

    email_id: str
    client_id: str
    address: str
    subject: str
    preheader: str
    body_text: str
    message_id: str


# What an attempt needs to know of its email and client, in one query (no ORM entities: this
# runs for every email sent, and the ORM's loading was a good part of the activity's CPU).
_LEDGER = (
    select(
        Email.id,
        Email.client_id,
        Email.status,
        Email.subject,
        Email.preheader,
        Email.body_text,
        Email.message_id,
        Email.failure_reason,
        Client.id.label("client_found"),
        Client.email.label("address"),
        Client.unsubscribed_at,
    )
    .outerjoin(Client, Client.id == Email.client_id)
    .where(Email.id == bindparam("email_id"))
)


@dataclass(frozen=True)
class Ledger:
    """A row of ``_LEDGER``: the email's state, and its client's address and consent."""

    id: str
    client_id: str
    status: str
    subject: str | None
    preheader: str | None
    body_text: str | None
    message_id: str | None
    failure_reason: str | None
    client_found: str | None
    address: str | None
    unsubscribed_at: datetime | None


def _result(row: Ledger) -> SendEmailResult | None:
    """The answer for an email an earlier attempt (or the workflow) already settled."""
    if row.status in ("sent", "unknown", "failed"):
        outcome = cast(Any, row.status)
        return SendEmailResult(email_id=row.id, outcome=outcome, message_id=row.message_id, detail="earlier")
    if row.status == "cancelled" and row.failure_reason == SUPPRESSED_REASON:
        return SendEmailResult(email_id=row.id, outcome="suppressed", detail="opted out before sending")
    if row.status == "cancelled" and row.failure_reason == NO_ADDRESS:
        return SendEmailResult(email_id=row.id, outcome="cancelled", detail=NO_ADDRESS)
    return None


async def _move(session: AsyncSession, email_id: str, source: str, **values: Any) -> bool:
    """Conditional status change: true when this call moved the row out of ``source``."""
    values.setdefault("updated_at", utcnow())
    moved = await session.execute(
        update(Email)
        .where(Email.id == email_id, Email.status == source)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(cast(CursorResult[Any], moved).rowcount)


async def _event(session: AsyncSession, row: Ledger | Claim, kind: str, **detail: Any) -> None:
    email_id = row.email_id if isinstance(row, Claim) else row.id
    await timeline.record(
        session, TimelineEvent(email_id, row.client_id, kind, utcnow(), "send_email", detail or None)
    )


async def _suppressed(session: AsyncSession, row: Ledger, secret: str) -> bool:
    if row.unsubscribed_at is not None:
        return True
    # An erased client's address stays suppressed as a keyed hash (core/store/privacy.py).
    return await is_suppressed(session, secret, row.client_id if row.client_found else "", row.address)


class SendingActivities:
    """Sending, built with the session factory and settings; runs on the rate-limited send queue.

    With a ``pool`` (the worker's, closed at its shutdown) SMTP connections are reused; without
    one, each message has a connection of its own.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        pool: mail.SmtpPool | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._pool = pool

    @activity.defn(name=ACTIVITY_SEND_EMAIL)
    async def send_email(self, input: SendEmailInput) -> SendEmailResult:
        """Send the approved email at most once; see the module docstring for every outcome."""
        claimed = await self._claim(input)
        if isinstance(claimed, SendEmailResult):
            return claimed
        try:
            message = self._message(claimed)
        except ValueError:
            await self._release(claimed, "the message could not be built")
            raise ApplicationError(
                "the message could not be built", type="BadMessage", non_retryable=True
            ) from None
        heartbeats = asyncio.create_task(_heartbeat())
        try:
            if self._pool is None:
                await mail.transmit(self._settings.smtp, message, claimed.address)
            else:
                await self._pool.transmit(message, claimed.address)
        except mail.NotDelivered as exc:
            await self._release(claimed, str(exc))
            raise ApplicationError(str(exc), type=_error_type(exc), non_retryable=exc.permanent) from None
        except mail.Rejected as exc:
            return await self._finish(claimed, "failed", str(exc))
        except mail.Ambiguous as exc:
            return await self._finish(claimed, "unknown", str(exc))
        finally:
            heartbeats.cancel()
        return await self._finish(claimed, "sent", "delivered")

    async def _claim(self, input: SendEmailInput) -> Claim | SendEmailResult:
        async with transaction(self._sessions) as session:
            found = (await session.execute(_LEDGER, {"email_id": input.email_id})).one_or_none()
            if found is None:
                raise ApplicationError("no such email", type="EmailNotFound", non_retryable=True)
            row = Ledger(*found)
            if (settled := _result(row)) is not None:
                return settled
            if row.status == "sending":
                reason = "an earlier attempt stopped mid-send; not resent"
                await _move(session, row.id, "sending", status="unknown", failure_reason=reason)
                await _event(session, row, "unknown", reason=reason)
                log.warning("send outcome unknown; not resent", email_id=row.id)
                return SendEmailResult(
                    email_id=row.id, outcome="unknown", message_id=row.message_id, detail=reason
                )
            if row.status != "approved":
                raise ApplicationError(
                    f"email is {row.status}, not approved", type="EmailNotApproved", non_retryable=True
                )
            return await self._claim_approved(session, row)

    async def _claim_approved(self, session: AsyncSession, row: Ledger) -> Claim | SendEmailResult:
        address: str | None = row.address
        secret = self._settings.security.suppression_hash_secret.get_secret_value()
        if await _suppressed(session, row, secret):
            await _move(session, row.id, "approved", status="cancelled", failure_reason=SUPPRESSED_REASON)
            await _event(session, row, "suppressed")
            return SendEmailResult(email_id=row.id, outcome="suppressed", detail="opted out before sending")
        if not address:
            # Not a bounce: nothing was refused, the address is missing (it may come later).
            await _move(session, row.id, "approved", status="cancelled", failure_reason=NO_ADDRESS)
            await _event(session, row, "cancelled", reason=NO_ADDRESS)
            await emit_email_status(session, row.id, row.client_id, "cancelled", utcnow())
            return SendEmailResult(email_id=row.id, outcome="cancelled", detail=NO_ADDRESS)
        msg_id = mail.message_id(row.id, self._settings.smtp.from_address)
        claimed = await _move(
            session,
            row.id,
            "approved",
            status="sending",
            sending_at=utcnow(),
            to_address=address,
            message_id=msg_id,
        )
        if not claimed:  # moved under our feet (cancelled, or another attempt): look again
            raise ApplicationError("the email changed while being claimed", type="LedgerConflict")
        claim = Claim(
            email_id=row.id,
            client_id=row.client_id,
            address=address,
            subject=row.subject or "",
            preheader=row.preheader or "",
            body_text=row.body_text or "",
            message_id=msg_id,
        )
        await _event(session, claim, "sending")
        return claim

    def _message(self, claim: Claim) -> bytes:
        secret = self._settings.security.unsubscribe_secret.get_secret_value()
        token = make_unsubscribe_token(claim.client_id, secret)
        link = unsubscribe_url(self._settings.api.public_base_url, claim.client_id, secret)
        postal = self._settings.smtp.postal_address
        text = render_text(claim.body_text, link, postal)
        html = render_html(claim.subject, claim.preheader, claim.body_text, link, postal)
        footer = check_footer(text, html, link, postal)
        if not footer.passed:  # never send a message without its legal footer
            raise ValueError(footer.detail)
        message = mail.build_message(
            settings=self._settings.smtp,
            to_address=claim.address,
            subject=claim.subject,
            text=text,
            html=html,
            msg_id=claim.message_id,
            unsubscribe_link=link,
            unsubscribe_token=token,
        )
        return mail.wire_bytes(self._settings.smtp, message)

    async def _release(self, claim: Claim, reason: str) -> None:
        """Nothing was delivered: back to ``approved`` so the next attempt may send."""
        async with transaction(self._sessions) as session:
            await _move(session, claim.email_id, "sending", status="approved", sending_at=None)
            await _event(session, claim, "send_retry", reason=reason)

    async def _finish(self, claim: Claim, outcome: str, reason: str) -> SendEmailResult:
        """Record the outcome, retrying the write a little: SMTP has spoken and must not be asked again."""
        for attempt in range(FINAL_WRITE_ATTEMPTS):
            try:
                await self._record(claim, outcome, reason)
                break
            except SQLAlchemyError:
                if attempt == FINAL_WRITE_ATTEMPTS - 1:
                    raise  # the row stays 'sending': a retry marks it unknown, never resends
                await asyncio.sleep(0.2 * 2**attempt)
        detail = "address suppressed: " + reason if outcome == "failed" else reason
        log.info("send finished", email_id=claim.email_id, outcome=outcome, detail=reason)
        return SendEmailResult(
            email_id=claim.email_id, outcome=cast(Any, outcome), message_id=claim.message_id, detail=detail
        )

    async def _record(self, claim: Claim, outcome: str, reason: str) -> None:
        async with transaction(self._sessions) as session:
            values: dict[str, Any] = {"status": outcome}
            if outcome == "sent":
                values.update(sent_at=utcnow(), failure_reason=None)
            else:
                values["failure_reason"] = reason
            # A slow attempt may find its row already 'unknown' (a retry overtook it): now we know.
            if not await _move(session, claim.email_id, "sending", **values) and outcome == "sent":
                await _move(session, claim.email_id, "unknown", **values)
            await _event(session, claim, outcome, reason=reason)
            await emit_email_status(session, claim.email_id, claim.client_id, outcome, utcnow())
            if outcome == "failed":
                await self._suppress(session, claim)

    async def _suppress(self, session: AsyncSession, claim: Claim) -> None:
        suppression = {
            "client_id": claim.client_id,
            "email": claim.address.lower(),
            "reason": "bounced",
            "created_at": utcnow(),
        }
        dialect = session.get_bind().dialect.name
        await session.execute(
            insert_ignoring_conflicts(dialect, Suppression.__table__, suppression, ["client_id", "reason"])
        )


def _error_type(exc: mail.NotDelivered) -> str:
    if exc.permanent:
        return "SmtpAuthFailed" if isinstance(exc, mail.AuthRefused) else "SmtpMisconfigured"
    return "SmtpTransient"


async def _heartbeat(interval: timedelta = timedelta(seconds=2)) -> None:
    """Heartbeat while SMTP talks, so a short heartbeat timeout finds a dead worker quickly."""
    while True:
        activity.heartbeat()
        await asyncio.sleep(interval.total_seconds())
