"""The audit log page (admins only): newest first, filtered by actor, action, target, outcome."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BeforeValidator, StringConstraints

from api.ui.common import AdminDep, render, start_timer
from core.store.audit import AuditFilters, list_entries

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(start_timer)])
Blank = BeforeValidator(lambda v: None if v == "" else v)
Text = Annotated[Annotated[str, StringConstraints(max_length=128)] | None, Blank, Query()]


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    ui: AdminDep,
    actor: Text = None,
    action: Text = None,
    target_id: Text = None,
    outcome: Annotated[Literal["ok", "denied", "failed"] | None, Blank, Query()] = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    """Who did what, when and from where; 100 a page, keyset by id."""
    filters = AuditFilters(actor=actor, action=action, target_id=target_id, outcome=outcome)
    async with ui.state.sessions() as session:
        rows, next_id = await list_entries(session, filters, before, 100)
    params = {k: v for k, v in request.query_params.items() if k != "before" and v}
    context = {"rows": rows, "filters": filters, "params": params, "next_id": next_id}
    return render(request, "audit.html", context, ui.session)
