"""HTTP basic auth for webhooks whose senders authenticate by credentials in the URL (Postmark,
the generic inbound-mail hook): constant-time comparison, 401 with a challenge otherwise."""

from __future__ import annotations

import base64
import binascii
import hmac

from fastapi import Request
from pydantic import SecretStr

from api.errors import ApiError


def not_configured(what: str) -> ApiError:
    return ApiError(404, "not_found", f"the {what} webhook is not configured")


def require_basic_auth(request: Request, username: str | None, password: SecretStr | None, what: str) -> None:
    """Raise 404 when the webhook has no credentials configured, 401 when the request's differ."""
    if not username or password is None:
        raise not_configured(what)
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    try:
        given = base64.b64decode(encoded, validate=True).decode() if scheme.lower() == "basic" else ""
    except (binascii.Error, UnicodeDecodeError):
        given = ""
    user, _, secret = given.partition(":")
    expected = password.get_secret_value()
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    if not (hmac.compare_digest(secret.encode(), expected.encode()) and user_ok):
        raise ApiError(
            401,
            "unauthorized",
            "the webhook credentials are not valid",
            headers={"WWW-Authenticate": "Basic"},
        )
