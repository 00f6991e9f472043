"""Amazon SNS over HTTPS carrying Amazon SES notifications: signature checks and parsing.

SNS signs a canonical string of the message's fields ("Key\\nValue\\n" for each, in a fixed
order; ``Subject`` only when present) with RSA, SHA1 for ``SignatureVersion`` 1 and SHA256 for
2, and names the certificate in ``SigningCertURL``. The certificate is trusted only from
``https://sns.<region>.amazonaws.com`` (or ``.amazonaws.com.cn``), so nobody can sign with a
certificate of their own. ``SubscribeURL`` must point at the same hosts before we visit it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from core.domain.feedback import (
    BadPayload,
    BadSignature,
    FeedbackEvent,
    Kind,
    normalize_message_id,
    parse_time,
)

NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
TYPES = {"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"}
_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$")
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def parse_envelope(body: bytes) -> dict[str, Any]:
    """The SNS JSON document, with the fields every message type carries."""
    try:
        message = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("body: not JSON") from None
    if (
        not isinstance(message, dict)
        or not isinstance(message.get("Type"), str)
        or message["Type"] not in TYPES
    ):
        raise BadPayload("body.Type: expected an SNS message type")
    return message


def string_to_sign(message: dict[str, Any]) -> bytes:
    """The canonical string SNS signs for this message type."""
    notification = message["Type"] == "Notification"
    fields = NOTIFICATION_FIELDS if notification else CONFIRMATION_FIELDS
    parts = []
    for name in fields:
        value = message.get(name)
        if name == "Subject" and value is None:
            continue
        if not isinstance(value, str):
            raise BadSignature(f"body.{name}: missing, cannot verify the signature")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode()


def trusted_url(url: object, extra_prefixes: Sequence[str] = ()) -> str:
    """``url`` if it is an SNS endpoint (https, sns.<region>.amazonaws.com) or configured extra."""
    if not isinstance(url, str):
        raise BadSignature("the SNS URL is missing")
    if any(url.startswith(prefix) for prefix in extra_prefixes if prefix):
        return url
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.port not in (None, 443)
        or not _SNS_HOST.match(parts.hostname or "")
    ):
        raise BadSignature("the SNS URL is not an Amazon SNS endpoint")
    return url


def verify(message: dict[str, Any], certificate_pem: bytes, now: datetime | None = None) -> None:
    """Raise ``BadSignature`` unless ``message`` is signed by the key of ``certificate_pem``."""
    algorithm = _HASHES.get(str(message.get("SignatureVersion")))
    if algorithm is None:
        raise BadSignature("unsupported SignatureVersion")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
        certificate = x509.load_pem_x509_certificate(certificate_pem)
    except (binascii.Error, ValueError):
        raise BadSignature("the signature or the signing certificate is malformed") from None
    moment = now or datetime.now(UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise BadSignature("the signing certificate is not valid now")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadSignature("the signing certificate does not hold an RSA key")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise BadSignature("the SNS signature does not verify") from None


def ses_events(message: dict[str, Any]) -> list[FeedbackEvent]:
    """The SES bounce, complaint or delivery notification inside a verified SNS Notification."""
    try:
        notification = json.loads(message["Message"])
    except (ValueError, TypeError):
        raise BadPayload("body.Message: not an SES notification") from None
    if not isinstance(notification, dict):
        raise BadPayload("body.Message: not an SES notification")
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail")
    mail = mail if isinstance(mail, dict) else {}
    base = {"sns_id": str(message["MessageId"]), "message_id": _original_message_id(mail)}
    if kind == "Bounce":
        return _bounces(notification, base)
    if kind == "Complaint":
        return _recipients(notification, "complaint", "complainedRecipients", "complaint", base)
    if kind == "Delivery":
        return _recipients(notification, "delivery", "recipients", "delivered", base)
    return []  # sends, opens, clicks ...: not feedback we act on


def _original_message_id(mail: dict[str, Any]) -> str | None:
    common = mail.get("commonHeaders")
    if isinstance(common, dict) and common.get("messageId"):
        return normalize_message_id(common["messageId"])
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            return normalize_message_id(header.get("value"))
    return None


def _section(notification: dict[str, Any], name: str) -> dict[str, Any]:
    section = notification.get(name)
    if not isinstance(section, dict):
        raise BadPayload(f"body.Message.{name}: expected an object")
    return section


def _bounces(notification: dict[str, Any], base: dict[str, Any]) -> list[FeedbackEvent]:
    bounce = _section(notification, "bounce")
    kind: Kind = "hard_bounce" if bounce.get("bounceType") == "Permanent" else "soft_bounce"
    detail = {"bounce_type": bounce.get("bounceType"), "bounce_subtype": bounce.get("bounceSubType")}
    events = []
    for index, recipient in enumerate(_list(bounce, "bouncedRecipients", "bounce")):
        address = recipient.get("emailAddress") if isinstance(recipient, dict) else None
        status = recipient.get("status") if isinstance(recipient, dict) else None
        events.append(_event(base, index, kind, bounce, address, {**detail, "status": status}))
    return events


def _recipients(
    notification: dict[str, Any], section_name: str, list_name: str, kind: Kind, base: dict[str, Any]
) -> list[FeedbackEvent]:
    section = _section(notification, section_name)
    detail = {"feedback_type": section.get("complaintFeedbackType")} if kind == "complaint" else {}
    events = []
    for index, recipient in enumerate(_list(section, list_name, section_name)):
        address = recipient.get("emailAddress") if isinstance(recipient, dict) else recipient
        events.append(_event(base, index, kind, section, address, detail))
    return events


def _list(section: dict[str, Any], name: str, where: str) -> list[Any]:
    value = section.get(name)
    if not isinstance(value, list) or not value:
        raise BadPayload(f"body.Message.{where}.{name}: expected a non-empty list")
    return value


def _event(
    base: dict[str, Any],
    index: int,
    kind: Kind,
    section: dict[str, Any],
    address: object,
    detail: dict[str, Any],
) -> FeedbackEvent:
    return FeedbackEvent(
        provider="ses",
        event_id=f"{base['sns_id']}#{index}",
        kind=kind,
        occurred_at=parse_time(section.get("timestamp"), "body.Message.timestamp"),
        recipient=address if isinstance(address, str) else None,
        message_id=base["message_id"],
        detail={k: v for k, v in detail.items() if v is not None},
    )
