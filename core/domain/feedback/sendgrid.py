"""SendGrid's Event Webhook: ECDSA (P-256, SHA-256) signature checks and event parsing.

SendGrid signs ``timestamp + raw body`` and sends the base64 DER signature and the timestamp in
``X-Twilio-Email-Event-Webhook-Signature`` / ``-Timestamp``. The verification key is shown in
SendGrid's settings as base64 DER (SubjectPublicKeyInfo). A stale timestamp is refused, so a
captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.domain.feedback import BadPayload, BadSignature, FeedbackEvent, Kind, normalize_message_id

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# "deferred" is SendGrid still trying; "dropped" never left SendGrid (it suppresses on its own).
_KINDS: dict[str, Kind] = {"delivered": "delivered", "spamreport": "complaint"}


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key, base64 DER as SendGrid shows it, or PEM."""
    try:
        if text.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text.strip()))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise ValueError("the SendGrid verification key is not a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the SendGrid verification key is not an elliptic-curve key")
    return key


def verify(
    key: ec.EllipticCurvePublicKey,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    max_age_seconds: int,
    now: datetime | None = None,
) -> None:
    """Raise ``BadSignature`` unless SendGrid signed ``timestamp + body`` recently."""
    if not signature or not timestamp:
        raise BadSignature("the signature headers are missing")
    try:
        age = abs((now or datetime.now(UTC)).timestamp() - int(timestamp))
        der = base64.b64decode(signature, validate=True)
    except (ValueError, binascii.Error):
        raise BadSignature("the signature headers are malformed") from None
    if age > max_age_seconds:
        raise BadSignature("the signature timestamp is too old")
    try:
        key.verify(der, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise BadSignature("the SendGrid signature does not verify") from None


def events(body: bytes) -> list[FeedbackEvent]:
    """The delivery, bounce and spam-report events of a verified batch; others are skipped."""
    try:
        batch = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("body: not JSON") from None
    if not isinstance(batch, list):
        raise BadPayload("body: expected a JSON array of events")
    found = []
    for index, record in enumerate(batch):
        if not isinstance(record, dict):
            raise BadPayload(f"body[{index}]: expected an object")
        event = _event(record, index)
        if event is not None:
            found.append(event)
    return found


def _kind(record: dict[str, Any]) -> Kind | None:
    name = record.get("event")
    if name == "bounce":
        # "blocked" is a refusal that may pass later (reputation, content); "bounce" is for good
        return "soft_bounce" if record.get("type") == "blocked" else "hard_bounce"
    return _KINDS.get(str(name))


def _event(record: dict[str, Any], index: int) -> FeedbackEvent | None:
    kind = _kind(record)
    if kind is None:
        return None
    event_id, timestamp = record.get("sg_event_id"), record.get("timestamp")
    if not isinstance(event_id, str) or not event_id:
        raise BadPayload(f"body[{index}].sg_event_id: expected a non-empty string")
    if not isinstance(timestamp, int):
        raise BadPayload(f"body[{index}].timestamp: expected a Unix time")
    detail = {k: record[k] for k in ("type", "status", "bounce_classification") if record.get(k)}
    return FeedbackEvent(
        provider="sendgrid",
        event_id=event_id,
        kind=kind,
        occurred_at=datetime.fromtimestamp(timestamp, UTC),
        recipient=record.get("email") if isinstance(record.get("email"), str) else None,
        message_id=normalize_message_id(record.get("smtp-id")),
        detail={"event": record["event"], **detail},
    )
