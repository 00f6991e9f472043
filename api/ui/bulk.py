"""Bulk decisions in the approval queue: approve or reject the selected drafts together.

Each draft is its own ``approve_email``/``reject_email`` Update with a deterministic id
(a resubmitted form is deduplicated by Temporal), a few at a time; the page lists each
draft's answer, so one refusal (already decided, expired) never hides the others.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from api.ui import queries
from api.ui.approvals import Outcome, _update, record_decision
from api.ui.common import ActDep, Ui, render, start_timer
from core.contracts.approval import ApproveEmail, RejectEmail
from core.store.models import Email

router = APIRouter(prefix="/ui/approvals", include_in_schema=False, dependencies=[Depends(start_timer)])
MAX_SELECTED = 100
Results = list[tuple[str, Email | None, Outcome]]
IN_FLIGHT = 8  # Updates at once: enough to hide round trips, few enough for the frontend


@router.post("/bulk", response_class=HTMLResponse)
async def bulk(
    request: Request,
    ui: ActDep,
    decision: Annotated[Literal["approve", "reject"], Form()],
    email_id: Annotated[list[str], Form(max_length=MAX_SELECTED)] = [],  # noqa: B006 - FastAPI's form default
    reason: Annotated[str, Form(max_length=1000)] = "",
) -> HTMLResponse:
    """One Update per selected draft; the answer for each."""
    ids = list(dict.fromkeys(i for i in email_id if 0 < len(i) <= 128))
    if decision == "reject" and not reason.strip():
        refused: Results = [(i, None, Outcome(False, "A reason is needed to reject drafts.")) for i in ids]
        return _page(request, ui, decision, refused, 422)
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(eid: str) -> tuple[str, Email | None, Outcome]:
        async with gate:
            return (eid, *await _decide(request, ui, eid, decision, reason.strip()))

    results: Results = list(await asyncio.gather(*(one(i) for i in ids)))
    return _page(request, ui, decision, results, 200)


async def _decide(
    request: Request, ui: Ui, email_id: str, decision: str, reason: str
) -> tuple[Email | None, Outcome]:
    async with ui.state.sessions() as session:
        found = await queries.email_with_client(session, email_id)
    if found is None:
        return None, Outcome(False, "No such email.")
    email, _ = found
    try:
        arg: ApproveEmail | RejectEmail = (
            ApproveEmail(email_id=email_id, approved_by=ui.user)
            if decision == "approve"
            else RejectEmail(email_id=email_id, rejected_by=ui.user, reason=reason)
        )
    except ValidationError:
        return email, Outcome(False, "Not a valid decision.")
    outcome = await _update(ui, email, f"{decision}_email", arg)
    await record_decision(ui, request, f"email.{decision}", email, outcome, bulk=True)
    return email, outcome


def _page(request: Request, ui: Ui, decision: str, results: Results, status: int) -> HTMLResponse:
    done = sum(1 for _, _, o in results if o.ok)
    context = {"decision": decision, "results": results, "done": done}
    return render(request, "approvals_bulk.html", context, ui.session, status=status)
