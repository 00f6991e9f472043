"""The emails page: every email, filtered by status, tier, creation date range and client,
newest first, one keyset page at a time (no OFFSET, no COUNT: constant cost per page at a
million emails, served by ``ix_emails_created_at_id`` and ``ix_emails_status_created_at_id``)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator, StringConstraints
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from api.ui.common import UiDep, render, start_timer
from api.ui.ops import flash
from core.contracts.emails import EmailStatus
from core.contracts.messages import CLIENT_ID_PATTERN
from core.store.models import Client, Email

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(start_timer)])
PAGE = 50
Blank = BeforeValidator(lambda v: None if v == "" else v)
STATUSES = (
    "pending_approval", "approved", "sending", "sent", "rejected", "expired", "failed", "unknown", "holdout",
    "cancelled",
)  # fmt: skip


@dataclass(frozen=True)
class EmailFilter:
    status: str | None = None
    tier: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    client_id: str | None = None


def _key(cursor: str | None) -> tuple[datetime, str] | None:
    """The last row of the previous page; a cursor that does not decode starts over."""
    if not cursor:
        return None
    try:
        at, _, email_id = base64.urlsafe_b64decode(cursor + "==").decode().partition("|")
        return datetime.fromisoformat(at), email_id
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _cursor(email: Email) -> str:
    return (
        base64.urlsafe_b64encode(f"{email.created_at.isoformat()}|{email.id}".encode()).decode().rstrip("=")
    )


def email_query(f: EmailFilter, after: tuple[datetime, str] | None) -> Select[Email, Client]:
    query = select(Email, Client).join(Client, Client.id == Email.client_id)
    if f.status:
        query = query.where(Email.status == f.status)
    if f.tier:
        # A probe per email, not a join the planner may start from: walking the emails newest
        # first and checking each one's client keeps a page cheap even for a common tier.
        tiered = aliased(Client)
        in_tier = select(tiered.id).where(tiered.id == Email.client_id, tiered.tier == f.tier)
        query = query.where(in_tier.exists())
    if f.client_id:
        query = query.where(Email.client_id == f.client_id)
    if f.created_from:
        query = query.where(Email.created_at >= datetime.combine(f.created_from, time.min, tzinfo=UTC))
    if f.created_to:
        end = datetime.combine(f.created_to + timedelta(days=1), time.min, tzinfo=UTC)
        query = query.where(Email.created_at < end)
    if after is not None:
        at, email_id = after
        query = query.where(or_(Email.created_at < at, and_(Email.created_at == at, Email.id < email_id)))
    return query.order_by(Email.created_at.desc(), Email.id.desc()).limit(PAGE + 1)


async def list_emails(
    session: AsyncSession, f: EmailFilter, cursor: str | None
) -> tuple[list[tuple[Email, Client]], str | None]:
    rows = [(e, c) for e, c in (await session.execute(email_query(f, _key(cursor)))).all()]
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return rows, (_cursor(rows[-1][0]) if more and rows else None)


@router.get("/emails", response_class=HTMLResponse)
async def emails(
    request: Request,
    ui: UiDep,
    status: Annotated[EmailStatus | None, Blank, Query()] = None,
    tier: Annotated[Literal["active", "cooling", "at_risk", "lapsed"] | None, Blank, Query()] = None,
    created_from: Annotated[date | None, Blank, Query()] = None,
    created_to: Annotated[date | None, Blank, Query()] = None,
    client_id: Annotated[
        Annotated[str, StringConstraints(pattern=CLIENT_ID_PATTERN)] | None, Blank, Query()
    ] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> HTMLResponse:
    """All emails, newest first, with filters; cancel and resolve where the status allows."""
    f = EmailFilter(status, tier, created_from, created_to, client_id)
    async with ui.state.sessions() as session:
        rows, next_cursor = await list_emails(session, f, cursor)
    params = {k: v for k, v in request.query_params.items() if k != "cursor" and k in f.__dataclass_fields__}
    context = {
        "rows": rows, "f": f, "params": params, "next_cursor": next_cursor, "first_page": cursor is None,
        "statuses": STATUSES, "tiers": ("active", "cooling", "at_risk", "lapsed"), "flash": flash(request),
    }  # fmt: skip
    return render(request, "emails.html", context, ui.session)
