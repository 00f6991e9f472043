"""Mail providers at the boundary: SNS (a signing key, its certificate served over real HTTP,
the SubscribeURL endpoint), SendGrid's signing key, and the documented sample payloads.

The payloads follow the providers' documentation (AWS SES notification examples, SendGrid's
Event Webhook reference, Postmark's webhook samples); only the addresses and ids are ours.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response

from core.domain.feedback.sns import string_to_sign
from tests.helpers import serve_app

TOPIC = "arn:aws:sns:us-west-2:123456789012:ses-feedback"


def self_signed(key: rsa.RSAPrivateKey, days: int = 30) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.us-west-2.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class FakeSns:
    """Signs like SNS and serves its certificate and SubscribeURL on a real HTTP server."""

    base_url: str
    key: rsa.RSAPrivateKey
    confirmations: list[str] = field(default_factory=list)
    certificate_fetches: int = 0

    @property
    def cert_url(self) -> str:
        return f"{self.base_url}/SimpleNotificationService-test.pem"

    def sign(self, message: dict[str, Any], version: int = 1, key: rsa.RSAPrivateKey | None = None) -> bytes:
        message = {**message, "SignatureVersion": str(version), "SigningCertURL": self.cert_url}
        digest = hashes.SHA1() if version == 1 else hashes.SHA256()
        signature = (key or self.key).sign(string_to_sign(message), padding.PKCS1v15(), digest)
        message["Signature"] = base64.b64encode(signature).decode()
        return json.dumps(message).encode()

    def notification(self, ses_message: dict[str, Any], message_id: str, version: int = 1) -> bytes:
        return self.sign(
            {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": TOPIC,
                "Message": json.dumps(ses_message),
                "Timestamp": "2026-12-02T15:40:12.345Z",
                "UnsubscribeURL": f"{self.base_url}/?Action=Unsubscribe",
            },
            version,
        )

    def subscription_confirmation(self, token: str) -> bytes:
        return self.sign(
            {
                "Type": "SubscriptionConfirmation",
                "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
                "Token": token,
                "TopicArn": TOPIC,
                "Message": f"You have chosen to subscribe to the topic {TOPIC}.\n"
                "To confirm the subscription, visit the SubscribeURL included in this message.",
                "SubscribeURL": f"{self.base_url}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token={token}",
                "Timestamp": "2026-12-02T15:40:12.345Z",
            },
            2,
        )


@asynccontextmanager
async def fake_sns() -> AsyncIterator[FakeSns]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = self_signed(key)
    app = FastAPI()
    holder: list[FakeSns] = []

    @app.get("/SimpleNotificationService-test.pem")
    async def certificate() -> Response:
        holder[0].certificate_fetches += 1
        return Response(pem, media_type="application/x-pem-file")

    @app.get("/")
    async def confirm(request: Request) -> PlainTextResponse:
        holder[0].confirmations.append(request.query_params.get("Token", ""))
        return PlainTextResponse("<ConfirmSubscriptionResponse/>")

    async with serve_app(app) as base_url:
        holder.append(FakeSns(base_url, key))
        yield holder[0]


# ---- SES notifications (the shapes of AWS's "Amazon SES notification examples") -------------


def _mail(recipient: str, message_id: str) -> dict[str, Any]:
    return {
        "timestamp": "2026-12-02T15:40:10.000Z",
        "messageId": "00000137860315fd-34208509-5b74-41f3-95c5-22c1edc3c924-000000",
        "source": "hello@rekindle.localhost",
        "sourceArn": "arn:aws:ses:us-west-2:123456789012:identity/rekindle.localhost",
        "sendingAccountId": "123456789012",
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "Rekindle <hello@rekindle.localhost>"},
            {"name": "To", "value": recipient},
            {"name": "Message-ID", "value": message_id},
        ],
        "commonHeaders": {
            "from": ["Rekindle <hello@rekindle.localhost>"],
            "to": [recipient],
            "messageId": message_id,
            "subject": "We miss you",
        },
    }


def ses_bounce(recipient: str, message_id: str, bounce_type: str = "Permanent") -> dict[str, Any]:
    sub_type = "General" if bounce_type == "Permanent" else "MailboxFull"
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": sub_type,
            "bouncedRecipients": [
                {
                    "emailAddress": recipient,
                    "action": "failed",
                    "status": "5.1.1" if bounce_type == "Permanent" else "4.2.2",
                    "diagnosticCode": f"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected",
                }
            ],
            "timestamp": "2026-12-02T15:40:11.000Z",
            "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
            "remoteMtaIp": "127.0.2.0",
            "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        },
        "mail": _mail(recipient, message_id),
    }


def ses_complaint(recipient: str, message_id: str) -> dict[str, Any]:
    return {
        "notificationType": "Complaint",
        "complaint": {
            "userAgent": "AnyCompany Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": recipient}],
            "complaintFeedbackType": "abuse",
            "arrivalDate": "2026-12-02T15:40:11.000Z",
            "timestamp": "2026-12-02T15:40:11.500Z",
            "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
        },
        "mail": _mail(recipient, message_id),
    }


def ses_delivery(recipient: str, message_id: str) -> dict[str, Any]:
    return {
        "notificationType": "Delivery",
        "mail": _mail(recipient, message_id),
        "delivery": {
            "timestamp": "2026-12-02T15:40:11.000Z",
            "processingTimeMillis": 546,
            "recipients": [recipient],
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
            "remoteMtaIp": "127.0.2.0",
        },
    }


# ---- SendGrid --------------------------------------------------------------------------------


@dataclass
class SendGridSigner:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_key(self) -> str:
        """As SendGrid's settings page shows it: base64 DER SubjectPublicKeyInfo."""
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(timestamp if timestamp is not None else int(datetime.now(UTC).timestamp()))
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            "content-type": "application/json",
        }


