"""The preference page behind every email's unsubscribe link, and RFC 8058 one-click.

``GET /u/{token}`` never changes anything (mail scanners follow links): it shows the client's
state and buttons to unsubscribe, pause for 30 or 90 days, or resubscribe. ``POST /u/{token}``
unsubscribes, whether a person pressed the button or a mail provider sent
``List-Unsubscribe=One-Click``. The token is an HMAC of the client id, so a link cannot be forged
or pointed at another client. Each change goes to the database first (the sender checks it),
with its time and source, then to the workflow; every step is idempotent, so a retry is safe.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from api.consent import PAUSE_DAYS, ConsentStatus, SignalSource, consent_status, opt_out, resubscribe, snooze
from api.deps import StateDep
from api.errors import ERROR_RESPONSES, TEMPORAL_RETRY_AFTER_SECONDS
from api.ui.common import env, security_headers
from core.domain.tokens import MAX_TOKEN_CHARS, TOKEN_PATTERN, verify_unsubscribe_token
from core.runtime.client_workflow import TemporalUnavailable

router = APIRouter(tags=["unsubscribe"])

TokenPath = Annotated[
    str,
    Path(
        description="The signed token from the email's unsubscribe link",
        examples=["YzEw.x"],
        # The token's form, for the document: the route itself answers any other string with the
        # "link is not valid" page (404), as it does a forged one, never a JSON 422.
        json_schema_extra={"pattern": TOKEN_PATTERN, "maxLength": MAX_TOKEN_CHARS},
    ),
]
HTML = {"text/html": {"example": "<!doctype html><html>…</html>"}}
PAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "An HTML page", "content": HTML},
    # A link whose token is cut or forged gets the HTML page; a token with "/" in it no longer
    # reaches this route at all, and the router's JSON 404 answers.
    404: {
        "description": "The link is not valid (HTML page)",
        "content": {**HTML, "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    },
    422: ERROR_RESPONSES[422],
    503: {"description": "Could not finish; retry (HTML page)", "content": HTML},
}
# A pause for other than 30 or 90 days (the page's buttons send only those) gets an HTML page.
PAUSE_RESPONSES: dict[int | str, dict[str, object]] = {
    **PAGE_RESPONSES,
    422: {
        "description": "Not 30 or 90 days (HTML page), or a malformed request (JSON)",
        "content": {**HTML, "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    },
}
ONE_CLICK_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"List-Unsubscribe": {"type": "string"}}},
                "example": {"List-Unsubscribe": "One-Click"},
            }
        },
    }
}


def page(
    title: str,
    message: str,
    status: int = 200,
    token: str | None = None,
    consent: ConsentStatus | None = None,
) -> HTMLResponse:
    """The page, autoescaped by Jinja2; buttons only when the link is valid."""
    body = env.get_template("preferences.html").render(
        title=title, message=message, token=token, status=consent, pause_days=PAUSE_DAYS
    )
    headers = {"Retry-After": str(TEMPORAL_RETRY_AFTER_SECONDS)} if status == 503 else None
    response = HTMLResponse(body, status_code=status, headers=headers)
    security_headers(response)
    return response


def _invalid() -> HTMLResponse:
    return page("Link not valid", "This link is not valid. Use the link in the email.", 404)


def _retry() -> HTMLResponse:
    return page("Please try again", "We could not finish just now. Please try again in a minute.", 503)


async def _done(state: StateDep, token: str, client_id: str, title: str, message: str) -> HTMLResponse:
    async with state.sessions() as session:
        consent = await consent_status(session, client_id)
    return page(title, message, token=token, consent=consent)


@router.get("/u/{token}", response_class=HTMLResponse, responses=PAGE_RESPONSES, summary="Email preferences")
async def preferences(token: TokenPath, state: StateDep) -> HTMLResponse:
    """The preference page: the client's state and what they can change."""
    client_id = verify_unsubscribe_token(token, _secret(state))
    if client_id is None:
        return _invalid()
    return await _done(state, token, client_id, "Email preferences", "Choose what you receive from us.")


@router.post(
    "/u/{token}",
    response_class=HTMLResponse,
    responses=PAGE_RESPONSES,
    summary="Unsubscribe (one-click, RFC 8058)",
    openapi_extra=ONE_CLICK_BODY,
)
async def unsubscribe(token: TokenPath, request: Request, state: StateDep) -> HTMLResponse:
    """Record the opt-out and tell the client's workflow; idempotent."""
    form = await request.form()
    one_click = form.get("List-Unsubscribe") == "One-Click" or "action" not in form
    source = "one_click" if one_click else "preferences"
    heard: SignalSource = "one_click" if one_click else "link"

    async def act(client_id: str) -> None:
        await opt_out(state, client_id, source=source, signal_source=heard)

    return await _change(
        state, token, act, "You are unsubscribed", "You will not receive these emails any more."
    )


@router.post(
    "/u/{token}/pause", response_class=HTMLResponse, responses=PAUSE_RESPONSES, summary="Pause emails"
)
async def pause(
    token: TokenPath,
    state: StateDep,
    days: Annotated[int, Form(description="30 or 90", json_schema_extra={"enum": list(PAUSE_DAYS)})],
) -> HTMLResponse:
    """No emails for 30 or 90 days; they resume by themselves."""
    if days not in PAUSE_DAYS:  # the page's buttons send only these: an HTML answer, as they get
        return page("Not a choice", "Emails can be paused for 30 or 90 days.", 422)

    async def act(client_id: str) -> None:
        await snooze(state, client_id, days, source="preferences")

    return await _change(state, token, act, "Emails paused", f"We will not email you for {days} days.")


@router.post(
    "/u/{token}/resubscribe", response_class=HTMLResponse, responses=PAGE_RESPONSES, summary="Resubscribe"
)
async def opt_in(token: TokenPath, state: StateDep) -> HTMLResponse:
    """Opt in again after an unsubscribe or a pause."""

    async def act(client_id: str) -> None:
        await resubscribe(state, client_id, source="preferences")

    return await _change(
        state, token, act, "You are subscribed", "Welcome back: you will hear from us again."
    )


async def _change(
    state: StateDep, token: str, act: Callable[[str], Awaitable[None]], title: str, message: str
) -> HTMLResponse:
    client_id = verify_unsubscribe_token(token, _secret(state))
    if client_id is None:
        return _invalid()
    try:
        await act(client_id)
    except TemporalUnavailable:
        return _retry()
    return await _done(state, token, client_id, title, message)


def _secret(state: StateDep) -> str:
    return state.settings.security.unsubscribe_secret.get_secret_value()
