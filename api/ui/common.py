"""What every dashboard page shares: templates, sign-in and CSRF checks, rendering.

Pages are server-rendered HTML with autoescaping on; the Content-Security-Policy
allows scripts from our own origin only, so nothing built from data can run.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse

from api.deps import AppState, get_state
from api.ui import session as cookies
from api.ui.session import UiSession
from core.domain.money import from_minor
from core.store.audit import Actor
from core.store.opsusers import Role, active_role, role_allows

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
HTMX = "htmx-2.0.11.min.js"
# Email previews keep their inline styles; remote images stay blocked (no tracking pixels).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _date(value: datetime | None, fmt: str = "%Y-%m-%d") -> str:
    return value.astimezone(UTC).strftime(fmt) if value else "—"


def _datetime(value: datetime | None) -> str:
    return _date(value, "%Y-%m-%d %H:%M UTC")


def _pct(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _money(minor: int, currency: str | None) -> str:
    if not currency:
        return "—"
    return f"{from_minor(minor, currency):,} {currency}"


env.filters.update(
    money=_money, date=_date, datetime=_datetime, pct=_pct, urlpart=lambda v: quote(str(v), safe="")
)
env.globals.update(htmx=HTMX)


def start_timer(request: Request) -> None:
    """Router dependency: when the request started, for the Server-Timing header."""
    request.state.ui_started = time.perf_counter()


@dataclass(frozen=True)
class Ui:
    """A signed-in request: the app's resources and the ops user's session."""

    state: AppState
    session: UiSession
    role: str = "viewer"

    @property
    def user(self) -> str:
        return self.session.user or ""

    def can(self, needed: Role) -> bool:
        return role_allows(self.role, needed)

    def actor(self, request: Request) -> Actor:
        return Actor(self.user, "ops_user", request.client.host if request.client else None)


def _secret(state: AppState) -> str:
    return state.settings.security.session_secret.get_secret_value()


def is_htmx(request: Request) -> bool:
    """An htmx request for a fragment (a history restore after Back wants the whole page)."""
    headers = request.headers
    return bool(headers.get("hx-request")) and not headers.get("hx-history-restore-request")


def login_redirect(request: Request) -> HTTPException:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/ui/login?next={quote(target, safe='')}"
    if is_htmx(request):
        # htmx follows 3xx inside XHR and would swap the login page into a fragment.
        return HTTPException(401, "sign in first", headers={"HX-Redirect": location})
    return HTTPException(303, "sign in first", headers={"Location": location})


async def signed_in(request: Request, state: Annotated[AppState, Depends(get_state)]) -> Ui:
    """Dependency of every page: the signed-in session, or a redirect to the login page.

    The role is read per request, so a role change or a disabled user takes effect at once.
    """
    session = cookies.read(request, _secret(state))
    if session is None or not session.user:
        raise login_redirect(request)
    role = await active_role(state.sessions, session.user)
    if role is None:
        raise login_redirect(request)
    request.state.ui_role = role  # for the templates: which buttons to show
    return Ui(state, session, role)


async def csrf_checked(request: Request, ui: Annotated[Ui, Depends(signed_in)]) -> Ui:
    """Dependency of every POST: the form field or htmx header must carry the session's token."""
    submitted = request.headers.get(cookies.CSRF_HEADER)
    if submitted is None:
        form = await request.form()
        value = form.get(cookies.CSRF_FIELD)
        submitted = value if isinstance(value, str) else None
    if not cookies.csrf_ok(ui.session, submitted):
        raise HTTPException(403, "the form's CSRF token is missing or stale; reload the page")
    return ui


def _requires(needed: Role) -> Callable[[Ui], Awaitable[Ui]]:
    async def check(ui: Annotated[Ui, Depends(csrf_checked)]) -> Ui:
        if not ui.can(needed):
            raise HTTPException(403, f"this needs the {needed} role")
        return ui

    return check


async def admin_only(ui: Annotated[Ui, Depends(signed_in)]) -> Ui:
    if not ui.can("admin"):
        raise HTTPException(403, "this page needs the admin role")
    return ui


UiDep = Annotated[Ui, Depends(signed_in)]
PostDep = Annotated[Ui, Depends(csrf_checked)]
# A POST that decides or acts: an approver (or admin) with a valid CSRF token.
ActDep = Annotated[Ui, Depends(_requires("approver"))]
AdminDep = Annotated[Ui, Depends(admin_only)]


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    session: UiSession | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render a template with the security headers and the server time it took."""
    html = env.get_template(template).render(
        request=request,
        csrf=session.csrf if session else "",
        user=session.user if session else None,
        role=getattr(request.state, "ui_role", "viewer"),
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Vary"] = "HX-Request"
    started = getattr(request.state, "ui_started", None)
    if started is not None:
        response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    security_headers(response)
    return response


def security_headers(response: HTMLResponse) -> None:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
