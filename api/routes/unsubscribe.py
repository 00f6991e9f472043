"""Unsubscribe: a confirmation page (GET) and RFC 8058 one-click (POST) on signed links.

GET never unsubscribes (mail scanners follow links); POST does, whether a person
pressed the button or a mail provider sent ``List-Unsubscribe=One-Click``. The
token is an HMAC of the client id, so a link cannot be forged or pointed at another
client. Consent is written to the database first (the sender checks it), then the
workflow is signalled; both steps are idempotent, so a retry is always safe.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from api.deps import StateDep
from api.errors import ERROR_RESPONSES, TEMPORAL_RETRY_AFTER_SECONDS, TemporalUnavailable
from api.store import record_opt_out
from api.temporal_calls import signal_with_start
from core.contracts import Unsubscribed
from core.tokens import verify_unsubscribe_token

router = APIRouter(tags=["unsubscribe"])

TokenPath = Annotated[
    str,
    Path(description="The signed token from the email's unsubscribe link", examples=["YzEw.x"]),
]
HTML = {"text/html": {"example": "<!doctype html><html>…</html>"}}
PAGE_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "An HTML page", "content": HTML},
    404: {"description": "The link is not valid (HTML page)", "content": HTML},
    422: ERROR_RESPONSES[422],
    503: {"description": "Could not finish; retry (HTML page)", "content": HTML},
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


def page(title: str, message: str, status: int = 200, form_action: str | None = None) -> HTMLResponse:
    """A tiny self-contained page; every interpolated value is escaped."""
    form = ""
    if form_action is not None:
        form = (
            f'<form method="post" action="{escape(form_action)}">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button type="submit">Unsubscribe</button></form>'
        )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="font-family: sans-serif; max-width: 32rem; margin: 4rem auto">'
        f"<h1>{escape(title)}</h1><p>{escape(message)}</p>{form}</body></html>"
    )
    headers = {"Retry-After": str(TEMPORAL_RETRY_AFTER_SECONDS)} if status == 503 else None
    return HTMLResponse(body, status_code=status, headers=headers)


def _invalid() -> HTMLResponse:
    return page("Link not valid", "This unsubscribe link is not valid. Use the link in the email.", 404)


@router.get(
    "/u/{token}", response_class=HTMLResponse, responses=PAGE_RESPONSES, summary="Confirm unsubscribe"
)
async def confirm_page(token: TokenPath, state: StateDep) -> HTMLResponse:
    """The confirmation page: a button that POSTs back to the same link."""
    if verify_unsubscribe_token(token, _secret(state)) is None:
        return _invalid()
    return page(
        "Unsubscribe",
        "Press the button to stop receiving these emails.",
        form_action=f"/u/{token}",
    )


@router.post(
    "/u/{token}",
    response_class=HTMLResponse,
    responses=PAGE_RESPONSES,
    summary="Unsubscribe (one-click, RFC 8058)",
    openapi_extra=ONE_CLICK_BODY,
)
async def unsubscribe(token: TokenPath, state: StateDep) -> HTMLResponse:
    """Record the opt-out and tell the client's workflow; idempotent."""
    client_id = verify_unsubscribe_token(token, _secret(state))
    if client_id is None:
        return _invalid()
    at = await record_opt_out(state.sessions, client_id)
    try:
        await signal_with_start(
            state.temporal, state.start, client_id, "unsubscribed", Unsubscribed(at=at, source="one_click")
        )
    except TemporalUnavailable:
        return page("Please try again", "We could not finish just now. Please try again in a minute.", 503)
    return page("You are unsubscribed", "You will not receive these emails any more.")


def _secret(state: StateDep) -> str:
    return state.settings.security.unsubscribe_secret.get_secret_value()
