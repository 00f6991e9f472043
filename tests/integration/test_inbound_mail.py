"""Mail that comes back: RFC 3464 DSNs and mails to the unsubscribe address, sent over SMTP to
the dev sink, which hands them to the API; and Postmark's inbound webhook."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from cli.mailsink import Forward, read_sink, start_sink
from core.domain.tokens import make_unsubscribe_token
from core.runtime.settings import Settings
from core.store.models import Client
from tests.helpers import eventually, free_port, unique_id
from tests.integration.api_factories import add_client
from tests.integration.conftest import Stack
from tests.integration.feedback_helpers import (
    INBOUND_PASSWORD,
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    Sent,
    basic,
    consent_sources,
    delivery_events,
    feedback_settings,
    sent_email,
    signals,
    suppression_reasons,
    timeline,
)

pytestmark = pytest.mark.temporal
BOUNCES_TO = "hello@rekindle.localhost"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return feedback_settings(settings, None, None)


@pytest.fixture
def sink(stack: Stack, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """The dev stack's sink, handing mail for Rekindle to this test's API."""
    port, folder = free_port(), tmp_path / "mail"
    forward = Forward(
        url=f"{stack.base_url}/v1/webhooks/inbound-mail",
        username=stack.settings.feedback.inbound_username,
        password=INBOUND_PASSWORD,
        addresses=frozenset({BOUNCES_TO, stack.settings.smtp.unsubscribe_mailto}),
    )
    controller = start_sink(folder, "127.0.0.1", port, forward)
    yield port, folder
    controller.stop()


def dsn(sent: Sent, action: str = "failed", status: str = "5.1.1", dsn_id: str = "") -> bytes:
    """A bounce as Postfix writes it (RFC 3464), quoting our original message's headers."""
    boundary = "6A2C3F1B2D.1764690012/mx.example.com"
    return (
        f"From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\r\n"
        f"To: {BOUNCES_TO}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: Wed, 02 Dec 2026 15:40:12 +0000\r\n"
        f"Message-ID: <{dsn_id or unique_id('dsn')}@mx.example.com>\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n"
        f"--{boundary}\r\n"
        f"Content-Description: Notification\r\n"
        f"Content-Type: text/plain; charset=us-ascii\r\n"
        f"\r\n"
        f"This is the mail system at host mx.example.com.\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"\r\n"
        f"--{boundary}\r\n"
        f"Content-Description: Delivery report\r\n"
        f"Content-Type: message/delivery-status\r\n"
        f"\r\n"
        f"Reporting-MTA: dns; mx.example.com\r\n"
        f"X-Postfix-Queue-ID: 6A2C3F1B2D\r\n"
        f"Arrival-Date: Wed, 02 Dec 2026 15:40:10 +0000\r\n"
        f"\r\n"
        f"Final-Recipient: rfc822; {sent.address}\r\n"
        f"Original-Recipient: rfc822;{sent.address}\r\n"
        f"Action: {action}\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mail.example.com\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{sent.address}>: Recipient address rejected\r\n"
        f"\r\n"
        f"--{boundary}\r\n"
        f"Content-Description: Undelivered Message Headers\r\n"
        f"Content-Type: text/rfc822-headers\r\n"
        f"\r\n"
        f"From: Rekindle <hello@rekindle.localhost>\r\n"
        f"To: {sent.address}\r\n"
        f"Subject: We miss you\r\n"
        f"Message-ID: {sent.message_id}\r\n"
        f"\r\n"
        f"--{boundary}--\r\n"
    ).encode()


async def _send(port: int, sender: str, recipient: str, raw: bytes) -> None:
    """Over SMTP; a DSN has the null sender ``MAIL FROM:<>`` (stdlib smtplib sends it, aiosmtplib won't)."""

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail(sender, [recipient], raw)

    await asyncio.to_thread(send)