def sendgrid_event(kind: str, recipient: str, message_id: str, event_id: str, **extra: Any) -> dict[str, Any]:
    """An event as in SendGrid's Event Webhook reference."""
    event = {
        "email": recipient,
        "timestamp": 1764690012,
        "smtp-id": message_id,
        "event": kind,
        "category": ["winback"],
        "sg_event_id": event_id,
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    }
    if kind == "bounce":
        event.update(
            reason="500 unknown recipient",
            status="5.0.0",
            type="bounce",
            bounce_classification="Invalid Address",
        )
    if kind == "delivered":
        event.update(response="250 OK", ip="168.1.1.1", tls=1)
    return {**event, **extra}


# ---- Postmark --------------------------------------------------------------------------------


def postmark_bounce(
    recipient: str, bounce_id: int, kind: str = "HardBounce", code: int = 1
) -> dict[str, Any]:
    return {
        "RecordType": "Bounce",
        "MessageStream": "outbound",
        "ID": bounce_id,
        "Type": kind,
        "TypeCode": code,
        "Name": "Hard bounce",
        "Tag": "winback",
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {},
        "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "Test bounce details",
        "Email": recipient,
        "From": "hello@rekindle.localhost",
        "BouncedAt": "2026-12-02T15:40:11.9070259Z",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "We miss you",
        "Content": "Return-Path:...",
    }


def postmark_spam_complaint(recipient: str, complaint_id: int) -> dict[str, Any]:
    return {
        **postmark_bounce(recipient, complaint_id, "SpamComplaint", 512),
        "RecordType": "SpamComplaint",
        "Name": "Spam complaint",
        "Description": "The subscriber explicitly marked this message as spam.",
    }


def postmark_delivery(recipient: str) -> dict[str, Any]:
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": "00000000-0000-0000-0000-000000000000",
        "Recipient": recipient,
        "Tag": "winback",
        "DeliveredAt": "2026-12-02T15:40:11.5070259Z",
        "Details": "Test delivery webhook details",
        "Metadata": {},
    }
