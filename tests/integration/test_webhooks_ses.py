"""Amazon SES through an SNS HTTPS subscription: confirmation, signatures (v1 SHA1, v2 SHA256),
bounces, complaints and deliveries with AWS's documented notification shapes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from core.domain.feedback import BadSignature
from core.domain.feedback.sns import trusted_url
from core.runtime.settings import Settings
from tests.fakes.providers import FakeSns, fake_sns, ses_bounce, ses_complaint, ses_delivery
from tests.helpers import eventually, unique_id
from tests.integration.conftest import Stack
from tests.integration.feedback_helpers import (
    count_all_delivery_events,
    delivery_events,
    feedback_settings,
    sent_email,
    signals,
    suppression_reasons,
    timeline,
)

pytestmark = pytest.mark.temporal


@pytest.fixture
async def sns() -> AsyncIterator[FakeSns]:
    async with fake_sns() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, sns: FakeSns) -> Settings:
    return feedback_settings(settings, sns, None)


async def test_ses_subscription_is_confirmed_through_the_subscribe_url(stack: Stack, sns: FakeSns) -> None:
    response = await stack.anon.post("/v1/webhooks/ses", content=sns.subscription_confirmation("tok-1"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "subscription_confirmed"
    assert sns.confirmations == ["tok-1"]


@pytest.mark.parametrize("version", [1, 2])
async def test_ses_hard_bounce_suppresses_and_tells_the_workflow_once(
    stack: Stack, sns: FakeSns, version: int
) -> None:
    sent = await sent_email(stack.sessions, stack.settings)
    body = sns.notification(ses_bounce(sent.address, sent.message_id), unique_id("sns"), version)
    first = await stack.anon.post("/v1/webhooks/ses", content=body)
    assert first.status_code == 200, first.text
    assert first.json() == {"status": "accepted", "events": 1, "recorded": 1}
    again = await stack.anon.post("/v1/webhooks/ses", content=body)
    assert again.json() == {"status": "accepted", "events": 1, "recorded": 0}

    assert await delivery_events(stack.sessions, sent.client_id) == [("ses", "hard_bounce")]
    assert await suppression_reasons(stack.sessions, sent.client_id) == {"bounced"}
    assert "bounced" in await timeline(stack.sessions, sent.email_id)
    assert (await signals(stack.temporal, sent.client_id))[0] == "unsubscribed"
    state = await eventually(lambda: _state(stack, sent.client_id), timeout=30)
    assert state["bounced"] is True


async def _state(stack: Stack, client_id: str) -> dict[str, object] | None:
    response = await stack.http.get(f"/v1/clients/{client_id}")
    live = response.json().get("live_state")
    return live if live and live.get("bounced") else None


async def test_ses_complaint_unsubscribes(stack: Stack, sns: FakeSns) -> None:
    sent = await sent_email(stack.sessions, stack.settings)
    body = sns.notification(ses_complaint(sent.address, sent.message_id), unique_id("sns"), 2)
    response = await stack.anon.post("/v1/webhooks/ses", content=body)
    assert response.status_code == 200, response.text
    assert await suppression_reasons(stack.sessions, sent.client_id) == {"unsubscribed"}
    assert "complained" in await timeline(stack.sessions, sent.email_id)
    assert await signals(stack.temporal, sent.client_id) == ["unsubscribed"]


async def test_ses_delivery_is_on_the_timeline_and_suppresses_nothing(stack: Stack, sns: FakeSns) -> None:
    sent = await sent_email(stack.sessions, stack.settings)
    body = sns.notification(ses_delivery(sent.address, sent.message_id), unique_id("sns"))
    response = await stack.anon.post("/v1/webhooks/ses", content=body)
    assert response.status_code == 200, response.text
    assert "delivered" in await timeline(stack.sessions, sent.email_id)
    assert await suppression_reasons(stack.sessions, sent.client_id) == set()
    detail = await stack.http.get(f"/v1/emails/{sent.email_id}")
    assert "delivered" in detail.text


async def test_ses_soft_bounces_suppress_after_the_limit(stack: Stack, sns: FakeSns) -> None:
    sent = await sent_email(stack.sessions, stack.settings)  # the limit is 2 in these settings
    for expected in (set(), {"bounced"}):
        body = sns.notification(ses_bounce(sent.address, sent.message_id, "Transient"), unique_id("sns"))
        assert (await stack.anon.post("/v1/webhooks/ses", content=body)).status_code == 200
        assert await suppression_reasons(stack.sessions, sent.client_id) == expected


@pytest.mark.parametrize("forgery", ["other-key", "tampered", "foreign-cert-host", "bad-version"])
async def test_ses_forged_notification_is_401_and_nothing_recorded(
    stack: Stack, sns: FakeSns, forgery: str
) -> None:
    sent = await sent_email(stack.sessions, stack.settings)
    good = sns.notification(ses_bounce(sent.address, sent.message_id), unique_id("sns"))
    if forgery == "other-key":
        message = json.loads(good)
        del message["Signature"]
        body = sns.sign(message, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif forgery == "tampered":
        body = good.replace(b"Permanent", b"Transient")
    elif forgery == "foreign-cert-host":
        body = good.replace(sns.base_url.encode(), b"https://sns.us-west-2.evil.example.com")
    else:
        body = good.replace(b'"SignatureVersion": "1"', b'"SignatureVersion": "3"')
    response = await stack.anon.post("/v1/webhooks/ses", content=body)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "bad_signature"
    assert await count_all_delivery_events(stack.sessions) == 0
    assert await suppression_reasons(stack.sessions, sent.client_id) == set()


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
        ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
        ("https://sns.us-east-1.amazonaws.com.evil.example/x.pem", False),
        ("https://evil.example/?sns.us-east-1.amazonaws.com", False),
        ("https://user@sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com:8443/x.pem", False),
    ],
)
def test_sns_certificate_urls_only_from_amazon_sns_hosts(url: str, trusted: bool) -> None:
    if trusted:
        assert trusted_url(url) == url
    else:
        with pytest.raises(BadSignature):
            trusted_url(url)
