"""SendGrid's signed Event Webhook and Postmark's authenticated bounce/spam/delivery webhooks,
with the providers' documented sample events and forged signatures or credentials."""

from __future__ import annotations

import json

import pytest

from core.runtime.settings import Settings
from tests.fakes.providers import (
    SendGridSigner,
    postmark_bounce,
    postmark_delivery,
    postmark_spam_complaint,
    sendgrid_event,
)
from tests.helpers import unique_id
from tests.integration.conftest import Stack
from tests.integration.feedback_helpers import (
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    basic,
    count_all_delivery_events,
    delivery_events,
    feedback_settings,
    sent_email,
    signals,
    suppression_reasons,
    timeline,
)

pytestmark = pytest.mark.temporal
SIGNER = SendGridSigner()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return feedback_settings(settings, None, SIGNER)


async def test_sendgrid_batch_of_delivered_bounce_and_spamreport(stack: Stack) -> None:
    bounced = await sent_email(stack.sessions, stack.settings)
    complained = await sent_email(stack.sessions, stack.settings)
    events = [
        sendgrid_event("processed", bounced.address, bounced.message_id, unique_id("sg")),
        sendgrid_event("delivered", complained.address, complained.message_id, unique_id("sg")),
        sendgrid_event("bounce", bounced.address, bounced.message_id, unique_id("sg")),
        sendgrid_event("spamreport", complained.address, complained.message_id, unique_id("sg")),
        sendgrid_event("open", complained.address, complained.message_id, unique_id("sg")),
    ]
    body = json.dumps(events).encode()
    response = await stack.anon.post("/v1/webhooks/sendgrid", content=body, headers=SIGNER.headers(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "accepted", "events": 3, "recorded": 3}
    again = await stack.anon.post("/v1/webhooks/sendgrid", content=body, headers=SIGNER.headers(body))
    assert again.json()["recorded"] == 0

    assert await suppression_reasons(stack.sessions, bounced.client_id) == {"bounced"}
    assert await suppression_reasons(stack.sessions, complained.client_id) == {"unsubscribed"}
    assert "bounced" in await timeline(stack.sessions, bounced.email_id)
    assert {"delivered", "complained"} <= set(await timeline(stack.sessions, complained.email_id))
    assert await signals(stack.temporal, bounced.client_id) == ["unsubscribed", "unsubscribed"]


@pytest.mark.parametrize("forgery", ["other-key", "tampered", "old-timestamp", "missing", "garbage"])
async def test_sendgrid_forged_signature_is_401_and_nothing_recorded(stack: Stack, forgery: str) -> None:
    sent = await sent_email(stack.sessions, stack.settings)
    body = json.dumps([sendgrid_event("bounce", sent.address, sent.message_id, unique_id("sg"))]).encode()
    headers = {
        "other-key": SendGridSigner().headers(body),
        "tampered": SIGNER.headers(body.replace(b"bounce", b"delivered")),
        "old-timestamp": SIGNER.headers(body, timestamp=1588788367),
        "missing": {"content-type": "application/json"},
        "garbage": {**SIGNER.headers(body), "X-Twilio-Email-Event-Webhook-Signature": "not base64!"},
    }[forgery]
    response = await stack.anon.post("/v1/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == 401, response.text
    assert await count_all_delivery_events(stack.sessions) == 0
    assert await suppression_reasons(stack.sessions, sent.client_id) == set()


async def test_postmark_bounce_complaint_and_delivery(stack: Stack) -> None:
    auth = basic(POSTMARK_USER, POSTMARK_PASSWORD)
    bounced = await sent_email(stack.sessions, stack.settings)
    complained = await sent_email(stack.sessions, stack.settings)
    for record in (
        postmark_delivery(complained.address),
        postmark_bounce(bounced.address, 4323372036854775807),
        postmark_spam_complaint(complained.address, 4323372036854775808),
        postmark_bounce(bounced.address, 4323372036854775807),  # Postmark retried: no change
    ):
        response = await stack.anon.post("/v1/webhooks/postmark", json=record, headers=auth)
        assert response.status_code == 200, response.text
    assert await delivery_events(stack.sessions, bounced.client_id) == [("postmark", "hard_bounce")]
    assert await delivery_events(stack.sessions, complained.client_id) == [
        ("postmark", "delivered"),
        ("postmark", "complaint"),
    ]
    assert await suppression_reasons(stack.sessions, bounced.client_id) == {"bounced"}
    assert await suppression_reasons(stack.sessions, complained.client_id) == {"unsubscribed"}
    assert "bounced" in await timeline(stack.sessions, bounced.email_id)


@pytest.mark.parametrize("auth", [None, ("postmark", "wrong"), ("someone", POSTMARK_PASSWORD)])
async def test_postmark_without_the_credentials_is_401(stack: Stack, auth: tuple[str, str] | None) -> None:
    sent = await sent_email(stack.sessions, stack.settings)
    headers = basic(*auth) if auth else {}
    record = postmark_bounce(sent.address, 77)
    response = await stack.anon.post("/v1/webhooks/postmark", json=record, headers=headers)
    assert response.status_code == 401
    assert await count_all_delivery_events(stack.sessions) == 0


async def test_postmark_bad_payload_is_422_with_the_field(stack: Stack) -> None:
    auth = basic(POSTMARK_USER, POSTMARK_PASSWORD)
    record = {**postmark_bounce("x@example.com", 78), "BouncedAt": "yesterday"}
    response = await stack.anon.post("/v1/webhooks/postmark", json=record, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "body.BouncedAt"