async def test_dsn_hard_bounce_through_the_sink_suppresses_once(stack: Stack, sink: tuple[int, Path]) -> None:
    port, folder = sink
    sent = await sent_email(stack.sessions, stack.settings)
    message = dsn(sent, dsn_id="same-bounce")
    await _send(port, "", BOUNCES_TO, message)
    await eventually(lambda: suppression_reasons(stack.sessions, sent.client_id), timeout=30)
    await _send(port, "", BOUNCES_TO, message)  # the same DSN again changes nothing
    await eventually(lambda: len(read_sink(folder)) == 2, timeout=30)
    assert await suppression_reasons(stack.sessions, sent.client_id) == {"bounced"}
    assert await delivery_events(stack.sessions, sent.client_id) == [("dsn", "hard_bounce")]
    assert "bounced" in await timeline(stack.sessions, sent.email_id)
    assert (await signals(stack.temporal, sent.client_id))[:1] == ["unsubscribed"]


async def test_dsn_delay_is_a_soft_bounce(stack: Stack, sink: tuple[int, Path]) -> None:
    port, _folder = sink
    sent = await sent_email(stack.sessions, stack.settings)
    await _send(port, "", BOUNCES_TO, dsn(sent, action="delayed", status="4.4.7"))
    events = await eventually(lambda: delivery_events(stack.sessions, sent.client_id), timeout=30)
    assert events == [("dsn", "soft_bounce")]
    assert await suppression_reasons(stack.sessions, sent.client_id) == set()


async def test_mail_to_the_unsubscribe_address_unsubscribes_the_token_s_client(
    stack: Stack, sink: tuple[int, Path]
) -> None:
    port, _folder = sink
    cid = unique_id("m")
    await add_client(stack.sessions, cid, email="anna@example.com")
    token = make_unsubscribe_token(cid, stack.settings.security.unsubscribe_secret.get_secret_value())
    to = stack.settings.smtp.unsubscribe_mailto
    raw = f"From: anna@example.com\r\nTo: {to}\r\nSubject: unsubscribe-{token}\r\n\r\n\r\n".encode()
    await _send(port, "anna@example.com", to, raw)
    assert await eventually(lambda: suppression_reasons(stack.sessions, cid), timeout=30) == {"unsubscribed"}
    assert await consent_sources(stack.sessions, cid) == [("unsubscribed", "mailto")]
    async with stack.sessions() as session:
        assert (await session.scalar(select(Client.unsubscribed_at).where(Client.id == cid))) is not None
    assert await signals(stack.temporal, cid) == ["unsubscribed"]


async def test_inbound_mail_needs_its_credentials_and_a_genuine_token(stack: Stack) -> None:
    cid = unique_id("m")
    forged = make_unsubscribe_token(cid, "not-our-secret")
    raw = f"From: x@example.com\r\nSubject: unsubscribe-{forged}\r\n\r\n".encode()
    no_auth = await stack.anon.post("/v1/webhooks/inbound-mail", content=raw)
    assert no_auth.status_code == 401
    auth = basic(stack.settings.feedback.inbound_username, INBOUND_PASSWORD)
    ignored = await stack.anon.post("/v1/webhooks/inbound-mail", content=raw, headers=auth)
    assert ignored.json() == {"status": "ignored", "events": 0, "recorded": 0}
    assert await suppression_reasons(stack.sessions, cid) == set()


async def test_postmark_inbound_unsubscribes(stack: Stack) -> None:
    cid = unique_id("pm")
    token = make_unsubscribe_token(cid, stack.settings.security.unsubscribe_secret.get_secret_value())
    record = {
        "FromName": "Anna",
        "MessageStream": "inbound",
        "From": "anna@example.com",
        "FromFull": {"Email": "anna@example.com", "Name": "Anna", "MailboxHash": ""},
        "To": stack.settings.smtp.unsubscribe_mailto,
        "ToFull": [{"Email": stack.settings.smtp.unsubscribe_mailto, "Name": "", "MailboxHash": ""}],
        "Subject": f"unsubscribe-{token}",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "Date": "Wed, 2 Dec 2026 15:40:12 +0000",
        "TextBody": "",
        "HtmlBody": "",
        "Headers": [],
        "Attachments": [],
    }
    auth = basic(POSTMARK_USER, POSTMARK_PASSWORD)
    response = await stack.anon.post("/v1/webhooks/postmark-inbound", json=record, headers=auth)
    assert response.json()["status"] == "unsubscribed", response.text
    assert await consent_sources(stack.sessions, cid) == [("unsubscribed", "mailto")]
