"""Delivery feedback: what mail providers and bounce messages tell us after sending.

Pure code (parsing and signature checks, no I/O): each provider module turns its documented
payload into ``FeedbackEvent`` values; the API records them and acts on them. Errors:

    FeedbackError
    ├── BadSignature   the payload is not provably from the provider (HTTP 401, nothing recorded)
    └── BadPayload     it is signed (or authenticated) but not a shape we understand (HTTP 422)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["delivered", "hard_bounce", "soft_bounce", "complaint"]
Provider = Literal["ses", "sendgrid", "postmark", "dsn"]


class FeedbackError(Exception):
    """Base of the feedback errors; the message names the field, never personal data."""


class BadSignature(FeedbackError):
    """The signature (or credential) does not verify."""


class BadPayload(FeedbackError):
    """The payload is not a shape the provider documents."""


@dataclass(frozen=True)
class FeedbackEvent:
    """One recipient's outcome as a provider reported it; ``event_id`` is unique per provider."""

    provider: Provider
    event_id: str
    kind: Kind
    occurred_at: datetime
    recipient: str | None = None
    message_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: object, field_name: str) -> datetime:
    """An ISO 8601 timestamp (providers send up to 7 fraction digits and ``Z``) as aware UTC."""
    if not isinstance(value, str):
        raise BadPayload(f"{field_name}: expected an ISO 8601 timestamp")
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadPayload(f"{field_name}: not an ISO 8601 timestamp") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def normalize_message_id(value: object) -> str | None:
    """``<id@host>`` as Rekindle stores it (providers drop or keep the angle brackets)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return text if text.startswith("<") else f"<{text}>"


def text_field(record: dict[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise BadPayload(f"{where}.{name}: expected a non-empty string")
    return value
