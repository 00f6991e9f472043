"""Ops actions on one email: cancel one not yet sending, settle one whose outcome is unknown.

Cancel goes to the client's workflow (Update ``cancel_email``, deterministic id): the
workflow owns the email in flight and writes ``cancelled`` itself; the validator refuses
an email that is not cancellable any more (409). Resolve is a person's word on an email
the workflow already closed as ``unknown``: the database moves ``unknown`` to ``sent`` or
``failed`` (a conditional UPDATE, so a repeat changes nothing) with a timeline entry, an
event and an audit entry. The workflow keeps counting it against the frequency cap either
way, the conservative reading.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from sqlalchemy import CursorResult, update

from api.action_schemas import EmailActionOut
from api.deps import AppState
from api.errors import ApiError
from core.contracts.approval import CancelEmail
from core.contracts.consent import EmailResolved
from core.contracts.messages import SIGNAL_EMAIL_RESOLVED, UPDATE_CANCEL_EMAIL
from core.runtime.client_workflow import EmailNotPending, TemporalUnavailable, decide_email, signal_with_start
from core.runtime.logging import get_logger
from core.store import audit, timeline
from core.store.audit import Actor
from core.store.db import transaction, utcnow
from core.store.models import Email
from core.store.outbox import emit_email_status
from core.store.timeline import TimelineEvent

log = get_logger(__name__)
CANCELLABLE = frozenset({"pending_approval", "approved"})
RESOLVED_STATUS = {"sent": "sent", "not_sent": "failed"}


async def _email(state: AppState, email_id: str) -> Email:
    async with state.sessions() as session:
        email = await session.get(Email, email_id)
    if email is None:
        raise ApiError(404, "not_found", "no such email")
    return email


async def _refuse(state: AppState, actor: Actor, action: str, email: Email, code: str, why: str) -> ApiError:
    await audit.record_email(
        state.sessions, actor, action, email.id, email.client_id, "denied", reason=code, status=email.status
    )
    return ApiError(409, code, why)


async def _uncancellable(state: AppState, actor: Actor, email: Email, why: str) -> ApiError:
    message = f"only drafts and scheduled sends can be cancelled; {why}"
    return await _refuse(state, actor, "email.cancel", email, "not_cancellable", message)


async def cancel(state: AppState, email_id: str, actor: Actor, reason: str) -> EmailActionOut:
    """Cancel a draft or a scheduled send; a repeat answers ``changed: false``."""
    email = await _email(state, email_id)
    if email.status == "cancelled":
        return EmailActionOut(email_id=email_id, action="cancel", changed=False, status=email.status)
    if email.status not in CANCELLABLE:
        raise await _uncancellable(state, actor, email, f"the email is {email.status}")
    request = CancelEmail(email_id=email_id, cancelled_by=actor.name, reason=reason)
    try:
        decision = await decide_email(state.temporal, email.client_id, UPDATE_CANCEL_EMAIL, request)
    except EmailNotPending:
        raise await _uncancellable(state, actor, email, "it is sending or settled") from None
    if decision.status != "cancelled":
        raise await _uncancellable(state, actor, email, f"the email is {decision.status}")
    await audit.record_email(state.sessions, actor, "email.cancel", email_id, email.client_id, reason=reason)
    return EmailActionOut(email_id=email_id, action="cancel", changed=True, status="cancelled")


async def resolve(
    state: AppState, email_id: str, actor: Actor, outcome: Literal["sent", "not_sent"], note: str
) -> EmailActionOut:
    """Settle an ``unknown`` email as sent or not sent; a repeat of the same answer changes nothing."""
    email = await _email(state, email_id)
    target = RESOLVED_STATUS[outcome]
    if email.status != "unknown":
        if email.status == target:  # told again: the workflow may have missed it (Temporal down)
            await _tell_workflow(state, email, target, actor)
            return EmailActionOut(email_id=email_id, action="resolve", changed=False, status=email.status)
        raise await _refuse(
            state,
            actor,
            "email.resolve",
            email,
            "not_unknown",
            f"the email is {email.status}; only an unknown outcome can be resolved",
        )
    now = utcnow()
    values: dict[str, Any] = {"status": target, "updated_at": now}
    if target == "sent":
        values["sent_at"] = email.sending_at or now
    else:
        values["failure_reason"] = f"not sent (resolved by {actor.name})"
    async with transaction(state.sessions) as session:
        moved = await session.execute(
            update(Email).where(Email.id == email_id, Email.status == "unknown").values(**values)
        )
        if not cast(CursorResult[Any], moved).rowcount:
            raise ApiError(409, "not_unknown", "the email was resolved meanwhile")
        detail = {"outcome": outcome, "note": note}
        await timeline.record(
            session, TimelineEvent(email_id, email.client_id, "resolved", now, actor.name, detail)
        )
        await emit_email_status(session, email_id, email.client_id, target, now, resolved_by="ops")
        session.add(
            audit.entry(
                actor,
                "email.resolve",
                target_type="email",
                target_id=email_id,
                at=now,
                detail={"outcome": outcome, "note": note, "client_id": email.client_id},
            )
        )
    await _tell_workflow(state, email, target, actor)
    return EmailActionOut(email_id=email_id, action="resolve", changed=True, status=target)


async def _tell_workflow(state: AppState, email: Email, status: str, actor: Actor) -> None:
    """The database has the answer first (the source of truth, already committed); the
    workflow's record of its last email follows. Temporal unreachable does not undo the
    answer: it is logged, and a repeat of the request sends it again (applied once)."""
    resolved = EmailResolved(email_id=email.id, status=cast(Literal["sent", "failed"], status), by=actor.name)
    try:
        await signal_with_start(state.temporal, state.start, email.client_id, SIGNAL_EMAIL_RESOLVED, resolved)
    except TemporalUnavailable:
        log.warning("resolve recorded but not forwarded to the workflow; repeat it", email_id=email.id)
