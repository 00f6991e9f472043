"""The approval queue: pending drafts, previews, guardrail verdicts, approve / reject.

Decisions go to the client's workflow as Updates (``approve_email``/``reject_email``);
the workflow's validator is the judge, and the page shows its answer or refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError

from api.ui import queries
from api.ui.common import ActDep, Ui, UiDep, is_htmx, render, start_timer
from core.contracts.approval import ApproveEmail, EmailDecision, RejectEmail
from core.contracts.messages import UPDATE_APPROVE_EMAIL, UPDATE_REJECT_EMAIL
from core.runtime.client_workflow import (
    EditRejected,
    EmailNotPending,
    TemporalUnavailable,
    WorkflowBusy,
    decide_email,
)
from core.runtime.logging import get_logger
from core.store import audit
from core.store.models import Client, Email

router = APIRouter(prefix="/ui/approvals", include_in_schema=False, dependencies=[Depends(start_timer)])
log = get_logger(__name__)
EmailIdPath = Annotated[str, Path(min_length=1, max_length=128)]
FormText = Annotated[str | None, Form(max_length=20_000)]


@dataclass(frozen=True)
class Outcome:
    """What became of a decision: ``ok`` with the workflow's answer, or why not."""

    ok: bool
    message: str
    decision: EmailDecision | None = None
    fields: dict[str, str] | None = None


def guardrail_verdicts(stored: Any) -> list[dict[str, Any]]:
    """Verdicts as ``[{name, passed, detail}]`` whichever JSON shape the drafter stored."""
    if isinstance(stored, dict) and isinstance(stored.get("verdicts"), list):
        stored = stored["verdicts"]
    if isinstance(stored, dict):
        stored = [
            {"name": k, **(v if isinstance(v, dict) else {"passed": bool(v)})} for k, v in stored.items()
        ]
    if not isinstance(stored, list):
        return []
    verdicts = []
    for item in stored:
        if isinstance(item, dict) and "name" in item:
            verdicts.append(
                {
                    "name": str(item["name"]),
                    "passed": bool(item.get("passed")),
                    "detail": str(item.get("detail", "")),
                }
            )
    return verdicts


@router.get("", response_class=HTMLResponse)
async def queue(
    request: Request, ui: UiDep, page: Annotated[int, Query(ge=1, le=10_000)] = 1
) -> HTMLResponse:
    """Drafts waiting for a person, oldest first."""
    async with ui.state.sessions() as session:
        rows, total = await queries.pending_emails(session, page)
    return _queue_page(request, ui, rows, total, page)


