"""The dashboard's session cookie: signed (HMAC-SHA256), expiring, carrying a CSRF token.

The cookie holds ``base64(json).base64(hmac)``; nothing secret is in it, only who
signed in, when, and the per-session CSRF token that every form must echo back.

A signed-in session also gets a second copy scoped to ``/codec``: the Temporal Web UI,
served on the same site (another port or subdomain of the dashboard's domain) and set
to include credentials, sends it with its codec calls, so ops who signed in to the
dashboard read decoded payloads there without an OIDC provider. SameSite=Strict keeps
it from other sites; CORS keeps other origins from reading a decode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request, Response

COOKIE = "rekindle_ui"
CODEC_COOKIE = "rekindle_codec"
CODEC_PATH = "/codec"
MAX_AGE_SECONDS = 12 * 3600
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class UiSession:
    """``user`` is None before sign-in: the login form still needs a CSRF token."""

    csrf: str
    user: str | None = None
    issued_at: int = 0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest())


def encode(session: UiSession, secret: str) -> str:
    body = json.dumps({"c": session.csrf, "u": session.user, "t": session.issued_at}, separators=(",", ":"))
    payload = _b64(body.encode())
    return f"{payload}.{_mac(secret, payload)}"


def decode(cookie: str, secret: str, now: float | None = None) -> UiSession | None:
    """The session if the signature is ours and it has not expired; otherwise None."""
    payload, _, mac = cookie.partition(".")
    if not mac or not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        data = json.loads(_unb64(payload))
        session = UiSession(csrf=str(data["c"]), user=data["u"], issued_at=int(data["t"]))
    except (ValueError, KeyError, TypeError):
        return None
    if (now if now is not None else time.time()) - session.issued_at > MAX_AGE_SECONDS:
        return None
    return session


def new_session(user: str | None = None) -> UiSession:
    """A fresh session; a new CSRF token at every sign-in stops session fixation."""
    return UiSession(csrf=secrets.token_urlsafe(32), user=user, issued_at=int(time.time()))


def read(request: Request, secret: str) -> UiSession | None:
    cookie = request.cookies.get(COOKIE)
    return decode(cookie, secret) if cookie else None


def read_codec(request: Request, secret: str) -> UiSession | None:
    """The signed-in session sent to the codec endpoints, if any."""
    cookie = request.cookies.get(CODEC_COOKIE)
    session = decode(cookie, secret) if cookie else None
    return session if session is not None and session.user else None


def write(response: Response, session: UiSession, secret: str, secure: bool) -> None:
    value = encode(session, secret)
    for name, path in ((COOKIE, "/ui"), (CODEC_COOKIE, CODEC_PATH)):
        if name == CODEC_COOKIE and not session.user:
            response.delete_cookie(CODEC_COOKIE, path=CODEC_PATH)
            continue
        response.set_cookie(
            name, value, max_age=MAX_AGE_SECONDS, path=path, httponly=True, secure=secure, samesite="strict"
        )


def clear(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/ui")
    response.delete_cookie(CODEC_COOKIE, path=CODEC_PATH)


def csrf_ok(session: UiSession, submitted: str | None) -> bool:
    return submitted is not None and hmac.compare_digest(session.csrf.encode(), submitted.encode())
