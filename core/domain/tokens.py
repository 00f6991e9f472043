"""Signed unsubscribe tokens: pure HMAC, no I/O, no expiry.

A token is ``<client id, base64url>.<HMAC-SHA256 tag, base64url, 128 bits>``. It never
expires on purpose: an unsubscribe link in a year-old email must still work (RFC 8058
one-click links are followed by mail providers at any time). The client id is an
opaque key, not personal data, so it may appear in the link. Rotating the secret
invalidates old links, so keep the old secret in ``verify`` callers while rotating.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_PURPOSE = b"rekindle:unsubscribe:v1:"
_TAG_BYTES = 16
MAX_TOKEN_CHARS = 400
# base64url of the client id, ".", base64url of its tag (unpadded)
TOKEN_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"  # noqa: S105 - a form, not a secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(client_id: str, secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, _PURPOSE + client_id.encode(), hashlib.sha256).digest()[:_TAG_BYTES]


def make_unsubscribe_token(client_id: str, secret: str | bytes) -> str:
    """The URL-safe token that identifies ``client_id`` in an unsubscribe link."""
    if not client_id:
        raise ValueError("client_id must not be empty")
    return f"{_b64(client_id.encode())}.{_b64(_tag(client_id, secret))}"


def verify_unsubscribe_token(token: str, secret: str | bytes) -> str | None:
    """The client id a genuine token names, or ``None`` for anything forged or malformed."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    encoded_id, encoded_tag = token.split(".")
    try:
        client_id = _unb64(encoded_id).decode()
        tag = _unb64(encoded_tag)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not client_id or not hmac.compare_digest(tag, _tag(client_id, secret)):
        return None
    return client_id
