"""Postmark's bounce, spam-complaint and delivery webhooks, and its inbound-mail webhook.

Postmark authenticates webhooks with the HTTP basic-auth credentials put in the webhook's URL;
the API checks them. Postmark's own ``MessageID`` is not ours, so events are matched to emails
by recipient address.
"""

from __future__ import annotations

import hashlib
from typing import Any

from core.domain.feedback import BadPayload, FeedbackEvent, Kind, parse_time, text_field

HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
SOFT = {"SoftBounce", "Transient", "DnsError", "Blocked", "Undeliverable"}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _bounce_kind(record: dict[str, Any]) -> Kind | None:
    kind = record.get("Type")
    if record.get("RecordType") == "SpamComplaint" or kind == "SpamComplaint":
        return "complaint"
    if kind in HARD:
        return "hard_bounce"
    return "soft_bounce" if kind in SOFT else None  # auto-replies, subscribe requests ...


def events(record: object) -> list[FeedbackEvent]:
    """The event one webhook call carries (Postmark posts one record per call)."""
    if not isinstance(record, dict):
        raise BadPayload("body: expected a JSON object")
    record_type = record.get("RecordType")
    if record_type == "Delivery":
        message_id = text_field(record, "MessageID", "body")
        recipient = text_field(record, "Recipient", "body")
        return [
            FeedbackEvent(
                provider="postmark",
                # Postmark gives deliveries no id; the address is hashed, never stored in an id
                event_id=f"delivery:{message_id}:{_digest(recipient.lower())}",
                kind="delivered",
                occurred_at=parse_time(record.get("DeliveredAt"), "body.DeliveredAt"),
                recipient=recipient,
                detail={"record_type": "Delivery"},
            )
        ]
    if record_type not in ("Bounce", "SpamComplaint"):
        return []
    kind = _bounce_kind(record)
    event_id = record.get("ID")
    if not isinstance(event_id, int | str) or isinstance(event_id, bool) or kind is None:
        if kind is None:
            return []
        raise BadPayload("body.ID: expected the bounce id")
    return [
        FeedbackEvent(
            provider="postmark",
            event_id=f"{record_type}:{event_id}",
            kind=kind,
            occurred_at=parse_time(record.get("BouncedAt"), "body.BouncedAt"),
            recipient=text_field(record, "Email", "body"),
            detail={
                "record_type": record_type,
                "type": record.get("Type"),
                "type_code": record.get("TypeCode"),
            },
        )
    ]


def inbound_subject_and_text(record: object) -> tuple[str, str]:
    """The subject and text body of a Postmark inbound message (where a mailto token lives)."""
    if not isinstance(record, dict):
        raise BadPayload("body: expected a JSON object")
    subject = record.get("Subject")
    text = record.get("TextBody")
    if not isinstance(subject, str):
        raise BadPayload("body.Subject: expected a string")
    return subject, text if isinstance(text, str) else ""
