"""Ops actions in the dashboard: pause/resume/unsubscribe a client, cancel/resolve an email,
add a client. Every action needs the approver role, a CSRF token and a ticked confirmation
box (checked here, not only in the browser); it runs the same code as the API
(``api.actions``, ``api.email_actions``) and answers with a redirect carrying a fixed
message code, so nothing typed is ever reflected into the page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api import actions, email_actions
from api.errors import ApiError
from api.ui.common import ActDep, start_timer
from core.contracts.messages import CLIENT_ID_PATTERN

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(start_timer)])
ClientIdPath = Annotated[str, Path(pattern=CLIENT_ID_PATTERN, max_length=128)]
EmailIdPath = Annotated[str, Path(min_length=1, max_length=128)]
Reason = Annotated[str, Form(max_length=500)]
Confirm = Annotated[str, Form(max_length=8)]
# What a redirect may say: codes only, the words are ours.
MESSAGES = {
    "paused": "Paused: no drafting or sending until resumed.",
    "resumed": "Resumed.",
    "unsubscribed": "Unsubscribed: this client will not be emailed again.",
    "cancelled": "The email was cancelled.",
    "resolved": "The email's outcome was recorded.",
    "unchanged": "Nothing changed: it already was so.",
    "created": "Client added; their workflow has started.",
    "confirm": "Tick the confirmation box to go ahead.",
    "invalid": "The form is not valid.",
    "not_paused": "Refused: the client is not paused.",
    "unsubscribed_already": "Refused: the client is unsubscribed.",
    "not_cancellable": "Refused: only drafts and scheduled sends can be cancelled.",
    "not_unknown": "Refused: only an email whose outcome is unknown can be resolved.",
    "unavailable": "Temporal did not answer; nothing was changed. Try again shortly.",
}
ERROR_CODES = {"unsubscribed": "unsubscribed_already"}


def flash(request: Request) -> tuple[bool, str] | None:
    """The message a redirect asked for (``?done=`` or ``?problem=``), if it is one of ours."""
    for key, ok in (("done", True), ("problem", False)):
        code = request.query_params.get(key)
        if code in MESSAGES:
            return ok, MESSAGES[code]
    return None


def _back(target: str, code: str, ok: bool) -> Response:
    return RedirectResponse(f"{target}?{'done' if ok else 'problem'}={code}", status_code=303)


def _problem(exc: ApiError) -> str:
    if exc.status == 422:
        return "invalid"
    if exc.status >= 500:
        return "unavailable"
    return ERROR_CODES.get(exc.code, exc.code if exc.code in MESSAGES else "invalid")


def _until(value: str) -> datetime | None:
    """``datetime-local`` input (UTC on this page) or empty."""
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


@router.post("/clients/{client_id}/{action}", response_class=HTMLResponse)
async def client_action(
    request: Request,
    ui: ActDep,
    client_id: ClientIdPath,
    action: Literal["pause", "resume", "unsubscribe"],
    reason: Reason = "",
    until: Annotated[str, Form(max_length=32)] = "",
    confirm: Confirm = "",
) -> Response:
    """Pause (optionally until), resume or unsubscribe, after confirmation."""
    page = f"/ui/clients/{quote(client_id, safe='')}"
    if confirm != "yes":
        return _back(page, "confirm", ok=False)
    actor = ui.actor(request)
    try:
        if action == "pause":
            result = await actions.pause(ui.state, client_id, actor, _until(until), reason.strip())
        elif action == "resume":
            result = await actions.resume(ui.state, client_id, actor)
        else:
            result = await actions.unsubscribe(ui.state, client_id, actor, reason.strip() or "by ops")
    except ValueError:
        return _back(page, "invalid", ok=False)
    except ApiError as exc:
        return _back(page, _problem(exc), ok=False)
    done = {"pause": "paused", "resume": "resumed", "unsubscribe": "unsubscribed"}[action]
    return _back(page, done if result.changed else "unchanged", ok=True)


@router.post("/emails/{email_id}/{action}", response_class=HTMLResponse)
async def email_action(
    request: Request,
    ui: ActDep,
    email_id: EmailIdPath,
    action: Literal["cancel", "resolve"],
    outcome: Annotated[str, Form(max_length=16)] = "",
    note: Reason = "",
    confirm: Confirm = "",
    back: Annotated[str, Form(max_length=300)] = "/ui/emails",
) -> Response:
    """Cancel a draft or scheduled send; resolve an unknown outcome (sent / not sent)."""
    target = back if back.startswith("/ui/") and "//" not in back and "?" not in back else "/ui/emails"
    if confirm != "yes":
        return _back(target, "confirm", ok=False)
    actor = ui.actor(request)
    try:
        if action == "cancel":
            result = await email_actions.cancel(ui.state, email_id, actor, note.strip() or "cancelled by ops")
        elif outcome in ("sent", "not_sent"):
            result = await email_actions.resolve(ui.state, email_id, actor, outcome, note.strip())  # type: ignore[arg-type]
        else:
            return _back(target, "invalid", ok=False)
    except ApiError as exc:
        return _back(target, _problem(exc), ok=False)
    done = "cancelled" if action == "cancel" else "resolved"
    return _back(target, done if result.changed else "unchanged", ok=True)
