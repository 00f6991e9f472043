"""Sign-in, sign-out and the static files of the dashboard."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.deps import StateDep
from api.ui import session as cookies
from api.ui.common import PostDep, render
from core.store import audit
from core.store.audit import Actor
from core.store.opsusers import authenticate

router = APIRouter(prefix="/ui", include_in_schema=False)
STATIC = Path(__file__).resolve().parent.parent / "static"
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
FORM_LIMIT = 1024


def _safe_next(target: str | None) -> str:
    """Only our own pages: an open redirect would make the sign-in page a phishing tool."""
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"


def _secure(state: StateDep) -> bool:
    return state.settings.api.public_base_url.startswith("https://")


@router.get("/login")
async def login_page(request: Request, state: StateDep, next: str | None = None) -> HTMLResponse:
    """The sign-in form; an anonymous session carries its CSRF token."""
    secret = state.settings.security.session_secret.get_secret_value()
    session = cookies.read(request, secret) or cookies.new_session()
    response = render(request, "login.html", {"next": _safe_next(next), "error": None}, session)
    cookies.write(response, session, secret, _secure(state))
    return response


@router.post("/login")
async def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form(max_length=FORM_LIMIT)] = "",
    password: Annotated[str, Form(max_length=FORM_LIMIT)] = "",
    csrf_token: Annotated[str, Form(max_length=FORM_LIMIT)] = "",
    next: Annotated[str, Form(max_length=FORM_LIMIT)] = "/ui",
) -> Response:
    """Check the password; on success a new session (fresh CSRF token) and back to ``next``."""
    secret = state.settings.security.session_secret.get_secret_value()
    anonymous = cookies.read(request, secret)
    if anonymous is None or not cookies.csrf_ok(anonymous, csrf_token):
        fresh = cookies.new_session()
        context = {"next": _safe_next(next), "error": "The sign-in form expired; please sign in again."}
        page = render(request, "login.html", context, fresh, status=403)
        cookies.write(page, fresh, secret, _secure(state))
        return page
    user = username.strip().lower()
    address = request.client.host if request.client else "unknown"
    # An unknown name is recorded as typed (cut short): it says who was tried, never a password.
    actor = Actor(user[:64] or "(empty)", "ops_user", address)
    wait = state.sign_ins.retry_after(user, address)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        error = f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes > 1 else ''}."
        context = {"next": _safe_next(next), "error": error}
        page = render(request, "login.html", context, anonymous, status=429)
        page.headers["Retry-After"] = str(math.ceil(wait))
        await audit.record(
            state.sessions, actor, "ui.sign_in", outcome="denied", detail={"reason": "throttled"}
        )
        return page
    if not await authenticate(state.sessions, user, password):
        state.sign_ins.failed(user, address)
        await audit.record(
            state.sessions, actor, "ui.sign_in", outcome="denied", detail={"reason": "wrong credentials"}
        )
        context = {"next": _safe_next(next), "error": "Wrong username or password."}
        return render(request, "login.html", context, anonymous, status=401)
    state.sign_ins.succeeded(user)
    await audit.record(state.sessions, actor, "ui.sign_in")
    redirect = RedirectResponse(_safe_next(next), status_code=303)
    cookies.write(redirect, cookies.new_session(user), secret, _secure(state))
    return redirect


@router.post("/logout")
async def logout(_ui: PostDep) -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    cookies.clear(response)
    return response


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """Our CSS and the vendored htmx; file names are versioned, so they cache for a day."""
    path = STATIC / name
    if path.suffix not in STATIC_TYPES or path.parent != STATIC or not path.is_file():
        raise HTTPException(404, "no such file")
    return FileResponse(
        path,
        media_type=STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
