"""Emails: the approval queue, one email's story, approve (with edits) or reject.

Decisions are forwarded to the client's workflow as Updates: the workflow's
validator is the authority on whether the email is still pending (409 if not) and
whether edits pass the guardrails (422 if not). The database is only read here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api import examples
from api.auth import OpsKey, Principal
from api.deps import SessionDep, StateDep
from api.errors import AUTH_RESPONSES, ERROR_RESPONSES, NOT_FOUND_RESPONSE, ApiError, ErrorResponse
from api.queries import email_events, list_emails
from api.schemas import ApproveIn, DecisionOut, EmailDetail, EmailPage, EmailSummary, RejectIn
from core.contracts.approval import ApproveEmail, RejectEmail
from core.contracts.emails import EmailStatus
from core.contracts.messages import UPDATE_APPROVE_EMAIL, UPDATE_REJECT_EMAIL
from core.runtime.client_workflow import decide_email
from core.store import audit
from core.store.audit import Actor
from core.store.models import Email

router = APIRouter(prefix="/v1", tags=["emails"])
EmailIdPath = Annotated[
    str, Path(min_length=1, max_length=64, description="The email's id", examples=["e-3f2a9c"])
]
DECISION_RESPONSES: dict[int | str, dict[str, object]] = {
    **examples.ok(examples.DECISION),
    **AUTH_RESPONSES,
    **NOT_FOUND_RESPONSE,
    **ERROR_RESPONSES,
    409: {
        "model": ErrorResponse,
        "description": "The email is not awaiting a decision",
        "content": {
            "application/json": {
                "example": {
                    "error": {
                        "code": "not_pending",
                        "message": "the email is not awaiting a decision (already decided or stale)",
                        "fields": [],
                    }
                }
            }
        },
    },
}


@router.get(
    "/emails",
    responses={**examples.ok(examples.EMAIL_PAGE), **AUTH_RESPONSES, **ERROR_RESPONSES},
    summary="List emails by status",
)
async def get_emails(
    session: SessionDep,
    _key: OpsKey,
    status: EmailStatus | None = None,
    client_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> EmailPage:
    """Oldest first, so ``status=pending_approval`` reads as the approval queue."""
    rows, next_cursor = await list_emails(session, status, client_id, limit, cursor)
    return EmailPage(items=[EmailSummary.of(e) for e in rows], next_cursor=next_cursor)


@router.get(
    "/emails/{email_id}",
    responses={
        **examples.ok(examples.EMAIL_DETAIL),
        **AUTH_RESPONSES,
        **NOT_FOUND_RESPONSE,
        **ERROR_RESPONSES,
    },
    summary="One email: draft, guardrail verdicts, approvals, delivery",
)
async def get_email(email_id: EmailIdPath, session: SessionDep, _key: OpsKey) -> EmailDetail:
    email = await _email(session, email_id)
    return EmailDetail.build(email, await email_events(session, email_id))


@router.post(
    "/emails/{email_id}/approve", responses=DECISION_RESPONSES, summary="Approve a draft (optionally edited)"
)
async def approve_email(
    email_id: EmailIdPath,
    body: ApproveIn,
    request: Request,
    session: SessionDep,
    state: StateDep,
    key: OpsKey,
) -> DecisionOut:
    """Approve the pending draft; edited subject, preheader or body are re-checked.

    409 when the email is not the pending draft (already decided, expired,
    cancelled); 422 when edits fail the guardrails, with the failing rules.
    A repeated identical request is deduplicated by the workflow.
    """
    email = await _email(session, email_id)
    await session.close()  # not needed while waiting on Temporal: give the connection back
    decision = await decide_email(
        state.temporal,
        email.client_id,
        UPDATE_APPROVE_EMAIL,
        ApproveEmail(
            email_id=email_id,
            approved_by=body.approved_by or key.name,
            subject=body.subject,
            preheader=body.preheader,
            body_text=body.body_text,
        ),
    )
    edited = body.subject is not None or body.body_text is not None or body.preheader is not None
    await _audit(state, key, request, "email.approve", email, {"edited": edited})
    return DecisionOut(**decision.model_dump())


@router.post("/emails/{email_id}/reject", responses=DECISION_RESPONSES, summary="Reject a draft")
async def reject_email(
    email_id: EmailIdPath, body: RejectIn, request: Request, session: SessionDep, state: StateDep, key: OpsKey
) -> DecisionOut:
    """Reject the pending draft with a reason; 409 when it is not pending."""
    email = await _email(session, email_id)
    await session.close()  # not needed while waiting on Temporal: give the connection back
    decision = await decide_email(
        state.temporal,
        email.client_id,
        UPDATE_REJECT_EMAIL,
        RejectEmail(email_id=email_id, rejected_by=body.rejected_by or key.name, reason=body.reason),
    )
    await _audit(state, key, request, "email.reject", email, {"reason": body.reason})
    return DecisionOut(**decision.model_dump())


async def _audit(
    state: StateDep, key: Principal, request: Request, action: str, email: Email, detail: dict[str, Any]
) -> None:
    actor = Actor(f"key:{key.name}", "api_key", request.client.host if request.client else None)
    await audit.record_email(state.sessions, actor, action, email.id, email.client_id, **detail)


async def _email(session: SessionDep, email_id: str) -> Email:
    email = await session.get(Email, email_id)
    if email is None:
        raise ApiError(404, "not_found", "no such email")
    return email
