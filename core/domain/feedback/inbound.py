"""Mail that comes back to us: RFC 3464 delivery status notifications and mailto unsubscribes.

A DSN is ``multipart/report; report-type=delivery-status``: a human part, a
``message/delivery-status`` part (per-message fields, then one block per recipient with
``Final-Recipient``, ``Action`` and ``Status``), and the original message or its headers, whose
``Message-ID`` is the one Rekindle set. ``Action: failed`` with a 5.x.x status is a hard bounce;
``delayed`` (or failed with 4.x.x) is a soft one; ``delivered``/``relayed`` a delivery.

An unsubscribe by mail carries the signed token in its subject, as our ``List-Unsubscribe``
mailto wrote it (``unsubscribe-<token>``); the token, not the sender, names the client.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import parsedate_to_datetime
from typing import Any

from core.domain.feedback import FeedbackEvent, Kind, normalize_message_id

_TOKEN = re.compile(r"unsubscribe-([A-Za-z0-9_-]{1,300}\.[A-Za-z0-9_-]{10,40})")


def parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def unsubscribe_token(subject: str, text: str = "") -> str | None:
    """The token our mailto link put in the subject (or, forwarded by hand, in the body)."""
    found = _TOKEN.search(subject) or _TOKEN.search(text[:10_000])
    return found.group(1) if found else None


def message_token(message: EmailMessage) -> str | None:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return unsubscribe_token(str(message.get("Subject", "")), text if isinstance(text, str) else "")


def is_dsn(message: Message) -> bool:
    return message.get_content_type() == "multipart/report" and (
        str(message.get_param("report-type", "")).lower() == "delivery-status"
    )


def dsn_events(message: EmailMessage, raw: bytes) -> list[FeedbackEvent]:
    """One event per recipient block of a DSN; an empty list for anything else."""
    if not is_dsn(message):
        return []
    blocks, original = _status_blocks(message), _original_message_id(message)
    dsn_id = str(message.get("Message-ID") or hashlib.sha256(raw).hexdigest())
    at = _date(message)
    events = []
    for index, block in enumerate(blocks[1:]):  # the first block is about the message
        kind = _kind(str(block.get("Action", "")), str(block.get("Status", "")))
        if kind is None:
            continue
        detail: dict[str, Any] = {"action": str(block.get("Action", "")).strip().lower()}
        detail["status"] = str(block.get("Status", "")).strip() or None
        events.append(
            FeedbackEvent(
                provider="dsn",
                event_id=f"{dsn_id}#{index}",
                kind=kind,
                occurred_at=at,
                recipient=_address(block.get("Final-Recipient") or block.get("Original-Recipient")),
                message_id=original,
                detail=detail,
            )
        )
    return events


def _kind(action: str, status: str) -> Kind | None:
    action, status = action.strip().lower(), status.strip()
    if action in ("delivered", "relayed"):
        return "delivered"
    if action == "delayed" or (action == "failed" and status.startswith("4")):
        return "soft_bounce"
    return "hard_bounce" if action == "failed" else None


def _status_blocks(message: EmailMessage) -> list[Message]:
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            return (
                [block for block in payload if isinstance(block, Message)]
                if isinstance(payload, list)
                else []
            )
    return []


def _original_message_id(message: EmailMessage) -> str | None:
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return normalize_message_id(inner.get("Message-ID"))
        if kind == "text/rfc822-headers":
            data = part.get_payload(decode=True)
            text = data.decode("ascii", "replace") if isinstance(data, bytes) else ""
            headers = HeaderParser().parsestr(text)
            return normalize_message_id(headers.get("Message-ID"))
    return None


def _address(value: object) -> str | None:
    """``rfc822; anna@example.com`` -> ``anna@example.com``."""
    if value is None:
        return None
    text = str(value)
    address = text.split(";", 1)[1] if ";" in text else text
    return address.strip().strip("<>") or None


def _date(message: Message) -> datetime:
    try:
        return parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)
