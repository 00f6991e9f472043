"""The "add client" form: the same fields and validation as ``PUT /v1/clients/{id}``.

A client who already exists is refused (this form adds; the API updates). On success
the client's workflow is started with their profile, exactly as the API does it.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api import actions
from api.errors import ApiError
from api.schemas import ClientProfileIn
from api.ui.common import ActDep, UiDep, render, start_timer
from core.contracts.messages import CLIENT_ID_PATTERN
from core.store import audit
from core.store.models import Client

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(start_timer)])
FIELDS = ("email", "first_name", "last_name", "time_zone", "locale", "style_notes")
Text = Annotated[str, Form(max_length=4000)]


@router.get("/new-client", response_class=HTMLResponse)
async def form(request: Request, ui: UiDep) -> HTMLResponse:
    return render(request, "client_new.html", {"values": {}, "errors": {}, "problem": None}, ui.session)


@router.post("/new-client", response_class=HTMLResponse)
async def create(
    request: Request,
    ui: ActDep,
    client_id: Annotated[str, Form(max_length=256)] = "",
    email: Text = "",
    first_name: Text = "",
    last_name: Text = "",
    time_zone: Text = "",
    locale: Text = "",
    style_notes: Text = "",
) -> Response:
    """Validate like the API; 422 with the reasons beside the fields, else to the new client."""
    values = dict(zip(FIELDS, (email, first_name, last_name, time_zone, locale, style_notes), strict=True))
    values["client_id"] = client_id.strip()
    errors: dict[str, str] = {}
    if not re.fullmatch(CLIENT_ID_PATTERN, values["client_id"]):
        errors["client_id"] = "1-128 letters, digits or . _ : -, starting with a letter or digit"
    try:
        profile = ClientProfileIn.model_validate(
            {k: v.strip() or None for k, v in values.items() if k in FIELDS}
        )
    except ValidationError as exc:
        for e in exc.errors():
            errors[str(e["loc"][0]) if e["loc"] else "form"] = e["msg"].removeprefix("Value error, ")
    if not errors:
        async with ui.state.sessions() as session:
            if await session.get(Client, values["client_id"]) is not None:
                errors["client_id"] = "a client with this id exists already"
    if errors:
        return _form(request, ui, values, errors, None, 422)
    try:
        await actions.upsert_client(ui.state, values["client_id"], profile)
    except ApiError:
        return _form(request, ui, values, {}, "Temporal did not answer; nothing was added. Try again.", 503)
    actor = ui.actor(request)
    await audit.record(
        ui.state.sessions, actor, "client.create", target_type="client", target_id=values["client_id"]
    )
    return RedirectResponse(f"/ui/clients/{values['client_id']}?done=created", status_code=303)


def _form(
    request: Request,
    ui: ActDep,
    values: dict[str, str],
    errors: dict[str, str],
    problem: str | None,
    status: int,
) -> HTMLResponse:
    context = {"values": values, "errors": errors, "problem": problem}
    return render(request, "client_new.html", context, ui.session, status=status)
