"""Opaque cursors for keyset pagination: the last row's sort key, base64url JSON.

A cursor is only a position; it carries no filters and grants nothing. A cursor
that does not decode is a 422 on ``query.cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json

from api.errors import ApiError, FieldError

MAX_CURSOR_CHARS = 512


def encode_cursor(*key: str) -> str:
    raw = json.dumps(
        list(key),
        separators=(",", ":"),
    ).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, arity: int) -> list[str]:
    """The sort key a cursor holds: ``arity`` strings, else a 422."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        key = None
    if not isinstance(key, list) or len(key) != arity or not all(isinstance(k, str) for k in key):
        raise bad_cursor()
    return key


def bad_cursor() -> ApiError:
    return ApiError(
        422,
        "validation_error",
        "the request is not valid",
        [FieldError(field="query.cursor", reason="not a cursor this API returned")],
    )