def _queue_page(
    request: Request,
    ui: Ui,
    rows: list[tuple[Email, Client]],
    total: int,
    page: int,
    banner: Outcome | None = None,
    status: int = 200,
) -> HTMLResponse:
    pages = max(1, -(-total // queries.QUEUE_PAGE_SIZE))
    cards = [{"e": e, "c": c, "verdicts": guardrail_verdicts(e.guardrails), "outcome": None} for e, c in rows]
    context = {"cards": cards, "total": total, "page": page, "pages": pages, "banner": banner}
    return render(request, "approvals.html", context, ui.session, status=status)


def _changed(new: str | None, old: str | None) -> str | None:
    """Only an edited field goes to the workflow (and is re-checked by the guardrails)."""
    if new is None:
        return None
    normalized = new.replace("\r\n", "\n")
    return normalized if normalized != (old or "") else None


async def _email(ui: Ui, email_id: str) -> Email | None:
    async with ui.state.sessions() as session:
        found = await queries.email_with_client(session, email_id)
    return found[0] if found else None


async def _update(ui: Ui, email: Email, name: str, arg: BaseModel) -> Outcome:
    """The same Update the API sends (core.runtime.client_workflow.decide_email: a deterministic id, so
    a repeated click or bulk run is deduplicated by Temporal), answered for a person."""
    try:
        decision = await decide_email(ui.state.temporal, email.client_id, name, arg)
    except (EmailNotPending, EditRejected) as exc:
        if isinstance(exc, EmailNotPending) and not exc.workflow_running:
            return Outcome(False, "This client's workflow is not running; nothing was changed.")
        log.info("email decision refused", update=name, email_id=email.id, by=ui.user)
        return Outcome(False, f"The workflow refused: {exc}")
    except WorkflowBusy:
        return Outcome(
            False, "No answer from the workflow in time; reload the page in a moment to see the result."
        )
    except (TemporalUnavailable, RPCError):
        return Outcome(False, "Temporal is unreachable; nothing was changed. Try again shortly.")
    verb = "Approved" if name == UPDATE_APPROVE_EMAIL else "Rejected"
    scheduled = decision.scheduled_for
    when = f", scheduled for {scheduled.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if scheduled else ""
    log.info("email decided", update=name, email_id=email.id, status=decision.status, by=ui.user)
    return Outcome(True, f"{verb}: the email is now {decision.status}{when}.", decision)


async def record_decision(
    ui: Ui, request: Request, action: str, email: Email, outcome: Outcome, **detail: Any
) -> None:
    """Audit a decision the workflow took or refused (the refusal's reason, never the draft)."""
    code: audit.Outcome = "ok" if outcome.ok else "denied"
    message = outcome.message[:200]
    actor = ui.actor(request)
    await audit.record_email(
        ui.state.sessions, actor, action, email.id, email.client_id, code, message=message, **detail
    )


def _field_errors(exc: ValidationError) -> dict[str, str]:
    return {
        str(e["loc"][0]) if e["loc"] else "form": e["msg"].removeprefix("Value error, ") for e in exc.errors()
    }


async def _respond(request: Request, ui: Ui, email_id: str, outcome: Outcome | None) -> HTMLResponse:
    """htmx swaps the one card; a plain form post gets the whole queue with a banner."""
    async with ui.state.sessions() as session:
        found = await queries.email_with_client(session, email_id)
    if found is None:
        return render(request, "not_found.html", {"what": "email"}, ui.session, status=404)
    status = 200 if outcome is None or outcome.ok else (422 if outcome.fields else 409)
    if is_htmx(request):
        email, client = found
        card = {"e": email, "c": client, "verdicts": guardrail_verdicts(email.guardrails), "outcome": outcome}
        # htmx swaps only 2xx answers by default: a refusal must still show in place.
        return render(request, "approval_card.html", {"card": card}, ui.session)
    async with ui.state.sessions() as session:
        rows, total = await queries.pending_emails(session, 1)
    return _queue_page(request, ui, rows, total, 1, banner=outcome, status=status)


@router.post("/{email_id}/approve", response_class=HTMLResponse)
async def approve(
    request: Request,
    ui: ActDep,
    email_id: EmailIdPath,
    subject: FormText = None,
    preheader: FormText = None,
    body_text: FormText = None,
) -> HTMLResponse:
    """Approve the draft, with any edits; the workflow re-checks edits and answers."""
    email = await _email(ui, email_id)
    if email is None:
        return render(request, "not_found.html", {"what": "email"}, ui.session, status=404)
    try:
        arg = ApproveEmail(
            email_id=email_id,
            approved_by=ui.user,
            subject=_changed(subject, email.subject),
            preheader=_changed(preheader, email.preheader),
            body_text=_changed(body_text, email.body_text),
        )
    except ValidationError as exc:
        outcome = Outcome(False, "The edit is not valid.", fields=_field_errors(exc))
    else:
        outcome = await _update(ui, email, UPDATE_APPROVE_EMAIL, arg)
        await record_decision(
            ui, request, "email.approve", email, outcome, edited=bool(arg.subject or arg.body_text)
        )
    return await _respond(request, ui, email_id, outcome)


@router.post("/{email_id}/reject", response_class=HTMLResponse)
async def reject(
    request: Request, ui: ActDep, email_id: EmailIdPath, reason: FormText = None
) -> HTMLResponse:
    """Reject the draft with a reason."""
    email = await _email(ui, email_id)
    if email is None:
        return render(request, "not_found.html", {"what": "email"}, ui.session, status=404)
    try:
        arg = RejectEmail(email_id=email_id, rejected_by=ui.user, reason=(reason or "").strip())
    except ValidationError as exc:
        outcome = Outcome(False, "A reason is needed to reject a draft.", fields=_field_errors(exc))
    else:
        outcome = await _update(ui, email, UPDATE_REJECT_EMAIL, arg)
        await record_decision(ui, request, "email.reject", email, outcome, reason=arg.reason)
    return await _respond(request, ui, email_id, outcome)
